"""The watchdog settings a screen's page gets (``meta.watchdog``): bounds, and its nightly
reload from the screen's schedule, else its school's, else the install's default."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from hallboard.display.models import ReloadSchedule
from tests.conftest import Tenant, make_screen, revision_of
from tests.display.conftest import ScreenClient


def watchdog_of(token: str) -> dict[str, Any]:
    return dict(ScreenClient(token).get("snapshot").json()["meta"]["watchdog"])


def test_the_snapshot_carries_the_installs_bounds_and_default(
    tenant: Tenant, settings: Any
) -> None:
    """Without schedules, the page gets the settings' bounds, intervals and nightly time."""
    settings.DISPLAY_WATCHDOG_MAX_HEAP_MB = 300
    settings.DISPLAY_WATCHDOG_MAX_DOM_NODES = 12_000
    settings.DISPLAY_WATCHDOG_MAX_UPTIME_HOURS = 30
    settings.DISPLAY_WATCHDOG_CHECK_SECONDS = 20
    settings.DISPLAY_WATCHDOG_TREND_SECONDS = 600
    settings.DISPLAY_RELOAD_AT = "02:30"
    settings.DISPLAY_RELOAD_JITTER_MINUTES = 45
    _, token = make_screen(tenant.school)
    assert watchdog_of(token) == {
        "check_seconds": 20,
        "trend_seconds": 600,
        "max_heap_mb": 300,
        "max_dom_nodes": 12_000,
        "max_uptime_hours": 30,
        "nightly_reload_at": "02:30",
        "nightly_jitter_minutes": 45,
    }
    settings.DISPLAY_RELOAD_AT = ""
    assert watchdog_of(token)["nightly_reload_at"] is None


def test_a_screens_schedule_beats_its_schools_which_beats_the_default(
    tenant: Tenant, settings: Any
) -> None:
    """The screen's own row wins, then the school's row; other schools keep the default."""
    settings.DISPLAY_RELOAD_AT = "03:00"
    screen, token = make_screen(tenant.school, name="Hall")
    _, sibling = make_screen(tenant.school, name="Gym")
    _, elsewhere = make_screen(tenant.other_school, name="Beta hall")
    ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(4, 15), jitter_minutes=5)
    ReloadSchedule.objects.create(
        school=tenant.school, screen=screen, reload_at=None, jitter_minutes=0
    )
    assert watchdog_of(token)["nightly_reload_at"] is None  # this screen: never
    assert watchdog_of(sibling)["nightly_reload_at"] == "04:15"
    assert watchdog_of(sibling)["nightly_jitter_minutes"] == 5
    assert watchdog_of(elsewhere)["nightly_reload_at"] == "03:00"


def test_changing_a_schedule_reaches_the_screens(tenant: Tenant) -> None:
    """A schedule is content of the school: saving or deleting one bumps the revision,
    so screens fetch the snapshot that carries it (its ETag changes)."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    etag = client.get("snapshot")["ETag"]
    before = revision_of(tenant.school)
    schedule = ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(1, 0))
    assert revision_of(tenant.school) == before + 1
    assert client.get("snapshot", headers={"If-None-Match": etag}).status_code == 200
    schedule.delete()
    assert revision_of(tenant.school) == before + 2


def test_a_schedule_cannot_name_another_schools_screen_or_repeat_the_schools(
    tenant: Tenant,
) -> None:
    """The screen must be the school's; a school has one schedule for all its screens."""
    other, _ = make_screen(tenant.other_school)
    with pytest.raises(ValidationError, match="another school"):
        ReloadSchedule(school=tenant.school, screen=other, reload_at=dt.time(3, 0)).full_clean()
    ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(3, 0))
    with pytest.raises(ValidationError, match="already"):
        ReloadSchedule(school=tenant.school, reload_at=dt.time(4, 0)).full_clean()
    with pytest.raises(ValidationError):
        ReloadSchedule(
            school=tenant.school, reload_at=dt.time(4, 0), jitter_minutes=500
        ).clean_fields()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISPLAY_RELOAD_AT", "25:00"),
        ("DISPLAY_RELOAD_AT", "3am"),
        ("DISPLAY_RELOAD_JITTER_MINUTES", "600"),
        ("DISPLAY_WATCHDOG_MAX_HEAP_MB", "-1"),
        ("DISPLAY_WATCHDOG_CHECK_SECONDS", "0"),
    ],
)
def test_bad_watchdog_settings_stop_the_server_from_starting(name: str, value: str) -> None:
    """A wrong value is refused with the variable's name, at start."""
    result = subprocess.run(
        [sys.executable, "-c", "import hallboard.settings"],
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr
