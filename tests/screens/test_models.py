"""Screens and their settings (hallboard.screens.models): what bumps the school's revision,
grades, the multi-device default, the single push-settings row, pairing codes' expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hallboard.screens.models import PairingCode, PushSettings, validate_grades
from hallboard.timetable.models import SchoolClass
from tests.conftest import Tenant, make_screen, revision_of


@pytest.mark.parametrize("grades", [[], [5, 6], [0, 20]])
def test_grades_are_whole_numbers_from_0_to_20(grades: list[int]) -> None:
    """A list of whole numbers from 0 to 20 is valid."""
    validate_grades(grades)


@pytest.mark.parametrize("grades", ["5", [21], [-1], [5.0], {"5": 1}])
def test_other_grades_are_refused(grades: Any) -> None:
    """Anything else is refused with the expected shape in the message."""
    with pytest.raises(ValidationError, match=r"e\.g\. \[5, 6\]"):
        validate_grades(grades)


def test_what_a_screen_shows_bumps_its_schools_revision_and_nothing_else_does(
    tenant: Tenant,
) -> None:
    """A display field changed bumps the revision once; saving unchanged, or a heartbeat's
    fields, does not; a screen moved bumps both schools."""
    screen, _ = make_screen(tenant.school)
    before = revision_of(tenant.school)
    screen.save()
    assert revision_of(tenant.school) == before
    screen.last_heartbeat_at = timezone.now()
    screen.save()
    assert revision_of(tenant.school) == before
    screen.name = "Foyer"
    screen.save()
    assert revision_of(tenant.school) == before + 1
    other = revision_of(tenant.other_school)
    screen.school = tenant.other_school
    screen.save()
    assert (revision_of(tenant.school), revision_of(tenant.other_school)) == (
        before + 2,
        other + 1,
    )


def test_the_classes_a_screen_shows_bump_the_revision(tenant: Tenant) -> None:
    """Adding or removing a class, from either side, bumps the screen's school's revision."""
    screen, _ = make_screen(tenant.school)
    seven = SchoolClass.objects.get(school=tenant.school, name="7a")
    before = revision_of(tenant.school)
    screen.classes.add(seven)
    assert revision_of(tenant.school) == before + 1
    seven.screens.remove(screen)
    assert revision_of(tenant.school) == before + 2


def test_multi_device_follows_the_setting_unless_the_screen_says(
    tenant: Tenant, settings: Any
) -> None:
    """Unset on the screen: DISPLAY_ALLOW_MULTI_DEVICE; set: the screen's own choice."""
    screen, _ = make_screen(tenant.school)
    settings.DISPLAY_ALLOW_MULTI_DEVICE = True
    assert screen.multi_device_allowed is True
    settings.DISPLAY_ALLOW_MULTI_DEVICE = False
    assert screen.multi_device_allowed is False
    screen.allow_multi_device = True
    assert screen.multi_device_allowed is True


def test_push_settings_are_one_row_defaulting_to_the_setting(db: None, settings: Any) -> None:
    """Before anyone saves them, push follows DISPLAY_WS_ENABLED at 100 %; saving twice keeps
    one row."""
    settings.DISPLAY_WS_ENABLED = False
    assert (PushSettings.current().enabled, PushSettings.current().rollout_percent) == (
        False,
        100,
    )
    PushSettings(enabled=True, rollout_percent=20).save()
    PushSettings(enabled=True, rollout_percent=50).save()
    assert PushSettings.objects.count() == 1
    assert str(PushSettings.current()) == "push on, 50 %"


def test_a_pairing_code_expires_at_its_time(db: None) -> None:
    """Expired from its expiry time on, not before."""
    now = timezone.now()
    code = PairingCode(code="ABC234", expires_at=now + dt.timedelta(minutes=5))
    assert code.expired is False
    code.expires_at = now - dt.timedelta(seconds=1)
    assert code.expired is True
    assert str(code) == "ABC234"
