"""Shared fixtures: a small organisation with two schools, screens with tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from hallboard.schools.models import Organisation, School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Period, SchoolClass, Subject, Teacher


@dataclass
class Tenant:
    organisation: Organisation
    school: School
    other_school: School


def make_school(organisation: Organisation, slug: str, tz: str = "Europe/Berlin") -> School:
    school = School.objects.create(
        organisation=organisation, slug=slug, name=slug.title(), timezone=tz
    )
    for number, (start, end) in enumerate([("08:00", "08:45"), ("08:50", "09:35")], start=1):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time.fromisoformat(start),
            ends_at=dt.time.fromisoformat(end),
        )
    SchoolClass.objects.create(school=school, name="7a", grade=7)
    SchoolClass.objects.create(school=school, name="8b", grade=8)
    Subject.objects.create(school=school, code="MA", name="Maths")
    Teacher.objects.create(school=school, code="MUE", name="Ms Müller")
    return school


@pytest.fixture
def tenant(db: None) -> Tenant:
    """Organisation 'north' with schools 'alpha' and 'beta' (another tenant's data)."""
    org = Organisation.objects.create(slug="north", name="North District")
    return Tenant(org, make_school(org, "alpha"), make_school(org, "beta"))


def make_screen(school: School, name: str = "Hall", **fields: object) -> tuple[Screen, str]:
    """A screen with a fresh token; returns (screen, token)."""
    screen = Screen.objects.create(school=school, name=name, **fields)
    token = screen.issue_token()
    return screen, token


def revision_of(school: School) -> int:
    return School.objects.values_list("revision", flat=True).get(pk=school.pk)
