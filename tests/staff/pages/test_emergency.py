"""The emergency panel: who may open it and do what, triggering from a template, reach and
all-clear, and every bad request answered in JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from hallboard.alerts import builtins, delivery
from hallboard.alerts.models import Alert, AlertAuditEntry, AlertTemplate
from hallboard.observability import metrics
from hallboard.screens.models import Command
from tests.conftest import Tenant, make_screen, make_user, signed_in

ROLES_WITHOUT_ALERT = ["office", "timetabler", "viewer"]


def post(client: Client, url: str, data: Any) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json")


def template_of(school: Any, key: str) -> AlertTemplate:
    builtins.seed(school)
    return AlertTemplate.objects.get(school=school, builtin=key)


def trigger(client: Client, school: Any, key: str = "lockdown", **extra: Any) -> Any:
    t = template_of(school, key)
    data = {"template": t.pk, "headline": t.headline, "instructions": t.instructions, **extra}
    return post(client, f"/staff/emergency/{school.slug}/trigger", data)


def test_built_ins_are_seeded_once_in_the_school_s_language(tenant: Tenant) -> None:
    """Five built-ins per school, words from the catalogs in the school's language; seeding
    again creates nothing."""
    tenant.school.language = "de"
    tenant.school.save()
    assert builtins.seed(tenant.school) == 5
    assert builtins.seed(tenant.school) == 0
    keys = list(builtins.templates_for(tenant.school).values_list("builtin", flat=True))
    assert keys == ["lockdown", "evacuation", "fire", "shelter", "weather"]
    lockdown = template_of(tenant.school, "lockdown")
    with translation.override("de"):
        assert lockdown.headline == str(builtins.BUILTINS[0].headline)
    assert lockdown.headline != "Lockdown", "German words, not the English msgid"
    assert template_of(tenant.other_school, "lockdown").headline == "Lockdown"  # English school


def test_district_templates_are_offered_to_every_school_after_the_school_s_own(
    tenant: Tenant,
) -> None:
    """A template without a school is offered on each school's panel; hidden ones are not."""
    district = AlertTemplate.objects.create(
        organisation=tenant.organisation,
        label="Gas leak",
        kind=Alert.Kind.EVACUATION,
        headline="Gas leak",
        position=1,
    )
    AlertTemplate.objects.create(
        organisation=tenant.organisation,
        school=tenant.school,
        label="Hidden",
        kind=Alert.Kind.OTHER,
        headline="x",
        hidden=True,
    )
    for school in (tenant.school, tenant.other_school):
        offered = list(builtins.templates_for(school))
        assert offered[-1] == district
        assert [t.label for t in offered].count("Hidden") == 0


def test_a_safety_officer_triggers_from_a_template_and_gives_the_all_clear(
    tenant: Tenant,
) -> None:
    """Trigger with edited words: one alert for the school, audited as from the panel; the
    state shows it with its reach; the all-clear ends it."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    officer = make_user("alpha-safety", "safety", school=tenant.school)
    client = signed_in(officer)
    assert client.get("/staff/emergency/alpha/").status_code == 200

    response = trigger(client, tenant.school, headline="Lockdown — building A")
    assert response.status_code == 201, response.content
    alert = Alert.objects.get()
    assert (alert.school, alert.kind, alert.severity) == (tenant.school, "lockdown", "extreme")
    assert alert.headline == "Lockdown — building A"
    entry = AlertAuditEntry.objects.get()
    assert (entry.source, entry.actor) == ("panel", "alpha-safety")

    delivery.record_receipt(hall.pk, alert.pk, "shown", "ws")
    state = client.get("/staff/emergency/alpha/state").json()
    [shown] = state["alerts"]
    assert shown["reach"]["in_scope"] == 2
    assert shown["reach"]["shown"] == 1
    assert {(s["name"], s["shown"]) for s in shown["reach"]["screens"]} == {
        ("Hall", True),
        ("Gym", False),
    }
    assert all(s["status"] in ("online", "stale", "offline") for s in shown["reach"]["screens"])

    response = post(client, f"/staff/emergency/alpha/alerts/{alert.pk}/clear", {})
    assert response.status_code == 200
    assert response.json() == {"alerts": []}
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert not alert.cancelled


def test_only_organisation_roles_alert_every_school(tenant: Tenant) -> None:
    """A school's safety officer may not choose the organisation scope (403); a district
    safety officer may, and its alert reaches both schools."""
    school_officer = signed_in(make_user("alpha-safety", "safety", school=tenant.school))
    response = trigger(school_officer, tenant.school, scope="organisation")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert not Alert.objects.exists()

    district = signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
    response = trigger(district, tenant.school, scope="organisation")
    assert response.status_code == 201
    alert = Alert.objects.get()
    assert alert.school is None
    assert alert.organisation == tenant.organisation
    beta = district.get("/staff/emergency/beta/state").json()
    assert [a["id"] for a in beta["alerts"]] == [alert.pk]

    # The school's officer sees it, but may not end it for every school.
    [seen] = school_officer.get("/staff/emergency/alpha/state").json()["alerts"]
    assert seen["can_clear"] is False
    response = post(school_officer, f"/staff/emergency/alpha/alerts/{alert.pk}/clear", {})
    assert response.status_code == 403
    assert Alert.objects.get().cleared_at is None


def test_a_superuser_is_offered_and_may_use_the_organisation_scope(tenant: Tenant) -> None:
    """A superuser's panel offers every school of the organisation; the alert reaches beta
    too, and they may end it from beta's panel."""
    client = signed_in(make_user("root", superuser=True))
    page = client.get("/staff/emergency/alpha/")
    assert page.context["config"]["organisation"] == {"name": "North District", "schools": 2}
    assert trigger(client, tenant.school, scope="organisation").status_code == 201
    alert = Alert.objects.get()
    [seen] = client.get("/staff/emergency/beta/state").json()["alerts"]
    assert (seen["id"], seen["scope"], seen["can_clear"]) == (alert.pk, "organisation", True)
    assert post(client, f"/staff/emergency/beta/alerts/{alert.pk}/clear", {}).status_code == 200
    assert Alert.objects.get().cleared_at is not None


@pytest.mark.parametrize("role", ROLES_WITHOUT_ALERT)
def test_roles_without_the_alert_right_are_refused(tenant: Tenant, role: str) -> None:
    """Office, timetabler and viewer: the page 403, the JSON endpoints 403 in JSON."""
    client = signed_in(make_user(f"alpha-{role}", role, school=tenant.school))
    assert client.get("/staff/emergency/alpha/").status_code == 403
    assert client.get("/staff/emergency/alpha/state").json()["error"] == "forbidden"
    response = trigger(client, tenant.school)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert not Alert.objects.exists()


def test_another_school_s_panel_and_alerts_are_never_reachable(
    tenant: Tenant, south: Tenant
) -> None:
    """Alpha's officer: beta and south's schools are 404 (not confirmed to exist); alpha's
    page cannot end beta's alert, nor use beta's templates."""
    client = signed_in(make_user("alpha-safety", "safety", school=tenant.school))
    for slug in ("beta", "gamma", "nowhere"):
        assert client.get(f"/staff/emergency/{slug}/").status_code == 404
        response = client.get(f"/staff/emergency/{slug}/state")
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
    beta_alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.other_school, headline="Beta"
    )
    response = post(client, f"/staff/emergency/alpha/alerts/{beta_alert.pk}/clear", {})
    assert response.status_code == 404
    assert Alert.objects.get(pk=beta_alert.pk).cleared_at is None
    beta_template = template_of(tenant.other_school, "fire")
    response = post(
        client,
        "/staff/emergency/alpha/trigger",
        {"template": beta_template.pk, "headline": "x"},
    )
    assert (response.status_code, response.json()["error"]) == (404, "unknown_template")
    assert client.get("/staff/emergency/alpha/state").json() == {"alerts": []}


def test_bad_requests_get_a_json_error_a_log_line_and_a_metric(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Malformed JSON, wrong types, empty or long headlines, a wrong scope, a wrong
    method, no session, a missing CSRF token: JSON errors, never HTML or a 500."""
    client = signed_in(make_user("alpha-safety", "safety", school=tenant.school))
    url = "/staff/emergency/alpha/trigger"
    lockdown = template_of(tenant.school, "lockdown").pk
    before = metrics.staff_refusals_total.labels(page="emergency", error="invalid")._value.get()
    cases = [
        (client.post(url, b"{", content_type="application/json"), 400, "invalid_json"),
        (post(client, url, []), 400, "invalid_json"),
        (post(client, url, {"template": "1"}), 400, "invalid"),
        (post(client, url, {"template": True}), 400, "invalid"),
        (post(client, url, {"template": lockdown, "headline": " "}), 400, "invalid"),
        (post(client, url, {"template": lockdown, "headline": "x" * 161}), 400, "invalid"),
        (post(client, url, {"template": lockdown, "headline": 5}), 400, "invalid"),
        (post(client, url, {"template": lockdown, "headline": "x", "scope": 1}), 400, "invalid"),
        (client.get(url), 405, "method_not_allowed"),
        (post(Client(), url, {}), 401, "unauthorized"),
        (
            post(Client(enforce_csrf_checks=True), url, {}),
            403,
            "csrf_failed",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.content
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == code
    after = metrics.staff_refusals_total.labels(page="emergency", error="invalid")._value.get()
    assert after - before == 6
    assert sum("staff emergency refused" in r.getMessage() for r in caplog.records) == len(cases)
    assert not Alert.objects.exists()


def test_a_signed_in_officer_without_a_csrf_token_is_refused(tenant: Tenant) -> None:
    """The session alone does not trigger an alert: the page's CSRF token is needed."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alpha-safety", "safety", school=tenant.school))
    response = trigger(client, tenant.school)
    assert (response.status_code, response.json()["error"]) == (403, "csrf_failed")
    assert not Alert.objects.exists()


def test_identify_and_message_over_an_alert_are_reported_hidden(tenant: Tenant) -> None:
    """A command acknowledged while the screen showed an alert is 'hidden' with the alert's
    id; one acknowledged after the screen acknowledged the all-clear is 'acknowledged'."""
    screen, _ = make_screen(tenant.school, name="Hall")
    admin = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Lockdown"
    )
    delivery.record_receipt(screen.pk, alert.pk, "shown", "ws")
    url = f"/api/v1/schools/alpha/screens/{screen.pk}/commands"
    for name, payload in (("identify", {"seconds": 5}), ("message", {"text": "Hi"})):
        command_id = post(admin, url, {"name": name, "payload": payload}).json()["id"]
        Command.objects.filter(pk=command_id).update(
            status="acknowledged", delivered_at=timezone.now(), acknowledged_at=timezone.now()
        )
        [listed] = [c for c in admin.get(url).json() if c["id"] == command_id]
        assert (listed["status"], listed["hidden_by"]) == ("hidden", alert.pk)
    row = admin.get(f"/api/v1/schools/alpha/screens/{screen.pk}").json()
    assert row["last_command"]["status"] == "hidden"

    reload_id = post(admin, url, {"name": "reload", "payload": {}}).json()["id"]
    Command.objects.filter(pk=reload_id).update(
        status="acknowledged", acknowledged_at=timezone.now()
    )
    [reload] = [c for c in admin.get(url).json() if c["id"] == reload_id]
    assert reload["status"] == "acknowledged"  # a reload is not covered by the alert

    delivery.record_receipt(screen.pk, alert.pk, "cleared", "ws")
    after = post(admin, url, {"name": "identify", "payload": {"seconds": 5}}).json()["id"]
    Command.objects.filter(pk=after).update(status="acknowledged", acknowledged_at=timezone.now())
    [listed] = [c for c in admin.get(url).json() if c["id"] == after]
    assert (listed["status"], listed["hidden_by"]) == ("acknowledged", None)
