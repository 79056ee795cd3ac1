"""Alert templates edited from the emergency panel: school admins edit their school's,
organisation admins the district's; safety officers and other schools get nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client

from hallboard.alerts import builtins
from hallboard.alerts.models import AlertTemplate
from tests.conftest import Tenant, make_user, sample, signed_in


def _form(template: AlertTemplate | None = None, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "label": "Lockdown",
        "kind": "lockdown",
        "severity": "extreme",
        "headline": "Lockdown",
        "instructions": "Lock the doors.",
        "position": 1,
    }
    if template is not None:
        data.update(
            {f: getattr(template, f) for f in ("label", "kind", "severity", "headline")},
            instructions=template.instructions,
            position=template.position,
        )
        if template.hidden:
            data["hidden"] = "on"
    data.update(fields)
    return data


def _panel_labels(client: Client, slug: str) -> list[str]:
    page = client.get(f"/staff/emergency/{slug}/").content.decode()
    found = re.search(r'<script id="emergency-config"[^>]*>(.*?)</script>', page, re.S)
    assert found is not None
    config = json.loads(found.group(1))
    return [t["label"] for t in config["templates"]]


def _district(tenant: Tenant, label: str = "Gas leak") -> AlertTemplate:
    return AlertTemplate.objects.create(
        organisation=tenant.organisation, label=label, kind="other", headline=label
    )


def test_a_school_admin_rewords_and_hides_from_the_panel(tenant: Tenant) -> None:
    """The panel links a school admin to the templates page; a change made there is what the
    panel's buttons show, and a hidden template leaves the panel."""
    client = signed_in(make_user("head", "admin", school=tenant.school))
    panel = client.get("/staff/emergency/alpha/").content.decode()
    assert 'href="/staff/emergency/alpha/templates/"' in panel
    listing = client.get("/staff/emergency/alpha/templates/")
    assert listing.status_code == 200
    builtins.seed(tenant.school)
    lockdown = AlertTemplate.objects.get(school=tenant.school, builtin="lockdown")
    fire = AlertTemplate.objects.get(school=tenant.school, builtin="fire")
    assert f"/staff/emergency/alpha/templates/{lockdown.pk}" in listing.content.decode()
    url = f"/staff/emergency/alpha/templates/{lockdown.pk}"
    assert client.get(url).status_code == 200
    saved = client.post(url, _form(lockdown, label="LOCKDOWN NOW", headline="Doors shut"))
    assert saved.status_code == 302
    assert saved["Location"] == "/staff/emergency/alpha/templates/"
    lockdown.refresh_from_db()
    assert (lockdown.label, lockdown.headline, lockdown.builtin) == (
        "LOCKDOWN NOW",
        "Doors shut",
        "lockdown",
    )
    hidden = client.post(f"/staff/emergency/alpha/templates/{fire.pk}", _form(fire, hidden="on"))
    assert hidden.status_code == 302
    labels = _panel_labels(client, "alpha")
    assert "LOCKDOWN NOW" in labels
    assert fire.label not in labels


def test_a_school_admin_adds_the_school_s_own_with_a_chosen_kind(tenant: Tenant) -> None:
    """Adding makes a template of the school (never a district one for a school admin); the
    kind must be chosen, none is preset."""
    client = signed_in(make_user("head", "admin", school=tenant.school))
    add = "/staff/emergency/alpha/templates/new"
    page = client.get(add).content.decode()
    assert 'name="district"' not in page
    assert '<option value="" selected>' in page
    refused = client.post(add, _form(label="Intruder", kind=""))
    assert refused.status_code == 200
    assert not AlertTemplate.objects.filter(label="Intruder").exists()
    made = client.post(add, _form(label="Intruder", kind="lockdown", district="on"))
    assert made.status_code == 302
    intruder = AlertTemplate.objects.get(label="Intruder")
    assert (intruder.school, intruder.organisation) == (tenant.school, tenant.organisation)
    assert "Intruder" in _panel_labels(client, "alpha")
    assert "Intruder" not in _panel_labels(
        signed_in(make_user("beta-head", "admin", school=tenant.other_school)), "beta"
    )


def test_safety_officers_and_other_roles_do_not_edit_templates(tenant: Tenant) -> None:
    """A safety officer sends alerts but gets no edit link and is refused (403) on the
    templates pages, each refusal counted; so is every role without the manage right."""
    before = sample("hallboard_staff_refusals_total", page="emergency-templates", error="forbidden")
    builtins.seed(tenant.school)
    lockdown = AlertTemplate.objects.get(school=tenant.school, builtin="lockdown")
    safety = signed_in(make_user("officer", "safety", school=tenant.school))
    assert "/templates/" not in safety.get("/staff/emergency/alpha/").content.decode()
    for role in ("safety", "office", "timetabler", "viewer"):
        client = signed_in(make_user(f"u-{role}", role, school=tenant.school))
        assert client.get("/staff/emergency/alpha/templates/").status_code == 403
        assert client.get("/staff/emergency/alpha/templates/new").status_code == 403
        url = f"/staff/emergency/alpha/templates/{lockdown.pk}"
        assert client.post(url, _form(lockdown, label="Hacked")).status_code == 403
    lockdown.refresh_from_db()
    assert lockdown.label != "Hacked"
    after = sample("hallboard_staff_refusals_total", page="emergency-templates", error="forbidden")
    assert after == before + 12


def test_another_school_s_template_is_not_reachable(tenant: Tenant) -> None:
    """A template of another school is 404 through this school's page, and the other school's
    page is 404 to an admin who may not see it."""
    builtins.seed(tenant.other_school)
    theirs = AlertTemplate.objects.get(school=tenant.other_school, builtin="fire")
    client = signed_in(make_user("head", "admin", school=tenant.school))
    url = f"/staff/emergency/alpha/templates/{theirs.pk}"
    assert client.post(url, _form(theirs, label="Mine now")).status_code == 404
    assert client.get("/staff/emergency/beta/templates/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.label != "Mine now"


def test_district_templates_are_for_organisation_admins(tenant: Tenant) -> None:
    """A district template is listed read-only to a school admin (403 on change); an
    organisation admin changes it and adds new ones for every school."""
    gas = _district(tenant)
    school_admin = signed_in(make_user("head", "admin", school=tenant.school))
    listing = school_admin.get("/staff/emergency/alpha/templates/").content.decode()
    assert "Gas leak" in listing
    assert f"/staff/emergency/alpha/templates/{gas.pk}" not in listing
    url = f"/staff/emergency/alpha/templates/{gas.pk}"
    assert school_admin.post(url, _form(gas, label="Changed")).status_code == 403
    gas.refresh_from_db()
    assert gas.label == "Gas leak"

    district = signed_in(make_user("district", "admin", organisation=tenant.organisation))
    listing = district.get("/staff/emergency/alpha/templates/").content.decode()
    assert f"/staff/emergency/alpha/templates/{gas.pk}" in listing
    assert district.post(url, _form(gas, label="Gas smell")).status_code == 302
    gas.refresh_from_db()
    assert (gas.label, gas.school) == ("Gas smell", None)
    add = "/staff/emergency/alpha/templates/new"
    assert 'name="district"' in district.get(add).content.decode()
    made = district.post(add, _form(label="Flood", kind="weather", district="on"))
    assert made.status_code == 302
    flood = AlertTemplate.objects.get(label="Flood")
    assert (flood.school, flood.organisation) == (None, tenant.organisation)
    assert "Flood" in _panel_labels(district, "beta")
