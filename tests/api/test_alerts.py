"""Alerts in the management API: role checks on every path, reach, the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.alerts import delivery
from hallboard.alerts.models import Alert, AlertAuditEntry
from hallboard.schools.models import Membership
from tests.alerts.conftest import make_member, signed_in
from tests.conftest import ApiClient, KeyFactory, Tenant, make_screen, make_user

pytestmark = pytest.mark.django_db


def alpha_alert(tenant: Tenant, **fields: Any) -> Alert:
    fields.setdefault("school", tenant.school)
    return Alert.objects.create(organisation=tenant.organisation, headline="Fire", **fields)


def writes(client: ApiClient, pk: int) -> dict[str, Any]:
    """Every alert-changing path, for one existing alert ``pk`` of alpha."""
    return {
        "create": client.post("schools/alpha/alerts", {"headline": "Lockdown"}),
        "create organisation": client.post(
            "schools/alpha/alerts", {"headline": "Storm", "scope": "organisation"}
        ),
        "update": client.patch(f"schools/alpha/alerts/{pk}", {"severity": "extreme"}),
        "reach": client.get(f"schools/alpha/alerts/{pk}/reach"),
        "clear": client.post(f"schools/alpha/alerts/{pk}/clear"),
        "cancel": client.post(f"schools/alpha/alerts/{pk}/cancel"),
    }


@pytest.mark.parametrize("role", ["office", "timetabler", "viewer"])
def test_roles_without_the_alert_right_are_refused(
    tenant: Tenant, api_as: KeyFactory, role: str
) -> None:
    """Office, timetabler and viewer keys get 403 on every alert-changing path (and reach)."""
    alert = alpha_alert(tenant)
    for path, response in writes(api_as(role), alert.pk).items():
        assert response.status_code == 403, (role, path, response.content)
        assert response.json()["error"] == "forbidden"
    alert.refresh_from_db()
    assert alert.cleared_at is None
    assert alert.severity == "severe"
    assert Alert.objects.count() == 1
    assert not AlertAuditEntry.objects.exists()
    assert api_as(role).get(f"schools/alpha/alerts/{alert.pk}").status_code == 200  # may read


@pytest.mark.parametrize("role", ["safety", "admin"])
def test_safety_and_admin_may_do_everything(tenant: Tenant, api_as: KeyFactory, role: str) -> None:
    """Organisation-wide safety and admin keys trigger (for the school and for every school),
    update, see reach, clear (and cancel is idempotent after)."""
    alert = alpha_alert(tenant)
    answers = writes(api_as(role, school=None), alert.pk)
    assert {path: r.status_code for path, r in answers.items()} == {
        "create": 201,
        "create organisation": 201,
        "update": 200,
        "reach": 200,
        "clear": 200,
        "cancel": 200,
    }
    alert.refresh_from_db()
    assert alert.severity == "extreme"
    assert alert.cleared_at is not None
    assert alert.cancelled is False  # already ended by the all-clear: the cancel changed nothing
    assert answers["create organisation"].json()["scope"] == "organisation"
    assert AlertAuditEntry.objects.filter(source="api").count() == 4


@pytest.mark.parametrize("role", ["safety", "admin"])
def test_a_school_key_alerts_its_school_but_not_every_school(
    tenant: Tenant, api_as: KeyFactory, role: str
) -> None:
    """A school's safety or admin key does everything for its school's alerts, but "scope":
    "organisation" is 403 forbidden, naming the organisation role it needs; nothing of it is
    stored or audited."""
    alert = alpha_alert(tenant)
    answers = writes(api_as(role), alert.pk)
    assert {path: r.status_code for path, r in answers.items()} == {
        "create": 201,
        "create organisation": 403,
        "update": 200,
        "reach": 200,
        "clear": 200,
        "cancel": 200,
    }
    refused = answers["create organisation"].json()
    assert refused["error"] == "forbidden"
    assert "whole organisation" in refused["detail"]
    assert not Alert.objects.filter(school__isnull=True).exists()
    assert not AlertAuditEntry.objects.filter(school__isnull=True).exists()


def test_other_schools_are_not_found(tenant: Tenant, api_as: KeyFactory) -> None:
    """A key of beta sees no alpha: every path answers 404, nothing changes."""
    alert = alpha_alert(tenant)
    beta_safety = api_as("safety", school=tenant.other_school)
    for path, response in writes(beta_safety, alert.pk).items():
        assert response.status_code == 404, (path, response.content)
    assert beta_safety.get("schools/alpha/alerts/audit").status_code == 404
    # An alpha alert named through beta's URL is not beta's either.
    assert beta_safety.post(f"schools/beta/alerts/{alert.pk}/clear").status_code == 404
    assert Alert.objects.get(pk=alert.pk).cleared_at is None


def test_organisation_scope_needs_the_right_over_the_organisation(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A safety officer of alpha and beta (every school, but no organisation role) and alpha's
    safety key: "scope": "organisation" is 403 through any school's URL; an alert of every
    school (raised by an organisation role) is visible to them but its update, all-clear and
    cancel through their school's URL are 403 and change nothing; the district officer
    (organisation membership) and the district key do all of it."""
    user = make_member(tenant.school, "safety")
    Membership.objects.create(user=user, school=tenant.other_school, role="safety")
    member = ApiClient(client=signed_in(user))
    district = ApiClient(
        client=signed_in(make_user("north-safety", "safety", organisation=tenant.organisation))
    )
    storm = {"headline": "Storm", "scope": "organisation"}
    for school_role in (member, api_as("safety")):
        refused = school_role.post("schools/alpha/alerts", storm)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert member.post("schools/beta/alerts", storm).status_code == 403
    assert not Alert.objects.exists()

    made = district.post("schools/beta/alerts", storm)
    assert made.status_code == 201
    pk = made.json()["id"]
    for school_role in (member, api_as("safety")):
        assert school_role.get(f"schools/alpha/alerts/{pk}").status_code == 200  # visible
        for response in (
            school_role.patch(f"schools/alpha/alerts/{pk}", {"headline": "Changed"}),
            school_role.post(f"schools/alpha/alerts/{pk}/clear"),
            school_role.post(f"schools/alpha/alerts/{pk}/cancel"),
        ):
            assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    alert = Alert.objects.get(pk=pk)
    assert (alert.headline, alert.cleared_at) == ("Storm", None)
    assert list(AlertAuditEntry.objects.values_list("action", flat=True)) == ["trigger"]

    assert district.patch(f"schools/alpha/alerts/{pk}", {"severity": "extreme"}).status_code == 200
    assert district.post(f"schools/alpha/alerts/{pk}/clear").status_code == 200
    by_key = api_as("safety", school=None).post("schools/alpha/alerts", storm)
    assert (by_key.status_code, by_key.json()["scope"]) == (201, "organisation")


def test_alerts_carry_their_reach(tenant: Tenant, api_as: KeyFactory) -> None:
    """List and detail answers count screens in scope, shown and cleared."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    make_screen(tenant.other_school, name="Canteen")
    client = api_as("safety")
    pk = client.post("schools/alpha/alerts", {"headline": "Fire", "kind": "fire"}).json()["id"]
    district = api_as("safety", school=None)
    org = district.post("schools/alpha/alerts", {"headline": "Storm", "scope": "organisation"})
    delivery.record_receipt(hall.pk, pk, "shown", "ws")
    assert client.get(f"schools/alpha/alerts/{pk}").json()["reach"] == {
        "in_scope": 2,
        "shown": 1,
        "cleared": 0,
    }
    listed = {a["id"]: a["reach"] for a in client.get("schools/alpha/alerts").json()}
    assert listed == {
        pk: {"in_scope": 2, "shown": 1, "cleared": 0},
        org.json()["id"]: {"in_scope": 3, "shown": 0, "cleared": 0},
    }


def test_reach_names_screens_only_where_the_caller_holds_the_alert_right(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """An organisation alert's reach counts every school; an alpha key sees alpha's screen
    names and only a count of beta's; an organisation key sees all."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    make_screen(tenant.other_school, name="Canteen")
    alpha_key = api_as("safety")
    district_key = api_as("safety", school=None)
    pk = district_key.post(
        "schools/alpha/alerts", {"headline": "Storm", "scope": "organisation"}
    ).json()["id"]
    delivery.record_receipt(hall.pk, pk, "shown", "http")
    reach = alpha_key.get(f"schools/alpha/alerts/{pk}/reach").json()
    assert (reach["in_scope"], reach["shown"], reach["cleared"]) == (3, 1, 0)
    assert [(s["name"], s["school"], s["status"]) for s in reach["not_shown"]] == [
        ("Gym", "alpha", "offline")
    ]
    assert reach["elsewhere_not_shown"] == 1
    assert reach["not_cleared"] == []
    district = district_key.get(f"schools/alpha/alerts/{pk}/reach").json()
    assert [s["name"] for s in district["not_shown"]] == ["Gym", "Canteen"]

    district_key.post(f"schools/alpha/alerts/{pk}/clear")
    reach = alpha_key.get(f"schools/alpha/alerts/{pk}/reach").json()
    assert [s["name"] for s in reach["not_cleared"]] == ["Hall"]


def test_audit_log_is_scoped_to_what_the_school_may_see(tenant: Tenant, api_as: KeyFactory) -> None:
    """Alpha's audit log holds alpha's and the organisation's alerts, never beta's own;
    every entry says who, when, what, the scope and the reach."""
    make_screen(tenant.school, name="Hall")
    alpha = api_as("safety")
    beta = api_as("safety", school=tenant.other_school)
    mine = alpha.post("schools/alpha/alerts", {"headline": "Fire"}).json()["id"]
    org = api_as("safety", school=None).post(
        "schools/beta/alerts", {"headline": "Storm", "scope": "organisation"}
    )
    theirs = beta.post("schools/beta/alerts", {"headline": "Beta only"}).json()["id"]
    alpha.post(f"schools/alpha/alerts/{mine}/clear")
    log = api_as("viewer").get("schools/alpha/alerts/audit").json()
    assert [(e["alert"], e["action"]) for e in log] == [
        (mine, "clear"),
        (org.json()["id"], "trigger"),
        (mine, "trigger"),
    ]
    newest = log[0]
    assert newest["actor"] == "API key test safety"
    assert newest["source"] == "api"
    assert newest["scope"] == "Alpha"
    assert (newest["screens_in_scope"], newest["screens_online"], newest["screens_shown"]) == (
        1,
        0,
        0,
    )
    assert newest["at"]
    assert theirs not in {e["alert"] for e in log}
    only = api_as("viewer").get("schools/alpha/alerts/audit", alert=mine, limit=1).json()
    assert [(e["alert"], e["action"]) for e in only] == [(mine, "clear")]
    assert api_as("viewer").get("schools/alpha/alerts/audit", limit=0).status_code == 422


def test_update_validates_and_ended_alerts_are_conflicts(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A bad update is a 422 naming the field; an ended alert answers 409 alert_ended."""
    client = api_as("safety")
    pk = client.post("schools/alpha/alerts", {"headline": "Fire"}).json()["id"]
    bad = client.patch(f"schools/alpha/alerts/{pk}", {"expires_at": "2000-01-01T00:00:00Z"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "expires_at"]
    assert client.patch(f"schools/alpha/alerts/{pk}", {"headline": None}).status_code == 422
    client.post(f"schools/alpha/alerts/{pk}/clear")
    ended = client.patch(f"schools/alpha/alerts/{pk}", {"headline": "Again"})
    assert ended.status_code == 409
    assert ended.json()["error"] == "alert_ended"


def test_cancel_marks_the_alert_cancelled(tenant: Tenant, api_as: KeyFactory) -> None:
    """POST …/cancel ends the alert as raised in error."""
    client = api_as("admin")
    pk = client.post("schools/alpha/alerts", {"headline": "Wrong button"}).json()["id"]
    body = client.post(f"schools/alpha/alerts/{pk}/cancel").json()
    assert body["cancelled"] is True
    assert body["active"] is False
    assert AlertAuditEntry.objects.filter(alert_id=pk, action="cancel").exists()
