"""Delivery: the payload screens get, the alert a school shows, receipts and reach."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hallboard.alerts import delivery
from hallboard.alerts.models import Alert, AlertReceipt
from hallboard.schools.models import Organisation
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_school, make_screen, revision_of
from tests.display.conftest import ScreenClient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def alert(tenant: Tenant, **fields: Any) -> Alert:
    fields.setdefault("organisation", tenant.organisation)
    fields.setdefault("school", tenant.school)
    fields.setdefault("headline", "Alert")
    fields.setdefault("starts_at", NOW - dt.timedelta(minutes=5))
    return Alert.objects.create(**fields)


def test_display_payload_is_what_the_snapshot_shows(tenant: Tenant) -> None:
    """The snapshot's alert object is exactly display_payload() of the top alert."""
    a = alert(
        tenant,
        school=None,
        kind=Alert.Kind.LOCKDOWN,
        severity=Alert.Severity.EXTREME,
        headline="Lockdown",
        instructions="Lock the doors.",
        starts_at=timezone.now() - dt.timedelta(minutes=1),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    _, token = make_screen(tenant.school)
    shown = ScreenClient(token).get("snapshot").json()["alert"]
    assert shown == delivery.display_payload(a)
    assert shown == {
        "id": a.pk,
        "kind": "lockdown",
        "severity": "extreme",
        "headline": "Lockdown",
        "instructions": "Lock the doors.",
        "scope": "organisation",
        "starts_at": delivery.iso(a.starts_at),
        "expires_at": delivery.iso(a.expires_at),
    }
    assert shown["starts_at"].endswith("Z")


def test_top_alert_is_the_most_severe_then_the_newest(
    tenant: Tenant, django_assert_num_queries: Any
) -> None:
    """Severity decides first, then the newest start; ended, future, expired and other
    schools' alerts never win; the choice costs one query."""
    alert(
        tenant, severity="moderate", headline="old moderate", starts_at=NOW - dt.timedelta(hours=2)
    )
    alert(tenant, severity="severe", headline="old severe", starts_at=NOW - dt.timedelta(hours=1))
    newest = alert(tenant, severity="severe", headline="new severe", school=None)
    alert(tenant, severity="extreme", headline="cleared", cleared_at=NOW - dt.timedelta(minutes=1))
    alert(tenant, severity="extreme", headline="future", starts_at=NOW + dt.timedelta(minutes=1))
    alert(tenant, severity="extreme", headline="expired", expires_at=NOW - dt.timedelta(seconds=1))
    alert(tenant, severity="extreme", headline="beta's", school=tenant.other_school)
    other_org = Organisation.objects.create(slug="south", name="South")
    Alert.objects.create(
        organisation=other_org, severity="extreme", headline="south's", starts_at=NOW
    )
    with django_assert_num_queries(1):
        top = delivery.top_alert(tenant.school, NOW)
    assert top == newest
    Alert.objects.filter(pk=newest.pk).update(severity="minor")
    assert delivery.top_alert(tenant.school, NOW).headline == "old severe"
    assert delivery.top_alert(make_school(other_org, "gamma"), NOW).headline == "south's"


def test_a_receipt_is_stored_once_per_state(
    tenant: Tenant, frames: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Shown, then cleared, each recorded once; repeats change nothing and tell no one."""
    a = alert(tenant)
    screen, _ = make_screen(tenant.school)
    with django_capture_on_commit_callbacks(execute=True):
        first = delivery.record_receipt(screen.pk, a.pk, "shown", "ws")
    assert first is not None
    assert first.shown_at is not None
    assert first.cleared_at is None
    assert first.via == "ws"
    assert frames == [
        (
            tenant.school.pk,
            {
                "type": "alert_receipt",
                "school": tenant.school.pk,
                "alert": a.pk,
                "screen": screen.pk,
                "state": "shown",
            },
        )
    ]
    with django_capture_on_commit_callbacks(execute=True):
        again = delivery.record_receipt(screen.pk, a.pk, "shown", "http")
    assert again is not None
    stored = AlertReceipt.objects.get()
    assert stored.shown_at == first.shown_at
    assert stored.via == "ws"
    assert len(frames) == 1  # nothing new to tell
    with django_capture_on_commit_callbacks(execute=True):
        delivery.record_receipt(screen.pk, a.pk, "cleared", "http")
        delivery.record_receipt(screen.pk, a.pk, "cleared", "http")
    stored.refresh_from_db()
    assert stored.cleared_at is not None
    assert [f["state"] for _, f in frames] == ["shown", "cleared"]
    assert AlertReceipt.objects.count() == 1


def test_a_receipt_is_refused_outside_the_screens_scope(tenant: Tenant) -> None:
    """A screen acknowledges only its school's alerts and its organisation's."""
    screen, _ = make_screen(tenant.school)
    own = alert(tenant)
    organisation_wide = alert(tenant, school=None)
    betas = alert(tenant, school=tenant.other_school)
    south = Organisation.objects.create(slug="south", name="South")
    souths = Alert.objects.create(organisation=south, headline="South storm")
    assert delivery.record_receipt(screen.pk, own.pk, "shown", "http") is not None
    assert delivery.record_receipt(screen.pk, organisation_wide.pk, "shown", "http") is not None
    assert delivery.record_receipt(screen.pk, betas.pk, "shown", "http") is None
    assert delivery.record_receipt(screen.pk, souths.pk, "shown", "http") is None
    assert delivery.record_receipt(screen.pk, 999_999, "shown", "http") is None
    assert delivery.record_receipt(999_999, own.pk, "shown", "http") is None
    assert set(AlertReceipt.objects.values_list("alert_id", flat=True)) == {
        own.pk,
        organisation_wide.pk,
    }
    with pytest.raises(ValueError, match="state"):
        delivery.record_receipt(screen.pk, own.pk, "seen", "http")
    with pytest.raises(ValueError, match="via"):
        delivery.record_receipt(screen.pk, own.pk, "shown", "carrier pigeon")


def heard(screen: Screen, at: dt.datetime, rev: int | None = None) -> None:
    """The screen sent a heartbeat at ``at`` showing revision ``rev`` (default: current)."""
    if rev is None:
        rev = revision_of(screen.school)
    Screen.objects.filter(pk=screen.pk).update(last_heartbeat_at=at, revision_shown=rev)


def test_reach_counts_the_scope_and_names_who_did_not_show_it(tenant: Tenant) -> None:
    """An organisation alert: screens of both schools with a token are in scope; the reach
    says how many showed it and its all-clear, and names the others with their status."""
    hall, _ = make_screen(tenant.school, name="Hall")
    _gym, _ = make_screen(tenant.school, name="Gym")
    canteen, _ = make_screen(tenant.other_school, name="Canteen")
    revoked, _ = make_screen(tenant.other_school, name="Revoked")
    revoked.revoke_token()
    south = Organisation.objects.create(slug="south", name="South")
    make_screen(make_school(south, "gamma"), name="Elsewhere")
    now = timezone.now()  # heard after their tokens were issued
    heard(hall, now)
    heard(canteen, now)
    a = alert(tenant, school=None, starts_at=now)
    delivery.record_receipt(hall.pk, a.pk, "shown", "ws")
    summary = delivery.reach(a, now)
    assert (summary["in_scope"], summary["online"], summary["shown"], summary["cleared"]) == (
        3,
        2,
        1,
        0,
    )
    assert [(r["name"], r["school"], r["status"]) for r in summary["not_shown"]] == [
        ("Gym", "alpha", "offline"),
        ("Canteen", "beta", "online"),
    ]
    assert summary["not_shown"][0]["status_reason"] == "never connected"
    assert summary["not_cleared"] == []  # not ended yet
    assert delivery.reach_counts([a]) == {a.pk: {"in_scope": 3, "shown": 1, "cleared": 0}}

    delivery.record_receipt(canteen.pk, a.pk, "shown", "http")
    Alert.objects.filter(pk=a.pk).update(cleared_at=now)
    a.refresh_from_db()
    delivery.record_receipt(hall.pk, a.pk, "cleared", "ws")
    summary = delivery.reach(a, now)
    assert (summary["shown"], summary["cleared"]) == (2, 1)
    assert [r["name"] for r in summary["not_cleared"]] == ["Canteen"]
    assert delivery.reach_counts([a]) == {a.pk: {"in_scope": 3, "shown": 2, "cleared": 1}}


def test_reach_of_a_school_alert_covers_only_that_school(tenant: Tenant) -> None:
    """A school alert's scope is that school's screens; counts for many alerts agree."""
    make_screen(tenant.school, name="Hall")
    make_screen(tenant.other_school, name="Canteen")
    mine = alert(tenant)
    theirs = alert(tenant, school=tenant.other_school)
    everyone = alert(tenant, school=None)
    counts = delivery.reach_counts([mine, theirs, everyone])
    assert {pk: c["in_scope"] for pk, c in counts.items()} == {
        mine.pk: 1,
        theirs.pk: 1,
        everyone.pk: 2,
    }
    assert [r["name"] for r in delivery.reach(mine)["not_shown"]] == ["Hall"]


def test_restrict_names_only_screens_of_the_given_schools(tenant: Tenant) -> None:
    """Counts stay whole; screens of other schools are only counted."""
    make_screen(tenant.school, name="Hall")
    make_screen(tenant.other_school, name="Canteen")
    a = alert(tenant, school=None)
    limited = delivery.restrict(delivery.reach(a), {"alpha"})
    assert [r["name"] for r in limited["not_shown"]] == ["Hall"]
    assert limited["elsewhere_not_shown"] == 1
    assert limited["in_scope"] == 2
    assert delivery.restrict(delivery.reach(a), None)["elsewhere_not_shown"] == 0
