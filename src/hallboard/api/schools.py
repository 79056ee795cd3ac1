"""``/api/v1/schools``: the schools the caller may see, and their read-only lookups."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router

from hallboard.api.schema import Schema
from hallboard.api.scoping import principal, school_for
from hallboard.schools.access import Right
from hallboard.timetable.models import Period, SchoolClass

router = Router(tags=["schools"])


class SchoolOut(Schema):
    slug: str
    name: str
    timezone: str
    language: str = Field(description="The language of the school's screens (en, de).")
    revision: int
    organisation: str


class PeriodOut(Schema):
    number: int
    label: str
    starts_at: dt.time
    ends_at: dt.time


class ClassOut(Schema):
    name: str
    grade: int | None


@router.get("/schools", response=list[SchoolOut], summary="Schools you may see")
def list_schools(request: HttpRequest) -> list[dict[str, object]]:
    schools = principal(request).schools(Right.VIEW).select_related("organisation")
    return [
        {
            "slug": s.slug,
            "name": s.name,
            "timezone": s.timezone,
            "language": s.language,
            "revision": s.revision,
            "organisation": s.organisation.slug,
        }
        for s in schools.order_by("name")
    ]


@router.get("/schools/{slug}/periods", response=list[PeriodOut], summary="Bell schedule")
def list_periods(request: HttpRequest, slug: str) -> list[Period]:
    return list(Period.objects.filter(school=school_for(request, slug)).order_by("starts_at"))


@router.get("/schools/{slug}/classes", response=list[ClassOut], summary="Classes")
def list_classes(request: HttpRequest, slug: str) -> list[SchoolClass]:
    return list(SchoolClass.objects.filter(school=school_for(request, slug)))
