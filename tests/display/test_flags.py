"""meta.ws_enabled: the global push default, refined per school."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.schools.models import School
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient


@pytest.mark.parametrize(
    ("global_default", "school_push", "expected"),
    [
        (False, School.Push.DEFAULT, False),
        (True, School.Push.DEFAULT, True),
        (False, School.Push.ON, True),
        (True, School.Push.OFF, False),
    ],
)
def test_ws_enabled_follows_global_default_and_school_override(
    tenant: Tenant, settings: Any, global_default: bool, school_push: str, expected: bool
) -> None:
    """A school's push override wins over DISPLAY_WS_ENABLED; 'default' follows it."""
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
