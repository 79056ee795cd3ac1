"""``/api/v1/schools/{slug}/substitutions``: a day's changes, and ``/day``: the effective timetable.

Periods, classes, subjects, teachers and rooms are named by their natural keys
within the school (period number, class name, subject code, teacher code, room
name), as they appear in timetabling software and on the screens.

A change names its regular lesson by id (``lesson``), or by ``class`` and
``period`` (plus ``subject`` or ``group`` where parallel lessons share the
period): the server finds the lesson that takes place on that date. It then
takes the period, classes, subject, teachers and rooms from the lesson unless
the change overrides them (docs/data-model.md). At most one change per lesson
and date: a second one is ``422 change_conflict`` naming the one already there.
"""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Status

from hallboard.api.errors import ApiError, invalid
from hallboard.api.idempotency import idempotent
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import get_in_school, school_for, validation_error
from hallboard.schools import revision
from hallboard.schools.access import Right
from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.day import (
    change_slot,
    day_json,
    effective_day,
    slot_json,
    uncovered_lessons,
)
from hallboard.timetable.models import (
    Lesson,
    Period,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
)

router = Router(tags=["substitutions"])

Kind = Substitution.Kind
MAX_DAY_ITEMS = 2000


class SubstitutionIn(Schema):
    date: dt.date
    kind: Kind
    lesson: int | None = Field(
        None, ge=1, le=2**62, description="Id of the regular lesson this changes."
    )
    period: int | None = Field(
        None,
        ge=0,
        le=32767,
        description="Period number. With `class`, finds the lesson; without a lesson, required.",
    )
    school_class: str | None = Field(
        None, alias="class", max_length=40, description="Class name, e.g. '7a'."
    )
    classes: list[str] | None = Field(
        None,
        max_length=50,
        description="Classes, for a change of several (overrides the lesson's).",
    )
    group: str = Field("", max_length=40, description="Group or course, for parallel lessons.")
    subject: str | None = Field(None, max_length=16, description="Subject code (overrides).")
    teacher: str | None = Field(
        None, max_length=16, description="Code of the teacher replaced (default: the lesson's)."
    )
    substitute: str | None = Field(None, max_length=16, description="Code of the substitute.")
    room: str | None = Field(None, max_length=40, description="Room it takes place in now.")
    target_date: dt.date | None = Field(None, description="Moved/swapped to this date.")
    target_period: int | None = Field(
        None, ge=0, le=32767, description="Moved/swapped to this period number."
    )
    note: str = Field("", max_length=200)
    source: str = Field("manual", max_length=32, description="'manual', or the importer's name.")
    external_id: str = Field("", max_length=64, description="Id in the source system.")


class ValuesOut(Schema):
    subject: str | None
    teachers: list[str]
    rooms: list[str]


class SubstitutionOut(Schema):
    id: int
    date: dt.date
    kind: str
    lesson: int | None
    period: int
    school_class: str = Field(alias="class", description="The first class (see `classes`).")
    classes: list[str]
    group: str
    subject: str | None = Field(description="Subject now (from the lesson unless overridden).")
    teacher: str | None = Field(description="Teacher(s) replaced, or the lesson's teacher(s).")
    substitute: str | None
    room: str | None = Field(description="Room(s) now (from the lesson unless overridden).")
    target_date: dt.date | None
    target_period: int | None
    note: str
    source: str
    external_id: str
    regular: ValuesOut | None = Field(description="As planned (null: an extra lesson).")
    now: ValuesOut | None = Field(description="As it takes place (null: cancelled, moved away).")


class DayQuery(Schema):
    date: dt.date | None = Field(None, description="Default: today in the school's time zone.")


REFERENCES: dict[str, tuple[type[Any], str, str]] = {
    # API field → (model, lookup, model field)
    "period": (Period, "number", "period"),
    "subject": (Subject, "code", "subject"),
    "teacher": (Teacher, "code", "teacher"),
    "substitute": (Teacher, "code", "substitute_teacher"),
    "room": (Room, "name", "room"),
    "target_period": (Period, "number", "target_period"),
}
PLAIN = ("date", "kind", "group", "note", "target_date", "source", "external_id")


def _joined(values: Any) -> str | None:
    return ", ".join(values) or None


def _out(s: Substitution) -> dict[str, object]:
    slot = change_slot(s)
    shown = slot.now or slot.regular
    classes = [c.name for c in slot.classes]
    regular = slot.regular
    return {
        "id": s.pk,
        "date": s.date,
        "kind": s.kind,
        "lesson": s.lesson_id,
        "period": s.period.number,
        "class": classes[0] if classes else "",
        "classes": classes,
        "group": slot.group,
        "subject": shown.subject if shown else None,
        "teacher": s.teacher.code
        if s.teacher
        else (_joined(regular.teachers) if regular else None),
        "substitute": s.substitute_teacher.code if s.substitute_teacher else None,
        "room": _joined(shown.rooms) if shown else None,
        "target_date": s.target_date,
        "target_period": s.target_period.number if s.target_period else None,
        "note": s.note,
        "source": s.source,
        "external_id": s.external_id,
        "regular": slot.regular.as_json() if slot.regular else None,
        "now": slot.now.as_json() if slot.now else None,
    }


def _lookup(school: School, model: type[Any], lookup: str, value: Any, loc: str) -> Any:
    obj = model.objects.filter(school=school, **{lookup: value}).first()
    if obj is None:
        raise invalid(loc, f"No {model._meta.verbose_name} {value!r} in this school.")
    return obj


def _find_lesson(
    school: School, data: dict[str, Any], calendar: SchoolCalendarView, prefix: str
) -> Lesson | None:
    """The regular lesson of ``class`` in ``period`` that takes place on ``date``."""
    name, number, day = data.get("class"), data.get("period"), data["date"]
    if not name or number is None:
        return None
    label = calendar.week_label(day)
    candidates = [
        lesson
        for lesson in Lesson.objects.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
            school=school,
            weekday=day.isoweekday(),
            period__number=number,
            classes__name=name,
        )
        .select_related("subject")
        .distinct()
        if not lesson.week_labels or label in lesson.week_labels
    ]
    if data.get("subject") and len(candidates) > 1:
        candidates = [c for c in candidates if c.subject.code == data["subject"]]
    if data.get("group") and len(candidates) > 1:
        candidates = [c for c in candidates if c.group == data["group"]]
    if len(candidates) > 1:
        names = ", ".join(f"#{c.pk} {c.subject.code} {c.group}".strip() for c in candidates)
        raise invalid(
            f"{prefix}class",
            f"{name} has {len(candidates)} lessons in period {number} on {day} ({names}): "
            "name the subject or group, or the lesson by id.",
        )
    return candidates[0] if candidates else None


def _apply(
    school: School,
    change: Substitution,
    data: dict[str, Any],
    calendar: SchoolCalendarView,
    index: int | None = None,
) -> list[SchoolClass] | None:
    """Set ``change``'s fields from API data; returns its own classes (None: unchanged)."""
    prefix = f"{index}." if index is not None else ""
    for key in PLAIN:
        if key in data:
            setattr(change, key, data[key])
    for key, (model, lookup, field) in REFERENCES.items():
        if key in data:
            value = data[key]
            setattr(
                change,
                field,
                None if value is None else _lookup(school, model, lookup, value, prefix + key),
            )
    if data.get("lesson") is not None:
        change.lesson = _lookup(school, Lesson, "pk", data["lesson"], prefix + "lesson")
    elif data.get("class") and change.kind != Kind.EXTRA:
        change.lesson = _find_lesson(school, {**data, "date": change.date}, calendar, prefix)
    elif "lesson" in data:
        change.lesson = None
    names: list[str] | None = None
    if data.get("classes") is not None:
        names = list(data["classes"])
    elif data.get("class"):
        names = [data["class"]]
    if names is None:
        return None
    classes = [_lookup(school, SchoolClass, "name", n, prefix + "class") for n in names]
    if change.lesson is not None and {c.pk for c in classes} == {
        c.pk for c in change.lesson.classes.all()
    }:
        return []  # the lesson's own classes: nothing to override
    return classes


def _save(change: Substitution, classes: list[SchoolClass] | None, index: int | None) -> None:
    """Validate (a second change of a lesson and date is 422 change_conflict) and save."""
    prefix = f"{index}." if index is not None else ""
    if classes is not None and not classes and change.lesson is None:
        raise invalid(prefix + "class", "Name the classes, or the regular lesson.")
    if classes is None and change.pk is None and change.lesson is None:
        raise invalid(prefix + "class", "Name the classes, or the regular lesson.")
    conflict = change.conflicting()
    if conflict is not None:
        raise _conflict(change, conflict, prefix)
    try:
        change.full_clean(validate_unique=False)
    except ValidationError as exc:
        error = validation_error(exc)
        if index is not None:
            for entry in error.detail:
                entry["loc"] = ["body", f"{index}.{entry['loc'][-1]}"]
        raise error from exc
    try:
        with transaction.atomic():
            change.save()
    except IntegrityError as exc:  # a concurrent request won the race
        other = change.conflicting()
        if other is None:
            raise
        raise _conflict(change, other, prefix) from exc
    if classes is not None:
        change.classes.set(classes)


def _conflict(change: Substitution, other: Substitution, prefix: str) -> ApiError:
    return ApiError(
        422,
        "change_conflict",
        [
            {
                "loc": ["body", prefix + "lesson"],
                "msg": f"This lesson already has a change on {change.date}: "
                f"{other.get_kind_display()} (#{other.pk}). Change that one instead.",
                "conflict": other.pk,
            }
        ],
    )


def _api_data(payload: Schema) -> dict[str, Any]:
    return payload.dict(by_alias=True)


def _queryset(school: School) -> Any:
    return (
        Substitution.objects.filter(school=school)
        .select_related(
            "period", "target_period", "subject", "teacher", "substitute_teacher", "room"
        )
        .prefetch_related(
            "classes",
            "lesson__classes",
            "lesson__teachers",
            "lesson__rooms",
            "lesson__subject",
            "lesson__period",
        )
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


@router.post(
    "/schools/{slug}/substitutions",
    response={201: SubstitutionOut},
    by_alias=True,
    openapi_extra={"responses": {422: {"description": "validation_error or change_conflict"}}},
)
@idempotent
def create_substitution(
    request: HttpRequest, slug: str, payload: SubstitutionIn
) -> Status[dict[str, object]]:
    school = school_for(request, slug, Right.TIMETABLE)
    calendar = SchoolCalendarView.load(school.pk)
    change = Substitution(school=school)
    data = _api_data(payload)
    with transaction.atomic():
        classes = _apply(school, change, data, calendar)
        _save(change, classes, None)
    return Status(201, _out(_queryset(school).get(pk=change.pk)))


@router.put("/schools/{slug}/substitutions", response=list[SubstitutionOut], by_alias=True)
def replace_day(
    request: HttpRequest, slug: str, query: Query[DayQuery], payload: list[SubstitutionIn]
) -> list[dict[str, object]]:
    """Replace all substitutions of one day at once (one transaction, one revision)."""
    school = school_for(request, slug, Right.TIMETABLE)
    day = query.date or _today(school)
    if len(payload) > MAX_DAY_ITEMS:
        raise invalid("body", f"At most {MAX_DAY_ITEMS} changes a day.")
    calendar = SchoolCalendarView.load(school.pk)
    for index, item in enumerate(payload):
        if item.date != day:
            raise invalid(f"{index}.date", f"Every item must be for {day.isoformat()}.")
    with transaction.atomic(), revision.batch():
        Substitution.objects.filter(school=school, date=day).delete()
        for index, item in enumerate(payload):
            change = Substitution(school=school)
            classes = _apply(school, change, _api_data(item), calendar, index)
            _save(change, classes, index)
    return [_out(s) for s in _queryset(school).filter(date=day)]


@router.get("/schools/{slug}/substitutions/{pk}", response=SubstitutionOut, by_alias=True)
def get_substitution(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    school = school_for(request, slug)
    return _out(get_in_school(_queryset(school), school, pk, "substitution"))


def _update(request: HttpRequest, slug: str, pk: int, data: dict[str, Any]) -> dict[str, object]:
    school = school_for(request, slug, Right.TIMETABLE)
    calendar = SchoolCalendarView.load(school.pk)
    with transaction.atomic(), revision.batch():
        change = get_in_school(Substitution.objects.select_for_update(), school, pk, "substitution")
        classes = _apply(school, change, data, calendar)
        _save(change, classes, None)
    return _out(_queryset(school).get(pk=pk))


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


# --- the effective timetable -------------------------------------------------------------


class SlotChangeOut(Schema):
    id: int
    kind: str
    note: str
    moved_to: dict[str, Any] | None = Field(description='{"date", "period"} it moved to.')
    moved_from: dict[str, Any] | None = Field(description='{"date", "period"} it came from.')


class SlotOut(Schema):
    period: int
    classes: list[str]
    group: str
    lesson: int | None
    regular: ValuesOut | None
    now: ValuesOut | None
    changed: list[str] = Field(description="Which of subject, teachers, rooms differ.")
    change: SlotChangeOut | None


class ClosureOut(Schema):
    kind: str
    name: str
    starts_on: dt.date
    ends_on: dt.date


class NeedsCoverOut(Schema):
    slot: SlotOut
    teacher: str
    absence: int


class DayOut(Schema):
    date: dt.date
    weekday: int
    week_label: str | None
    school_day: bool
    reason: str | None = Field(description="No school: closure, outside_term or no_lessons.")
    closure: ClosureOut | None
    slots: list[SlotOut]
    next_school_day: dt.date | None
    needs_cover: list[NeedsCoverOut] = Field(
        description="Lessons of absent teachers that no change covers yet."
    )


class DayViewQuery(DayQuery):
    classes: list[str] | None = Field(None, max_length=50, description="Only these classes.")


@router.get("/schools/{slug}/day", response=DayOut, tags=["timetable"])
def get_day(request: HttpRequest, slug: str, query: Query[DayViewQuery]) -> dict[str, Any]:
    """The effective timetable of a date: the lessons that take place (calendar, week rotation,
    validity) with that day's changes applied, each with its regular values and what changed."""
    school = school_for(request, slug)
    day = query.date or _today(school)
    calendar = SchoolCalendarView.load(school.pk)
    class_ids = None
    if query.classes:
        class_ids = list(
            SchoolClass.objects.filter(school=school, name__in=query.classes).values_list(
                "pk", flat=True
            )
        )
    result = day_json(effective_day(school, day, class_ids=class_ids, calendar=calendar))
    result["next_school_day"] = calendar.next_school_day(day)
    result["needs_cover"] = [
        {"slot": slot_json(slot), "teacher": absence.teacher.code, "absence": absence.pk}
        for slot, absence in uncovered_lessons(school, day)
    ]
    return result
