"""Which data changes reach the live dashboards (hallboard.staff.signals): each receiver tells
``staff.frames`` the school, the screen and what happened. The frames themselves, and their
publishing after commit, are in test_frames.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hallboard.schools.revision import revisions_committed
from hallboard.screens.models import PairingCode, Screen, credentials_changed
from hallboard.staff import frames
from tests.conftest import Tenant, make_screen


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What the receivers told ``frames``, in order."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(frames, "screen_event", lambda *args: calls.append(args))
    monkeypatch.setattr(
        frames,
        "revisions",
        lambda revisions: calls.extend(("revision", *pair) for pair in revisions.items()),
    )
    return calls


def test_a_committed_revision_is_told_with_its_school(told: list[tuple[Any, ...]]) -> None:
    """``revisions_committed`` becomes each school's revision frame."""
    revisions_committed.send(sender=None, revisions={7: 42, 9: 3})
    assert told == [("revision", 7, 42), ("revision", 9, 3)]


def test_a_screen_saved_or_deleted_is_told_to_its_school(
    tenant: Tenant, told: list[tuple[Any, ...]]
) -> None:
    """Created or changed: "changed" in its school; deleted: "deleted" there."""
    screen = Screen.objects.create(school=tenant.school, name="Hall")
    screen.name = "Hall 2"
    screen.save()
    pk = screen.pk
    screen.delete()
    school = tenant.school.pk
    assert told == [(school, pk, "changed"), (school, pk, "changed"), (school, pk, "deleted")]


def test_a_screen_moved_leaves_the_old_schools_dashboard(
    tenant: Tenant, told: list[tuple[Any, ...]]
) -> None:
    """Moved to another school: "deleted" in the old one, then "changed" in the new one."""
    screen = Screen.objects.create(school=tenant.school, name="Hall")
    told.clear()
    screen.school = tenant.other_school
    screen.save()
    assert told == [
        (tenant.school.pk, screen.pk, "deleted"),
        (tenant.other_school.pk, screen.pk, "changed"),
    ]


def test_raw_saves_tell_nothing(tenant: Tenant, told: list[tuple[Any, ...]]) -> None:
    """Rows loaded from fixtures (raw saves) are not changes anyone made."""
    screen, _ = make_screen(tenant.school)
    told.clear()
    screen.school = tenant.other_school
    screen.save_base(raw=True)
    assert told == []


def test_new_credentials_are_told_as_a_token_event(
    tenant: Tenant, told: list[tuple[Any, ...]]
) -> None:
    """``credentials_changed`` (token rotated or revoked) is told to the screen's school; for a
    screen that no longer exists nothing is told."""
    screen, _ = make_screen(tenant.school)
    told.clear()
    credentials_changed.send(sender=Screen, screen_id=screen.pk)
    credentials_changed.send(sender=Screen, screen_id=screen.pk + 1000)
    assert told == [(tenant.school.pk, screen.pk, "token")]


def test_a_claimed_pairing_code_is_told_as_a_binding_event(
    tenant: Tenant, told: list[tuple[Any, ...]]
) -> None:
    """A pairing code saved with its screen (claimed) is a "binding" event of that screen; an
    unclaimed code tells nothing."""
    screen, _ = make_screen(tenant.school)
    told.clear()
    expires = timezone.now() + dt.timedelta(minutes=10)
    code = PairingCode.objects.create(
        code="ABC234", secret_hash="0" * 64, device_key="device-0001", expires_at=expires
    )
    assert told == []
    code.screen = screen
    code.save()
    assert told == [(tenant.school.pk, screen.pk, "binding")]
