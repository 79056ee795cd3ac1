"""Nightly reload schedules (hallboard.display.models.ReloadSchedule): one per school for all
its screens, one per screen of that school; a change bumps the school's revision."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from hallboard.display.models import ReloadSchedule
from tests.conftest import Tenant, make_screen, revision_of


def refused(schedule: ReloadSchedule) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        schedule.clean()
    return caught.value.message_dict["screen"]


def test_a_screen_of_another_school_is_refused(tenant: Tenant) -> None:
    """A screen's schedule lives in that screen's school."""
    elsewhere, _ = make_screen(tenant.other_school)
    schedule = ReloadSchedule(school=tenant.school, screen=elsewhere, reload_at=dt.time(3))
    assert refused(schedule) == ["This screen belongs to another school."]


def test_a_school_has_one_schedule_for_all_its_screens(tenant: Tenant) -> None:
    """A second school-wide row is refused; saving the first again, or a screen's own row,
    is not."""
    first = ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(3))
    second = ReloadSchedule(school=tenant.school, reload_at=dt.time(4))
    assert refused(second) == ["This school has a schedule for all its screens already."]
    first.clean()
    screen, _ = make_screen(tenant.school)
    ReloadSchedule(school=tenant.school, screen=screen, reload_at=dt.time(4)).clean()
    ReloadSchedule(school=tenant.other_school, reload_at=dt.time(4)).clean()


def test_its_name_says_whose_schedule_and_when(tenant: Tenant) -> None:
    """The school's or the screen's name and the local time; a dash for no nightly reload."""
    screen, _ = make_screen(tenant.school, "Hall")
    assert str(ReloadSchedule(school=tenant.school, reload_at=dt.time(3, 5))) == "Alpha: 03:05"
    assert str(ReloadSchedule(school=tenant.school, screen=screen)) == f"{screen}: —"


def test_a_change_bumps_the_schools_revision(tenant: Tenant) -> None:
    """Screens learn a new schedule with their next snapshot: saving bumps the revision."""
    before, other = revision_of(tenant.school), revision_of(tenant.other_school)
    schedule = ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(3))
    assert revision_of(tenant.school) == before + 1
    schedule.jitter_minutes = 5
    schedule.save()
    assert revision_of(tenant.school) == before + 2
    assert revision_of(tenant.other_school) == other
