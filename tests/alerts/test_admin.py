"""Alerts in the admin: every change through the service, reach and audit on the page,
the audit log scoped by school and role."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from hallboard.alerts import delivery
from hallboard.alerts.models import Alert, AlertAuditEntry
from tests.alerts.conftest import make_member, signed_in
from tests.conftest import Tenant, make_screen

pytestmark = pytest.mark.django_db

ADD = "/admin/alerts/alert/add/"


def add_form(tenant: Tenant, school: Any = "alpha", **fields: Any) -> dict[str, Any]:
    data = {
        "organisation": tenant.organisation.pk,
        "school": (tenant.school if school == "alpha" else school).pk if school else "",
        "kind": "lockdown",
        "severity": "extreme",
        "headline": "Lockdown",
        "instructions": "Lock the doors.",
        "starts_at_0": "2026-11-23",
        "starts_at_1": "08:00:00",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    data.update(fields)
    return data


@pytest.mark.parametrize("role", ["safety", "admin"])
def test_triggering_in_the_admin_is_audited(tenant: Tenant, role: str) -> None:
    """An alert added in the admin is in the audit log as the user, from the admin."""
    make_screen(tenant.school)
    user = make_member(tenant.school, role)
    response = signed_in(user).post(ADD, add_form(tenant))
    assert response.status_code == 302, response.content.decode()[:2000]
    alert = Alert.objects.get()
    assert alert.created_by == user
    entry = AlertAuditEntry.objects.get()
    assert (entry.alert, entry.action, entry.source, entry.actor_user) == (
        alert,
        "trigger",
        "admin",
        user,
    )
    assert entry.screens_in_scope == 1


@pytest.mark.parametrize("role", ["office", "timetabler", "viewer"])
def test_other_roles_cannot_trigger_or_end_alerts_in_the_admin(tenant: Tenant, role: str) -> None:
    """Without the alert right, adding is refused and the end actions change nothing."""
    alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Fire"
    )
    client = signed_in(make_member(tenant.school, role))
    assert client.post(ADD, add_form(tenant, headline="Sneaky")).status_code == 403
    for action in ("all_clear", "cancel_alerts"):
        client.post("/admin/alerts/alert/", {"action": action, "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.cleared_at is None
    assert not Alert.objects.filter(headline="Sneaky").exists()
    assert not AlertAuditEntry.objects.exists()


def test_organisation_alert_from_the_admin(tenant: Tenant) -> None:
    """A safety officer of alpha may raise an alert for the whole organisation, not for beta."""
    client = signed_in(make_member(tenant.school, "safety"))
    assert client.post(ADD, add_form(tenant, school=None)).status_code == 302
    assert Alert.objects.get().school is None
    refused = client.post(ADD, add_form(tenant, school=tenant.other_school, headline="Beta"))
    assert refused.status_code == 200  # beta is not a choice
    assert not Alert.objects.filter(headline="Beta").exists()


def test_changing_an_alert_is_audited_with_what_changed(tenant: Tenant) -> None:
    """Saving the change form updates through the service; the entry lists the changes."""
    user = make_member(tenant.school, "safety")
    client = signed_in(user)
    client.post(ADD, add_form(tenant))
    alert = Alert.objects.get()
    response = client.post(
        f"/admin/alerts/alert/{alert.pk}/change/", add_form(tenant, headline="Lockdown lifted")
    )
    assert response.status_code == 302
    update = AlertAuditEntry.objects.get(action="update")
    assert update.changes == {"headline": ["Lockdown", "Lockdown lifted"]}


def test_all_clear_and_cancel_actions_are_audited(tenant: Tenant) -> None:
    """The admin's all-clear and cancel actions end alerts and write audit entries."""
    first = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="A"
    )
    second = Alert.objects.create(organisation=tenant.organisation, school=None, headline="B")
    client = signed_in(make_member(tenant.school, "safety"))
    client.post("/admin/alerts/alert/", {"action": "all_clear", "_selected_action": [first.pk]})
    client.post(
        "/admin/alerts/alert/", {"action": "cancel_alerts", "_selected_action": [second.pk]}
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.cleared_at is not None
    assert not first.cancelled
    assert second.cleared_at is not None
    assert second.cancelled
    assert set(AlertAuditEntry.objects.values_list("alert_id", "action")) == {
        (first.pk, "clear"),
        (second.pk, "cancel"),
    }


def test_the_alert_page_shows_reach_and_audit_read_only(tenant: Tenant) -> None:
    """The alert page says how many screens showed it, names the others with their status,
    and lists the audit trail; an ended alert is read-only and never deletable."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    make_screen(tenant.other_school, name="Canteen")
    user = make_member(tenant.school, "safety", username="sam")
    client = signed_in(user)
    client.post(ADD, add_form(tenant, school=None))
    alert = Alert.objects.get()
    delivery.record_receipt(hall.pk, alert.pk, "shown", "ws")
    page = client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "Shown on <b>1</b> of 3 screens" in page
    assert "Gym (alpha): offline, never connected" in page
    assert "Canteen" not in page  # beta's screen: only counted
    assert "1 more in schools where you lack the alert right." in page
    assert "Triggered" in page
    assert "sam" in page

    client.post("/admin/alerts/alert/", {"action": "all_clear", "_selected_action": [alert.pk]})
    ended = client.get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert ended.context["has_change_permission"] is False
    assert "End acknowledged by <b>0</b> screens." in ended.content.decode()
    assert client.get(f"/admin/alerts/alert/{alert.pk}/delete/").status_code == 403
    root = get_user_model().objects.create_superuser("root", "r@example.org", "a-long-password")
    assert signed_in(root).get(f"/admin/alerts/alert/{alert.pk}/delete/").status_code == 403
    superuser_page = signed_in(root).get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert "Canteen (beta)" in superuser_page.content.decode()


def test_audit_log_list_is_scoped_and_read_only(tenant: Tenant) -> None:
    """Alpha's members see alpha's and organisation-wide entries, never beta's own; nobody
    can add, change or delete an entry."""
    beta_user = make_member(tenant.other_school, "safety")
    beta = signed_in(beta_user)
    beta.post(ADD, add_form(tenant, school=tenant.other_school, headline="Beta only"))
    beta.post(ADD, add_form(tenant, school=None, headline="Everyone"))
    alpha = signed_in(make_member(tenant.school, "viewer"))
    listing = alpha.get("/admin/alerts/alertauditentry/")
    assert listing.status_code == 200
    assert [e.headline for e in listing.context["cl"].result_list] == ["Everyone"]
    theirs = AlertAuditEntry.objects.get(headline="Beta only")
    assert alpha.get(f"/admin/alerts/alertauditentry/{theirs.pk}/change/").status_code in (
        302,
        403,
        404,
    )
    mine = AlertAuditEntry.objects.get(headline="Everyone")
    assert alpha.get(f"/admin/alerts/alertauditentry/{mine.pk}/change/").status_code == 200
    assert beta.get("/admin/alerts/alertauditentry/add/").status_code == 403
    beta.post(f"/admin/alerts/alertauditentry/{mine.pk}/delete/", {"post": "yes"})
    assert AlertAuditEntry.objects.filter(pk=mine.pk).exists()


def test_a_new_alerts_kind_is_chosen_not_preset_to_other(tenant: Tenant) -> None:
    """The add form preselects no kind (not "Other"): sending it without one is refused with
    a form error and raises nothing; an existing alert keeps showing its own kind."""
    client = signed_in(make_member(tenant.school, "safety"))
    page = client.get(ADD).content.decode()
    select = page[page.index('name="kind"') : page.index("</select>", page.index('name="kind"'))]
    assert select.count("<option") == 7  # "Choose the kind of emergency" and the six kinds
    assert select.count("selected") == select.count('value="" selected') == 1
    assert 'value="other"' in select  # still there to choose
    assert "required" in page[page.index('<select name="kind"') : page.index('name="kind"') + 60]
    refused = client.post(ADD, add_form(tenant, kind=""))
    assert refused.status_code == 200
    assert "errorlist" in refused.content.decode()
    assert not Alert.objects.exists()
    assert client.post(ADD, add_form(tenant, kind="fire")).status_code == 302
    alert = Alert.objects.get()
    assert alert.kind == "fire"
    change = client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert 'value="fire" selected' in change


def test_a_school_alert_does_not_ask_for_the_organisation(tenant: Tenant) -> None:
    """A school's alert sent with the organisation left empty takes the school's; only an
    alert for every school (school empty) asks for the organisation."""
    client = signed_in(make_member(tenant.school, "safety"))
    sent = client.post(ADD, add_form(tenant, organisation=""))
    assert sent.status_code == 302, sent.content.decode()[:2000]
    alert = Alert.objects.get()
    assert (alert.school, alert.organisation) == (tenant.school, tenant.organisation)
    unscoped = client.post(ADD, add_form(tenant, school=None, organisation="", headline="All"))
    assert unscoped.status_code == 200
    assert not Alert.objects.filter(headline="All").exists()
