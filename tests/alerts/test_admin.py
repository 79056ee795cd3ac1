"""Alerts in the admin: every change through the service, reach and audit on the page,
the audit log scoped by school and role."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from hallboard.alerts import delivery
from hallboard.alerts.models import Alert, AlertAuditEntry
from tests.alerts.conftest import make_member, signed_in
from tests.conftest import Tenant, make_screen, make_user

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


def test_a_school_role_is_not_offered_the_organisation_scope(tenant: Tenant) -> None:
    """A safety officer of alpha gets neither an organisation field nor an empty school
    ("every school") on the add form; an alert sent with the school empty anyway is a form
    error, in the user's language, and nothing is triggered or audited. Beta is no choice."""
    client = signed_in(make_member(tenant.school, "safety"))
    page = client.get(ADD).content.decode()
    assert 'name="organisation"' not in page
    school = page[
        page.index('name="school"') : page.index("</select>", page.index('name="school"'))
    ]
    assert 'value=""' not in school
    assert f'value="{tenant.school.pk}"' in school

    refused = client.post(ADD, add_form(tenant, school=None))
    assert refused.status_code == 200
    english = (
        "Choose a school: only an organisation role (safety or admin for the whole "
        "organisation) may alert every school of the organisation."
    )
    assert refused.context["adminform"].form.errors["school"] == [english]
    client.cookies["django_language"] = "de"
    german = client.post(ADD, add_form(tenant, school=None))
    with translation.override("de"):
        expected = translation.gettext(english)
    assert expected != english  # translated
    assert german.context["adminform"].form.errors["school"] == [expected]
    assert not Alert.objects.exists()
    assert not AlertAuditEntry.objects.exists()

    client.cookies["django_language"] = "en"
    beta = client.post(ADD, add_form(tenant, school=tenant.other_school, headline="Beta"))
    assert beta.status_code == 200  # beta is not a choice
    assert not Alert.objects.filter(headline="Beta").exists()


@pytest.mark.parametrize("who", ["district", "root"])
def test_organisation_roles_alert_every_school_from_the_admin(tenant: Tenant, who: str) -> None:
    """A district safety officer (an organisation membership) and a superuser choose the
    organisation with the school empty: one alert of every school, which they change and
    end like any other."""
    user = (
        make_user("north-safety", "safety", organisation=tenant.organisation)
        if who == "district"
        else make_user("root", superuser=True)
    )
    client = signed_in(user)
    page = client.get(ADD).content.decode()
    assert 'name="organisation"' in page
    assert client.post(ADD, add_form(tenant, school=None)).status_code == 302
    alert = Alert.objects.get()
    assert (alert.school, alert.organisation) == (None, tenant.organisation)
    changed = client.post(
        f"/admin/alerts/alert/{alert.pk}/change/", add_form(tenant, school=None, headline="Storm")
    )
    assert changed.status_code == 302
    client.post("/admin/alerts/alert/", {"action": "all_clear", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.headline == "Storm"
    assert alert.cleared_at is not None
    assert list(AlertAuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "trigger",
        "update",
        "clear",
    ]


def test_organisation_wide_alerts_are_read_only_for_school_roles(tenant: Tenant) -> None:
    """Alpha's safety officer sees an alert of every school in the list and on its page, but
    read-only: a change sent anyway is refused, and the all-clear and cancel actions leave it
    on, saying why, while a school alert selected with it ends."""
    everyone = Alert.objects.create(organisation=tenant.organisation, headline="Storm")
    own = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Fire"
    )
    client = signed_in(make_member(tenant.school, "safety"))
    listing = client.get("/admin/alerts/alert/")
    assert {a.pk for a in listing.context["cl"].result_list} == {everyone.pk, own.pk}
    page = client.get(f"/admin/alerts/alert/{everyone.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    sent = client.post(
        f"/admin/alerts/alert/{everyone.pk}/change/", add_form(tenant, school=None, headline="X")
    )
    assert sent.status_code == 403

    cancelled = client.post(
        "/admin/alerts/alert/",
        {"action": "cancel_alerts", "_selected_action": [everyone.pk]},
        follow=True,
    )
    said = [str(m) for m in cancelled.context["messages"]]
    assert said == [
        "1 alert reaches every school of the organisation: only an organisation role may end it."
    ]
    cleared = client.post(
        "/admin/alerts/alert/",
        {"action": "all_clear", "_selected_action": [everyone.pk, own.pk]},
        follow=True,
    )
    said = [str(m) for m in cleared.context["messages"]]
    assert said == [
        "1 alert reaches every school of the organisation: only an organisation role may end it.",
        "All-clear sent for 1 alert.",
    ]
    everyone.refresh_from_db()
    own.refresh_from_db()
    assert (everyone.headline, everyone.cleared_at) == ("Storm", None)
    assert own.cleared_at is not None
    assert list(AlertAuditEntry.objects.values_list("alert_id", "action")) == [(own.pk, "clear")]


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
    """The admin's all-clear and cancel actions end alerts (a school's, and by an organisation
    role one of every school) and write audit entries."""
    first = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="A"
    )
    second = Alert.objects.create(organisation=tenant.organisation, school=None, headline="B")
    client = signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
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
    """The alert page says how many screens showed it, names the others with their status
    (of the reader's schools), and lists the audit trail; an ended alert is read-only and never
    deletable."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    make_screen(tenant.other_school, name="Canteen")
    district = signed_in(make_user("sam", "safety", organisation=tenant.organisation))
    district.post(ADD, add_form(tenant, school=None))
    alert = Alert.objects.get()
    delivery.record_receipt(hall.pk, alert.pk, "shown", "ws")
    client = signed_in(make_member(tenant.school, "safety"))
    page = client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "Shown on <b>1</b> of 3 screens" in page
    assert "Gym (alpha): offline, never connected" in page
    assert "Canteen" not in page  # beta's screen: only counted
    assert "1 more in schools where you lack the alert right." in page
    assert "Triggered" in page
    assert "sam" in page

    district.post("/admin/alerts/alert/", {"action": "all_clear", "_selected_action": [alert.pk]})
    ended = district.get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert ended.context["has_change_permission"] is False
    assert "End acknowledged by <b>0</b> screens." in ended.content.decode()
    assert district.get(f"/admin/alerts/alert/{alert.pk}/delete/").status_code == 403
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
    district = signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
    district.post(ADD, add_form(tenant, school=None, headline="Everyone"))
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
    alert for every school (school empty, by an organisation role) asks for the organisation."""
    client = signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
    sent = client.post(ADD, add_form(tenant, organisation=""))
    assert sent.status_code == 302, sent.content.decode()[:2000]
    alert = Alert.objects.get()
    assert (alert.school, alert.organisation) == (tenant.school, tenant.organisation)
    unscoped = client.post(ADD, add_form(tenant, school=None, organisation="", headline="All"))
    assert unscoped.status_code == 200
    assert "organisation" in unscoped.context["adminform"].form.errors
    assert not Alert.objects.filter(headline="All").exists()
