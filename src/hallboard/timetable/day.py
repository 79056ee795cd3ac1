"""The effective timetable: what a school's day really looks like, computed once, here.

``effective_day(school, date)`` takes the regular lessons that take place that
day (calendar, week rotation, validity) and applies that day's changes
(``Substitution``). Every slot carries the regular values and the values now,
so screens, the management API and the staff pages show a change in place and
reconcile nothing themselves:

- ``regular``: subject, teachers, rooms as planned (None for an extra lesson,
  or a lesson moved here: nothing was planned in this slot);
- ``now``: as it takes place (None when it does not: cancelled, moved away);
- ``change``: the change applied (its kind, note, where it moved to or from);
- ``changed``: which of subject, teachers, rooms differ between the two.

On a day without school (a holiday or closure, outside the terms, a weekday
the school never teaches) ``Day.school_day`` is False, ``Day.reason`` says why
and there are no slots. ``slots_json``/``day_json`` give the one JSON shape
the snapshot and the API share (docs/protocol.md, docs/data-model.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q

from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import (
    Closure,
    Lesson,
    Period,
    SchoolClass,
    Substitution,
    TeacherAbsence,
)

Kind = Substitution.Kind
FIELDS = ("subject", "teachers", "rooms")


@dataclass(frozen=True)
class Values:
    """What a slot holds: subject code, teacher codes, room names."""

    subject: str | None
    teachers: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()

    def as_json(self, hide_teachers: bool = False) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "teachers": [] if hide_teachers else list(self.teachers),
            "rooms": list(self.rooms),
        }


@dataclass
class Slot:
    """One lesson (or change) of one group of classes in one period of the day."""

    period: Period
    classes: tuple[SchoolClass, ...]
    group: str
    regular: Values | None
    now: Values | None
    lesson: Lesson | None = None
    change: Substitution | None = None
    #: Where a moved lesson went (date, period) / came from; None otherwise.
    moved_to: tuple[dt.date, Period] | None = None
    moved_from: tuple[dt.date, Period] | None = None

    @property
    def class_ids(self) -> frozenset[int]:
        return frozenset(c.pk for c in self.classes)

    @property
    def kind(self) -> str | None:
        return self.change.kind if self.change is not None else None

    @property
    def changed(self) -> list[str]:
        """The fields whose value now differs from the regular one."""
        if self.regular is None or self.now is None:
            return []
        return [f for f in FIELDS if getattr(self.regular, f) != getattr(self.now, f)]

    @property
    def takes_place(self) -> bool:
        return self.now is not None

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.period.starts_at,
            self.period.number,
            [natural_key(c.name) for c in self.classes],
            self.group,
            self.lesson.pk if self.lesson else 0,
            self.change.pk if self.change else 0,
        )


@dataclass
class Day:
    """The effective timetable of one date for one school."""

    date: dt.date
    school_day: bool
    reason: str | None  # why there is no school: "closure", "outside_term", "no_lessons"
    closure: Closure | None
    week_label: str | None
    slots: list[Slot] = field(default_factory=list)


def natural_key(text: str) -> list[Any]:
    """'10a' after '9b': numbers compared as numbers."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text)]


def _lesson_values(lesson: Lesson) -> Values:
    return Values(
        subject=lesson.subject.code,
        teachers=tuple(sorted(t.code for t in lesson.teachers.all())),
        rooms=tuple(sorted(r.name for r in lesson.rooms.all())),
    )


def applied(change: Substitution, lesson: Lesson) -> Values:
    """The lesson's values with the change's overrides: what takes place."""
    regular = _lesson_values(lesson)
    teachers = regular.teachers
    if change.substitute_teacher is not None:
        substitute = change.substitute_teacher.code
        replaced = change.teacher.code if change.teacher is not None else None
        if replaced is not None and replaced in teachers and len(teachers) > 1:
            teachers = tuple(sorted(substitute if t == replaced else t for t in teachers))
        else:
            teachers = (substitute,)
    return Values(
        subject=change.subject.code if change.subject is not None else regular.subject,
        teachers=teachers,
        rooms=(change.room.name,) if change.room is not None else regular.rooms,
    )


def _own_values(change: Substitution, *, planned: bool) -> Values:
    """A change without a lesson: its own subject, teacher and room."""
    if planned:  # what would have been (cancelled, substituted, room changed)
        teacher = change.teacher
        room = None if change.kind == Kind.ROOM_CHANGE else change.room
    else:
        teacher = change.substitute_teacher or change.teacher
        room = change.room
    return Values(
        subject=change.subject.code if change.subject is not None else None,
        teachers=(teacher.code,) if teacher is not None else (),
        rooms=(room.name,) if room is not None else (),
    )


def _classes(change: Substitution | None, lesson: Lesson | None) -> tuple[SchoolClass, ...]:
    own = list(change.classes.all()) if change is not None else []
    if not own and lesson is not None:
        own = list(lesson.classes.all())
    return tuple(sorted(own, key=lambda c: natural_key(c.name)))


def _lessons_query(school: School) -> Any:
    return (
        Lesson.objects.filter(school=school)
        .select_related("period", "subject")
        .prefetch_related("classes", "teachers", "rooms")
    )


def _changes_query(school: School) -> Any:
    return (
        Substitution.objects.filter(school=school)
        .select_related(
            "period", "target_period", "subject", "teacher", "substitute_teacher", "room"
        )
        .prefetch_related(
            "classes",
            Prefetch("lesson", queryset=_lessons_query(school)),
        )
    )


def effective_day(
    school: School,
    day: dt.date,
    *,
    class_ids: Iterable[int] | None = None,
    calendar: SchoolCalendarView | None = None,
) -> Day:
    """The lessons of ``day`` that take place, with the day's changes applied.

    ``class_ids`` limits the slots to those of these classes (a screen's view);
    None means the whole school.
    """
    calendar = calendar or SchoolCalendarView.load(school.pk)
    reason = calendar.no_school_reason(day)
    closure = calendar.closure_on(day)
    label = calendar.week_label(day)
    result = Day(day, reason is None, reason, closure, label)
    if reason in ("closure", "outside_term"):
        return result  # no lessons and no changes on the screen

    lessons = [
        lesson
        for lesson in _lessons_query(school).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
            weekday=day.isoweekday(),
        )
        if not lesson.week_labels or label in lesson.week_labels
    ]
    changes = list(
        _changes_query(school).filter(
            Q(date=day) | Q(kind__in=Substitution.MOVING, target_date=day)
        )
    )
    by_lesson = {c.lesson_id: c for c in changes if c.lesson_id is not None and c.date == day}

    slots: list[Slot] = []
    seen: set[int] = set()
    for lesson in lessons:
        seen.add(lesson.pk)
        slots.append(_lesson_slot(lesson, by_lesson.get(lesson.pk)))
    for change in changes:
        if change.date == day and change.lesson is not None and change.lesson_id not in seen:
            # The change names a lesson the calendar says is not on today (the rotation
            # or validity changed since): it was entered for today, so it is shown.
            slots.append(_lesson_slot(change.lesson, change))
        elif change.date == day and change.lesson is None:
            slots.append(_free_slot(change))
        target = change.moved_to
        if target is not None and target[0] == day and change.lesson is not None:
            slots.append(_moved_in_slot(change, change.lesson))

    if class_ids is not None:
        wanted = frozenset(class_ids)
        slots = [s for s in slots if s.class_ids & wanted]
    result.slots = sorted(slots, key=Slot.sort_key)
    return result


def _lesson_slot(lesson: Lesson, change: Substitution | None) -> Slot:
    regular = _lesson_values(lesson)
    slot = Slot(
        period=lesson.period,
        classes=_classes(change, lesson),
        group=(change.group if change and change.group else lesson.group),
        regular=regular,
        now=regular,
        lesson=lesson,
        change=change,
    )
    if change is None:
        return slot
    if change.kind == Kind.CANCELLED:
        slot.now = None
    elif change.moves:
        slot.now = None
        if change.target_period is not None:
            slot.moved_to = (change.target_date or change.date, change.target_period)
    else:
        slot.now = applied(change, lesson)
    return slot


def _moved_in_slot(change: Substitution, lesson: Lesson) -> Slot:
    assert change.target_period is not None
    return Slot(
        period=change.target_period,
        classes=_classes(change, lesson),
        group=change.group or lesson.group,
        regular=None,
        now=applied(change, lesson),
        lesson=lesson,
        change=change,
        moved_from=(change.date, change.period),
    )


def _free_slot(change: Substitution) -> Slot:
    """A change without a lesson: an extra lesson, an exam, a note (or older data)."""
    planned = change.kind in (Kind.CANCELLED, Kind.SUBSTITUTE, Kind.ROOM_CHANGE)
    return Slot(
        period=change.period,
        classes=_classes(change, None),
        group=change.group,
        regular=_own_values(change, planned=True) if planned else None,
        now=None if change.kind == Kind.CANCELLED else _own_values(change, planned=False),
        change=change,
    )


def change_slot(change: Substitution) -> Slot:
    """The slot a change makes of its lesson's regular place (for lists of changes)."""
    if change.lesson is not None:
        return _lesson_slot(change.lesson, change)
    return _free_slot(change)


def uncovered_lessons(school: School, day: dt.date) -> list[tuple[Slot, TeacherAbsence]]:
    """Lessons on ``day`` whose teacher is absent and that no change covers yet.

    A lesson counts as covered when a change names it (any kind: cancelled,
    substituted, moved...). For the staff page's "needs cover" list.
    """
    absences = list(
        TeacherAbsence.objects.filter(
            school=school, starts_on__lte=day, ends_on__gte=day
        ).select_related("teacher", "first_period", "last_period")
    )
    if not absences:
        return []
    result = []
    for slot in effective_day(school, day).slots:
        if slot.lesson is None or slot.change is not None or slot.regular is None:
            continue
        for absence in absences:
            if absence.teacher.code in slot.regular.teachers and absence.covers(day, slot.period):
                result.append((slot, absence))
                break
    return result


# --- the JSON shape shared by the snapshot and the API ---------------------------------


def _where(target: tuple[dt.date, Period] | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {"date": target[0].isoformat(), "period": target[1].number}


def slot_json(slot: Slot, *, hide_teachers: bool = False) -> dict[str, Any]:
    change = slot.change
    changed = slot.changed
    if hide_teachers and "teachers" in changed:
        changed = [f for f in changed if f != "teachers"]
    return {
        "period": slot.period.number,
        "classes": [c.name for c in slot.classes],
        "group": slot.group,
        "lesson": slot.lesson.pk if slot.lesson is not None else None,
        "regular": slot.regular.as_json(hide_teachers) if slot.regular else None,
        "now": slot.now.as_json(hide_teachers) if slot.now else None,
        "changed": changed,
        "change": None
        if change is None
        else {
            "id": change.pk,
            "kind": change.kind,
            "note": change.note,
            "moved_to": _where(slot.moved_to),
            "moved_from": _where(slot.moved_from),
        },
    }


def day_json(day: Day, *, hide_teachers: bool = False) -> dict[str, Any]:
    closure = day.closure
    return {
        "date": day.date.isoformat(),
        "weekday": day.date.isoweekday(),
        "week_label": day.week_label,
        "school_day": day.school_day,
        "reason": day.reason,
        "closure": None
        if closure is None
        else {
            "kind": closure.kind,
            "name": closure.name,
            "starts_on": closure.starts_on.isoformat(),
            "ends_on": closure.ends_on.isoformat(),
        },
        "slots": [slot_json(s, hide_teachers=hide_teachers) for s in day.slots],
    }
