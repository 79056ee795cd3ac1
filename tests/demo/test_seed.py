"""The demo's data (hallboard.demo.seed): a realistic week per school, in its language and zone."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.schools.models import School
from hallboard.timetable.models import Lesson, Substitution
from tests.demo.management.commands.test_seed_demo import seed_json


@pytest.mark.django_db
def test_demo_has_a_week_of_lessons_and_todays_substitutions() -> None:
    """Each school has lessons Monday to Friday and substitutions for its local today."""
    seed_json()
    for school in School.objects.all():
        weekdays = set(Lesson.objects.filter(school=school).values_list("weekday", flat=True))
        assert {1, 2, 3, 4, 5} <= weekdays
        local_today = dt.datetime.now(dt.UTC).astimezone(school.tz).date()
        assert Substitution.objects.filter(school=school, date=local_today).count() >= 6
    assert {s.timezone for s in School.objects.all()} == {"Europe/Berlin", "Europe/London"}


@pytest.mark.django_db
def test_each_demo_school_writes_its_announcements_in_its_language() -> None:
    """The German school's screens show German notices, the English school's English ones
    (the German demo screen read "Parents' evening on Thursday")."""
    from hallboard.timetable.models import Announcement

    seed_json()
    german = set(
        Announcement.objects.filter(school__slug="lindenhof").values_list("title", flat=True)
    )
    english = set(
        Announcement.objects.filter(school__slug="riverside").values_list("title", flat=True)
    )
    assert "Elternsprechtag am Donnerstag" in german
    assert "Parents' evening on Thursday" not in german
    assert "Parents' evening on Thursday" in english


@pytest.mark.django_db
def test_seeding_bumps_each_schools_revision_once() -> None:
    """The whole seed is one batch: each school's revision is bumped exactly once."""
    seed_json()
    assert set(School.objects.values_list("revision", flat=True)) == {2}
