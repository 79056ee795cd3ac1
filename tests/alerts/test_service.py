"""The alert service: who may trigger, update, clear and cancel, and the audit log it writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hallboard.alerts import delivery, service
from hallboard.alerts.models import Alert, AlertAuditEntry
from hallboard.api.models import ApiKey
from hallboard.schools.access import for_api_key, for_user
from hallboard.schools.models import Membership
from hallboard.screens.models import Screen
from tests.alerts.conftest import make_member
from tests.conftest import Tenant, make_screen, make_user, revision_of

pytestmark = pytest.mark.django_db

API = AlertAuditEntry.Source.API


def actor_for(user: Any, source: str = API) -> service.Actor:
    return service.Actor(for_user(user), source)


def new_alert(tenant: Tenant, school: Any = "alpha", **fields: Any) -> Alert:
    fields.setdefault("headline", "Lockdown")
    return Alert(
        organisation=tenant.organisation,
        school=tenant.school if school == "alpha" else school,
        **fields,
    )


@pytest.mark.parametrize("role", ["office", "timetabler", "viewer"])
def test_roles_without_the_alert_right_change_nothing(tenant: Tenant, role: str) -> None:
    """Office, timetabler and viewer may neither trigger, update, clear nor cancel."""
    who = actor_for(make_member(tenant.school, role))
    existing = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Fire"
    )
    with pytest.raises(service.NotAllowed):
        service.trigger(who, new_alert(tenant))
    with pytest.raises(service.NotAllowed):
        service.update(who, existing, {"headline": "Changed"})
    with pytest.raises(service.NotAllowed):
        service.clear(who, existing)
    with pytest.raises(service.NotAllowed):
        service.cancel(who, existing)
    existing.refresh_from_db()
    assert existing.headline == "Fire"
    assert existing.cleared_at is None
    assert Alert.objects.count() == 1
    assert not AlertAuditEntry.objects.exists()


@pytest.mark.parametrize("role", ["safety", "admin"])
def test_safety_and_admin_trigger_update_and_clear(tenant: Tenant, role: str) -> None:
    """Safety officers and admins trigger, update and clear; each step bumps the revision."""
    who = actor_for(make_member(tenant.school, role))
    before = revision_of(tenant.school)
    alert = service.trigger(who, new_alert(tenant, severity="severe"))
    assert alert.pk is not None
    assert alert.created_by == who.user
    service.update(who, alert, {"severity": "extreme"})
    service.clear(who, alert)
    alert.refresh_from_db()
    assert alert.severity == "extreme"
    assert alert.cleared_at is not None
    assert alert.cleared_by == who.user
    assert alert.cancelled is False
    assert revision_of(tenant.school) == before + 3
    assert list(AlertAuditEntry.objects.order_by("at", "pk").values_list("action", flat=True)) == [
        "trigger",
        "update",
        "clear",
    ]


def test_other_schools_alerts_are_out_of_reach(tenant: Tenant) -> None:
    """Alpha's safety officer can neither trigger nor end an alert of beta."""
    who = actor_for(make_member(tenant.school, "safety"))
    with pytest.raises(service.NotAllowed):
        service.trigger(who, new_alert(tenant, school=tenant.other_school))
    betas = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.other_school, headline="Beta"
    )
    with pytest.raises(service.NotAllowed):
        service.clear(who, betas)
    with pytest.raises(service.NotAllowed):  # named through alpha: not in alpha's scope
        service.clear(who, betas, via_school=tenant.school)


def test_organisation_wide_alerts_need_the_right_over_the_organisation(tenant: Tenant) -> None:
    """The alert right in a school, even in every school of the organisation, neither
    triggers, updates, clears nor cancels an alert of every school, with or without a school
    it comes through (admin: none; API, CAP, panel: the URL's): nothing changes, nothing is
    audited. The same holds for a school's API key."""
    user = make_member(tenant.school, "safety")
    Membership.objects.create(user=user, school=tenant.other_school, role="safety")
    school_key, _ = ApiKey.create(
        name="Alpha safety", organisation=tenant.organisation, school=tenant.school, role="safety"
    )
    existing = Alert.objects.create(organisation=tenant.organisation, headline="Storm")
    for who in (actor_for(user), service.Actor(for_api_key(school_key), API)):
        assert not service.organisation_scope_allowed(who.principal, tenant.organisation)
        for via in (None, tenant.school):
            with pytest.raises(service.NotAllowed, match="whole organisation"):
                service.trigger(who, new_alert(tenant, school=None), via_school=via)
            with pytest.raises(service.NotAllowed):
                service.update(who, existing, {"headline": "Changed"}, via_school=via)
            with pytest.raises(service.NotAllowed):
                service.clear(who, existing, via_school=via)
            with pytest.raises(service.NotAllowed):
                service.cancel(who, existing, via_school=via)
        assert service.may_act(who.principal, new_alert(tenant))  # alpha's own: as before
    existing.refresh_from_db()
    assert (existing.headline, existing.cleared_at) == ("Storm", None)
    assert Alert.objects.count() == 1
    assert not AlertAuditEntry.objects.exists()


def test_organisation_roles_keys_and_superusers_act_on_organisation_wide_alerts(
    tenant: Tenant, south: Tenant
) -> None:
    """An organisation membership with the alert right, an organisation-wide key with it and
    a superuser trigger, update and end alerts of every school, through any of its schools or
    none; an organisation role of another organisation, or one without the alert right (a
    viewer of the district who is safety officer of alpha), may not."""
    district = make_user("north-safety", "safety", organisation=tenant.organisation)
    district_key, _ = ApiKey.create(name="North", organisation=tenant.organisation, role="admin")
    root = make_user("root", superuser=True)
    for who in (
        actor_for(district),
        service.Actor(for_api_key(district_key), API),
        actor_for(root),
    ):
        alert = service.trigger(who, new_alert(tenant, school=None), via_school=tenant.other_school)
        service.update(who, alert, {"severity": "extreme"}, via_school=tenant.school)
        service.clear(who, alert)
        alert.refresh_from_db()
        assert (alert.school, alert.severity) == (None, "extreme")
        assert alert.cleared_at is not None
    assert AlertAuditEntry.objects.filter(action="clear").count() == 3

    southern = make_user("south-safety", "safety", organisation=south.organisation)
    viewer = make_user("north-viewer", "viewer", organisation=tenant.organisation)
    Membership.objects.create(user=viewer, school=tenant.school, role="safety")
    for user in (southern, viewer):
        with pytest.raises(service.NotAllowed):
            service.trigger(actor_for(user), new_alert(tenant, school=None))
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 0


def test_trigger_audit_says_who_when_scope_and_reach(tenant: Tenant, freeze: Any) -> None:
    """The audit entry of a trigger names the user, the time, the scope and the screens
    in scope and online at that moment."""
    now = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
    freeze(now)
    online, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")  # never connected: offline
    make_screen(tenant.other_school, name="Canteen")
    Screen.objects.filter(pk=online.pk).update(
        last_heartbeat_at=now, revision_shown=revision_of(tenant.school) + 1
    )
    user = make_member(tenant.school, "safety", username="sam")
    alert = service.trigger(
        actor_for(user, "admin"), new_alert(tenant, starts_at=now), note="drill"
    )
    entry = AlertAuditEntry.objects.get()
    assert entry.alert == alert
    assert (entry.action, entry.source, entry.actor, entry.actor_user) == (
        "trigger",
        "admin",
        "sam",
        user,
    )
    assert entry.at == now
    assert (entry.scope, entry.school, entry.organisation) == (
        "Alpha",
        tenant.school,
        tenant.organisation,
    )
    assert (entry.screens_in_scope, entry.screens_online, entry.screens_shown) == (2, 1, None)
    assert (entry.headline, entry.severity, entry.note) == ("Lockdown", "severe", "drill")
    assert entry.changes["headline"] == "Lockdown"

    district = make_user("north-safety", "safety", organisation=tenant.organisation)
    org = service.trigger(actor_for(district), new_alert(tenant, school=None, starts_at=now))
    entry = AlertAuditEntry.objects.get(alert=org)
    assert entry.scope == "All schools of North District"
    assert entry.school is None
    assert entry.screens_in_scope == 3


def test_api_keys_are_named_in_the_audit(tenant: Tenant) -> None:
    """A key acts as "API key <name>"; a CAP message adds its sender."""
    key, _ = ApiKey.create(name="Safety system", organisation=tenant.organisation, role="safety")
    alert = service.trigger(service.Actor(for_api_key(key), API), new_alert(tenant))
    cap = service.Actor(for_api_key(key), "cap", cap_sender="alerts@example.org")
    service.clear(cap, alert)
    assert list(AlertAuditEntry.objects.order_by("pk").values_list("actor", "actor_user")) == [
        ("API key Safety system", None),
        ("CAP sender alerts@example.org via API key Safety system", None),
    ]


def test_clear_audit_counts_who_had_shown_it(tenant: Tenant) -> None:
    """The all-clear's entry says how many screens had shown the alert; clearing again
    writes nothing and changes nothing."""
    hall, _ = make_screen(tenant.school, name="Hall")
    make_screen(tenant.school, name="Gym")
    who = actor_for(make_member(tenant.school, "safety"))
    alert = service.trigger(who, new_alert(tenant))
    delivery.record_receipt(hall.pk, alert.pk, "shown", "ws")
    cleared = service.clear(who, alert)
    entry = AlertAuditEntry.objects.get(action="clear")
    assert (entry.screens_in_scope, entry.screens_shown) == (2, 1)
    again = service.clear(who, alert)
    assert again.cleared_at == cleared.cleared_at
    assert AlertAuditEntry.objects.filter(action="clear").count() == 1


def test_cancel_ends_the_alert_as_raised_in_error(tenant: Tenant) -> None:
    """A cancel ends the alert like an all-clear, marked cancelled, with its own entry."""
    who = actor_for(make_member(tenant.school, "admin"))
    alert = service.trigger(who, new_alert(tenant))
    service.cancel(who, alert)
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert alert.cancelled is True
    assert not alert.active
    assert AlertAuditEntry.objects.filter(action="cancel", screens_shown=0).count() == 1


def test_update_records_what_changed(tenant: Tenant) -> None:
    """An update's entry lists each changed field before and after; an update that changes
    nothing writes no entry; an ended alert cannot be updated."""
    who = actor_for(make_member(tenant.school, "safety"))
    alert = service.trigger(who, new_alert(tenant, instructions="Stay inside."))
    expires = timezone.now() + dt.timedelta(hours=1)
    service.update(
        who,
        alert.pk,
        {"headline": "Lockdown lifted soon", "expires_at": expires, "instructions": "Stay inside."},
    )
    entry = AlertAuditEntry.objects.get(action="update")
    assert entry.changes == {
        "headline": ["Lockdown", "Lockdown lifted soon"],
        "expires_at": [None, delivery.iso(expires)],
    }
    service.update(who, alert.pk, {"headline": "Lockdown lifted soon"})
    assert AlertAuditEntry.objects.filter(action="update").count() == 1
    service.clear(who, alert)
    with pytest.raises(service.AlertEnded):
        service.update(who, alert.pk, {"headline": "Too late"})
    with pytest.raises(ValueError, match="school"):
        service.update(who, alert.pk, {"school": tenant.other_school})


def test_invalid_alerts_are_refused_field_by_field(tenant: Tenant) -> None:
    """An alert expiring before it starts, or an unknown severity, is a ValidationError."""
    who = actor_for(make_member(tenant.school, "safety"))
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        service.trigger(
            who, new_alert(tenant, starts_at=now, expires_at=now - dt.timedelta(minutes=1))
        )
    assert "expires_at" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        service.trigger(who, new_alert(tenant, severity="apocalyptic"))
    assert "severity" in refused.value.message_dict
    alert = service.trigger(who, new_alert(tenant))
    with pytest.raises(ValidationError):
        service.update(who, alert, {"headline": ""})
    assert Alert.objects.get(pk=alert.pk).headline == "Lockdown"
    assert AlertAuditEntry.objects.count() == 1
