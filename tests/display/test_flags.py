"""meta.ws_enabled: the global push default, refined per school."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.display.flags import push_enabled, rollout_bucket
from hallboard.schools.models import School
from hallboard.screens.models import PushSettings
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient


@pytest.mark.parametrize(
    ("global_default", "school_push", "expected"),
    [
        (False, School.Push.DEFAULT, False),
        (True, School.Push.DEFAULT, True),
        (False, School.Push.ON, False),  # the global switch off is off everywhere
        (True, School.Push.ON, True),
        (True, School.Push.OFF, False),
    ],
)
def test_ws_enabled_follows_global_default_and_school_override(
    tenant: Tenant, settings: Any, global_default: bool, school_push: str, expected: bool
) -> None:
    """With push on globally a school's override decides; off globally is off everywhere."""
    settings.DISPLAY_WS_ENABLED = global_default
    School.objects.filter(pk=tenant.school.pk).update(push=school_push)
    _, token = make_screen(tenant.school)
    assert ScreenClient(token).get("snapshot").json()["meta"]["ws_enabled"] is expected


def test_turning_push_off_changes_the_snapshot_etag(tenant: Tenant) -> None:
    """Switching a school's push setting bumps its revision, so screens refetch."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    etag = client.get("snapshot")["ETag"]
    school = School.objects.get(pk=tenant.school.pk)
    school.push = School.Push.OFF
    school.save()
    again = client.get("snapshot", {"If-None-Match": etag})
    assert again.status_code == 200
    assert again.json()["meta"]["ws_enabled"] is False


def test_percentage_rollout_is_stable_per_screen(tenant: Tenant) -> None:
    """A rollout percentage selects a stable share of screens; raising it only adds screens."""
    school = School.objects.get(pk=tenant.school.pk)
    screens = [make_screen(school, name=f"S{n}")[0] for n in range(200)]
    chosen = {}
    for percent in (0, 10, 50, 100):
        PushSettings.objects.update_or_create(pk=1, defaults={"rollout_percent": percent})
        flags = PushSettings.current()
        chosen[percent] = {s.pk for s in screens if push_enabled(s, flags)}
    assert chosen[0] == set()
    assert len(chosen[100]) == 200
    assert chosen[10] <= chosen[50] <= chosen[100]
    assert 40 <= len(chosen[50]) <= 160  # roughly half: a hash, not a counter
    assert chosen[50] == {s.pk for s in screens if rollout_bucket(s.pk) < 50}


def test_flags_row_overrides_the_environment_default(tenant: Tenant, settings: Any) -> None:
    """Once stored, PushSettings wins over DISPLAY_WS_ENABLED (changed without a restart)."""
    settings.DISPLAY_WS_ENABLED = True
    _, token = make_screen(tenant.school)
    assert ScreenClient(token).get("snapshot").json()["meta"]["ws_enabled"] is True
    PushSettings.objects.create(enabled=False)
    assert ScreenClient(token).get("snapshot").json()["meta"]["ws_enabled"] is False
