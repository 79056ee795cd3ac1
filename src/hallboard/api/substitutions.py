"""``/api/v1/schools/{slug}/substitutions``: today's changes to the timetable.

Periods, classes, subjects, teachers and rooms are named by their natural keys
within the school (period number, class name, subject code, teacher code, room
name), as they appear in timetabling software and on the screens.
"""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Status

from hallboard.api.errors import invalid
from hallboard.api.idempotency import idempotent
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import get_in_school, save_validated, school_for
from hallboard.schools import revision
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.timetable.models import Period, Room, SchoolClass, Subject, Substitution, Teacher

router = Router(tags=["substitutions"])

Kind = Substitution.Kind


class SubstitutionIn(Schema):
    date: dt.date
    period: int = Field(ge=0, description="Period number of the bell schedule.")
    school_class: str = Field(alias="class", description="Class name, e.g. '7a'.")
    kind: Kind
    subject: str | None = Field(None, description="Subject code.")
    teacher: str | None = Field(None, description="Code of the teacher who would have taught.")
    substitute: str | None = Field(None, description="Code of the substitute teacher.")
    room: str | None = Field(None, description="Room name the lesson now takes place in.")
    note: str = Field("", max_length=200)


class SubstitutionOut(Schema):
    id: int
    date: dt.date
    period: int
    school_class: str = Field(alias="class")
    kind: str
    subject: str | None
    teacher: str | None
    substitute: str | None
    room: str | None
    note: str


class DayQuery(Schema):
    date: dt.date | None = Field(None, description="Default: today in the school's time zone.")


REFERENCES: dict[str, tuple[type[Any], str, str]] = {
    # API field → (model, lookup, model field)
    "period": (Period, "number", "period"),
    "class": (SchoolClass, "name", "school_class"),
    "subject": (Subject, "code", "subject"),
    "teacher": (Teacher, "code", "teacher"),
    "substitute": (Teacher, "code", "substitute_teacher"),
    "room": (Room, "name", "room"),
}


def _out(s: Substitution) -> dict[str, object]:
    return {
        "id": s.pk,
        "date": s.date,
        "period": s.period.number,
        "class": s.school_class.name,
        "kind": s.kind,
        "subject": s.subject.code if s.subject else None,
        "teacher": s.teacher.code if s.teacher else None,
        "substitute": s.substitute_teacher.code if s.substitute_teacher else None,
        "room": s.room.name if s.room else None,
        "note": s.note,
    }


def _fields(school: School, data: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    """Model field values from API data, resolving natural keys within ``school``."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in REFERENCES:
            model, lookup, field = REFERENCES[key]
            if value is None:
                values[field] = None
                continue
            obj = model.objects.filter(school=school, **{lookup: value}).first()
            if obj is None:
                loc = f"{index}.{key}" if index is not None else key
                raise invalid(loc, f"No {model._meta.verbose_name} {value!r} in this school.")
            values[field] = obj
        else:
            values[key] = value
    return values


def _api_data(payload: Schema) -> dict[str, Any]:
    return payload.dict(by_alias=True)


def _queryset(school: School) -> Any:
    return Substitution.objects.filter(school=school).select_related(
        "period", "school_class", "subject", "teacher", "substitute_teacher", "room"
    )


def _today(school: School) -> dt.date:
    return timezone.now().astimezone(school.tz).date()


@router.get("/schools/{slug}/substitutions", response=list[SubstitutionOut], by_alias=True)
def list_substitutions(
    request: HttpRequest, slug: str, query: Query[DayQuery]
) -> list[dict[str, object]]:
    school = school_for(request, slug)
    day = query.date or _today(school)
    return [_out(s) for s in _queryset(school).filter(date=day)]


@router.post("/schools/{slug}/substitutions", response={201: SubstitutionOut}, by_alias=True)
@idempotent
def create_substitution(
    request: HttpRequest, slug: str, payload: SubstitutionIn
) -> Status[dict[str, object]]:
    school = school_for(request, slug, Right.TIMETABLE)
    substitution = Substitution(school=school, **_fields(school, _api_data(payload)))
    with transaction.atomic():
        save_validated(substitution)
    return Status(201, _out(substitution))


@router.put("/schools/{slug}/substitutions", response=list[SubstitutionOut], by_alias=True)
def replace_day(
    request: HttpRequest, slug: str, query: Query[DayQuery], payload: list[SubstitutionIn]
) -> list[dict[str, object]]:
    """Replace all substitutions of one day at once (one transaction, one revision)."""
    school = school_for(request, slug, Right.TIMETABLE)
    day = query.date or _today(school)
    rows = []
    for index, item in enumerate(payload):
        if item.date != day:
            raise invalid(f"{index}.date", f"Every item must be for {day.isoformat()}.")
        rows.append(Substitution(school=school, **_fields(school, _api_data(item), index)))
    with revision.batch():
        Substitution.objects.filter(school=school, date=day).delete()
        Substitution.objects.bulk_create(rows)
    return [_out(s) for s in _queryset(school).filter(date=day)]


@router.get("/schools/{slug}/substitutions/{pk}", response=SubstitutionOut, by_alias=True)
def get_substitution(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    school = school_for(request, slug)
    return _out(get_in_school(_queryset(school), school, pk, "substitution"))


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, Any]) -> dict[str, object]:
    school = school_for(request, slug, Right.TIMETABLE)
    with transaction.atomic():
        substitution = get_in_school(
            Substitution.objects.select_for_update(), school, pk, "substitution"
        )
        for field, value in _fields(school, data).items():
            setattr(substitution, field, value)
        save_validated(substitution)
    return _out(substitution)


@router.put("/schools/{slug}/substitutions/{pk}", response=SubstitutionOut, by_alias=True)
def replace_substitution(
    request: HttpRequest, slug: str, pk: int, payload: SubstitutionIn
) -> dict[str, object]:
    return _update(request, slug, pk, _api_data(payload))


@router.patch("/schools/{slug}/substitutions/{pk}", response=SubstitutionOut, by_alias=True)
def patch_substitution(
    request: HttpRequest, slug: str, pk: int, payload: PatchDict[SubstitutionIn]
) -> dict[str, object]:
    data = dict(payload)
    if "school_class" in data:
        data["class"] = data.pop("school_class")
    return _update(request, slug, pk, data)


@router.delete("/schools/{slug}/substitutions/{pk}", response={204: None})
def delete_substitution(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    school = school_for(request, slug, Right.TIMETABLE)
    get_in_school(Substitution.objects, school, pk, "substitution").delete()
    return HttpResponse(status=204)
