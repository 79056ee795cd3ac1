"""``/api/v1/schools/{slug}/calendar``: terms, holidays and closures, the week rotation.

Reading needs the view right; every change needs the timetable right and bumps
the school's revision (screens show holidays and week labels).
"""

# No `from __future__ import annotations`: ninja builds its schemas from the annotations.

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Status

from hallboard.api.errors import ApiError, invalid
from hallboard.api.schema import Schema
from hallboard.api.scoping import get_in_school, save_validated, school_for, validation_error
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.calendar_import import (
    ICAL_SOURCE,
    CalendarImportError,
    fetch_url,
    import_ical,
    import_public_holidays,
)
from hallboard.timetable.models import (
    Closure,
    SchoolCalendar,
    Term,
    WeekLabel,
    monday_of,
    parse_week_labels,
)

router = Router(tags=["calendar"])
ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MAX_WEEKS = 110


class CalendarIn(Schema):
    week_cycle: str = Field("", max_length=40, description="Rotation labels, e.g. 'A,B'.")
    anchor: dt.date | None = Field(None, description="A day in the rotation's first week.")
    region: str = Field("", max_length=10, description="For public holidays, e.g. 'DE-BE'.")


class TermIO(Schema):
    id: int | None = None
    name: str = Field(max_length=80)
    starts_on: dt.date
    ends_on: dt.date


class ClosureIO(Schema):
    id: int | None = None
    kind: Closure.Kind = Closure.Kind.HOLIDAY
    name: str = Field(max_length=120)
    starts_on: dt.date
    ends_on: dt.date = Field(description="Inclusive: the last day without lessons.")
    source: str = Field("manual", max_length=32)
    external_id: str = Field("", max_length=64)


class WeekOut(Schema):
    week: str = Field(description="ISO week, e.g. 2026-W49.")
    monday: dt.date
    label: str | None = Field(description="null: no rotation, or no school that week.")
    school_week: bool
    set_by_hand: bool


class CalendarOut(Schema):
    week_cycle: list[str]
    anchor: dt.date | None
    region: str
    terms: list[TermIO]
    closures: list[ClosureIO]
    weeks: list[WeekOut]


class WindowQuery(Schema):
    start: dt.date | None = Field(None, alias="from", description="Default: this week.")
    end: dt.date | None = Field(None, alias="to", description="Default: 12 weeks on.")


class WeekLabelIn(Schema):
    label: str = Field(max_length=8, description="One of the rotation's labels.")


class IcalIn(Schema):
    url: str | None = Field(None, max_length=2000, description="An http(s) address of a feed.")
    ics: str | None = Field(None, max_length=2 * 1024 * 1024, description="The iCal text.")
    kind: Closure.Kind = Closure.Kind.HOLIDAY
    source: str = Field(ICAL_SOURCE, max_length=32, description="Rows of one feed share it.")
    replace: bool = Field(True, description="Delete this source's rows the feed no longer has.")


class PublicHolidaysIn(Schema):
    region: str | None = Field(None, max_length=10, description="Default: the calendar's.")
    years: list[int] = Field(description="e.g. [2026, 2027]", max_length=10)


class ImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    deleted: int
    closures: list[ClosureIO]


def _calendar_of(school: School) -> SchoolCalendar:
    return SchoolCalendar.objects.filter(school=school).first() or SchoolCalendar(school=school)


def _week(value: str) -> dt.date:
    """'2026-W49' or a date → the week's Monday."""
    match = ISO_WEEK.match(value)
    try:
        if match:
            return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return monday_of(dt.date.fromisoformat(value))
    except ValueError as exc:
        raise invalid("week", "Name the week as 2026-W49 or as a date.") from exc


@router.get("/schools/{slug}/calendar", response=CalendarOut)
def get_calendar(request: HttpRequest, slug: str, query: Query[WindowQuery]) -> dict[str, Any]:
    """The rotation, terms, holidays and closures, and each week's label in a window."""
    school = school_for(request, slug)
    today = timezone.now().astimezone(school.tz).date()
    start = query.start or today
    end = query.end or start + dt.timedelta(weeks=12)
    if end < start or (end - start).days > MAX_WEEKS * 7:
        raise invalid("to", f"Ask for at most {MAX_WEEKS} weeks from 'from'.")
    calendar = _calendar_of(school)
    view = SchoolCalendarView.load(school.pk)
    return {
        "week_cycle": calendar.labels,
        "anchor": calendar.anchor,
        "region": calendar.region,
        "terms": list(Term.objects.filter(school=school).values()),
        "closures": list(Closure.objects.filter(school=school).values()),
        "weeks": view.weeks(start, end),
    }


@router.put("/schools/{slug}/calendar", response=CalendarOut)
def put_calendar(request: HttpRequest, slug: str, payload: CalendarIn) -> dict[str, Any]:
    """Set the week rotation (labels and first week) and the region."""
    school = school_for(request, slug, Right.TIMETABLE)
    calendar = _calendar_of(school)
    calendar.week_cycle = ",".join(parse_week_labels(payload.week_cycle))
    calendar.anchor = payload.anchor
    calendar.region = payload.region.strip().upper()
    with transaction.atomic():
        save_validated(calendar)
    return get_calendar(request, slug, WindowQuery.model_validate({}))


@router.post("/schools/{slug}/calendar/terms", response={201: TermIO})
def add_term(request: HttpRequest, slug: str, payload: TermIO) -> Status[Term]:
    school = school_for(request, slug, Right.TIMETABLE)
    term = Term(school=school, **payload.dict(exclude={"id"}))
    with transaction.atomic():
        save_validated(term)
    return Status(201, term)


@router.delete("/schools/{slug}/calendar/terms/{pk}", response={204: None})
def delete_term(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    school = school_for(request, slug, Right.TIMETABLE)
    get_in_school(Term.objects, school, pk, "term").delete()
    return HttpResponse(status=204)


@router.post("/schools/{slug}/calendar/closures", response={201: ClosureIO})
def add_closure(request: HttpRequest, slug: str, payload: ClosureIO) -> Status[Closure]:
    """A holiday, public holiday or closure: no lessons from starts_on to ends_on."""
    school = school_for(request, slug, Right.TIMETABLE)
    closure = Closure(school=school, **payload.dict(exclude={"id"}))
    with transaction.atomic():
        save_validated(closure)
    return Status(201, closure)


@router.delete("/schools/{slug}/calendar/closures/{pk}", response={204: None})
def delete_closure(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    school = school_for(request, slug, Right.TIMETABLE)
    get_in_school(Closure.objects, school, pk, "closure").delete()
    return HttpResponse(status=204)


@router.put("/schools/{slug}/calendar/weeks/{week}", response=WeekOut)
def set_week_label(
    request: HttpRequest, slug: str, week: str, payload: WeekLabelIn
) -> dict[str, Any]:
    """Set one week's label by hand (``2026-W49`` or a date); the weeks after count on."""
    school = school_for(request, slug, Right.TIMETABLE)
    monday = _week(week)
    row = WeekLabel.objects.filter(school=school, week=monday).first() or WeekLabel(
        school=school, week=monday
    )
    row.label = payload.label
    with transaction.atomic():
        try:
            row.full_clean(validate_unique=False)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        row.save()
    return SchoolCalendarView.load(school.pk).weeks(monday, monday)[0]


@router.delete("/schools/{slug}/calendar/weeks/{week}", response={204: None})
def clear_week_label(request: HttpRequest, slug: str, week: str) -> HttpResponse:
    """The week follows the rule again."""
    school = school_for(request, slug, Right.TIMETABLE)
    WeekLabel.objects.filter(school=school, week=_week(week)).delete()
    return HttpResponse(status=204)


def _import_error(exc: CalendarImportError) -> ApiError:
    return ApiError(422, "calendar_import_failed", str(exc))


@router.post("/schools/{slug}/calendar/ical", response=ImportOut)
def ical(request: HttpRequest, slug: str, payload: IcalIn) -> dict[str, Any]:
    """Holidays or closures from an iCal feed (``url``) or text (``ics``), idempotently."""
    school = school_for(request, slug, Right.TIMETABLE)
    if bool(payload.url) == bool(payload.ics):
        raise invalid("url", "Send either url or ics.")
    try:
        data = fetch_url(payload.url) if payload.url else (payload.ics or "").encode()
        result = import_ical(
            school, data, kind=payload.kind, source=payload.source, replace=payload.replace
        )
    except CalendarImportError as exc:
        raise _import_error(exc) from exc
    return result.as_json()


@router.post("/schools/{slug}/calendar/public-holidays", response=ImportOut)
def public_holidays(request: HttpRequest, slug: str, payload: PublicHolidaysIn) -> dict[str, Any]:
    """The public holidays of a region (ISO 3166, e.g. DE-BE, GB-ENG) in the given years."""
    school = school_for(request, slug, Right.TIMETABLE)
    region = payload.region or _calendar_of(school).region
    if not region:
        raise invalid("region", "Name the region, or set the calendar's region first.")
    try:
        result = import_public_holidays(
            school, region, payload.years, getattr(school, "language", None) or None
        )
    except CalendarImportError as exc:
        raise _import_error(exc) from exc
    return result.as_json()
