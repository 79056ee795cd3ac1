"""The demo's German school as Untis exports it: GPU files written, then imported.

Lindenhof's timetable is not put into the database row by row: the demo writes
the files Untis would export (``hallboard.imports.untis_write``) into the
school's watched folder, ``$HALLBOARD_DATA_DIR/imports/lindenhof/``, and
imports them with the import itself (``hallboard.imports.service``):

1. ``GPU001``-``GPU006`` (timetable, lessons with A/B week groups, classes,
   teachers, rooms, subjects) and ``GPU018`` (the holiday next week);
2. ``GPU014``: the changes of the demo's today and next school day. These
   depend on the date the demo is seeded, so they are written at seed time,
   from the lessons the first import made (their Untis lesson numbers), and
   imported second.

The folder is then the school's watched source: replace ``GPU014.TXT`` there
(or any file) and the running demo imports it within seconds (docs/import.md).
The bell schedule and the A/B rotation are set directly: Untis' text exports
carry neither.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.records import ChangeKind, SubstitutionRecord
from hallboard.imports.service import run_import
from hallboard.imports.sources import fingerprint
from hallboard.imports.untis_write import (
    gpu001_row,
    gpu002_row,
    gpu004_row,
    gpu014_row,
    gpu018_row,
    master_row,
    write_rows,
)
from hallboard.schools.models import School
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import Lesson, Period

if TYPE_CHECKING:
    from hallboard.demo.seed import SchoolPlan

SOURCE_LABEL = "hallboard demo"
SPECIAL_ROOMS = {"SP": -3, "BIO": -2, "MU": -1}


@dataclass
class Planned:
    """One lesson as Untis numbers it."""

    number: int
    weekday: int
    period: int
    classes: list[str]
    subject: str
    teacher: str
    room: str
    week: str = ""


def folder_for(slug: str) -> Path:
    return Path(settings.DATA_DIR) / "imports" / slug


def plan_lessons(
    plan: SchoolPlan, rng: random.Random, weekdays: list[int], periods: int
) -> list[Planned]:
    """A week: each class gets its subjects' weekly hours spread over the days, younger
    classes finish earlier, one slot a day alternates between two subjects (A/B weeks);
    religion of two classes together in two parallel groups."""
    teaches = {code: subjects for code, _, subjects in plan.teachers}
    by_subject = {
        code: [t for t, _, _ in plan.teachers if code in teaches[t]] for code, _, _ in plan.subjects
    }
    rooms = plan.rooms
    lessons: list[Planned] = []
    number = 100
    for index, (name, grade) in enumerate(plan.classes):
        per_day = periods - (2 if grade <= 6 else 0)
        pool = [code for code, _, hours in plan.subjects for _ in range(hours)]
        rng.shuffle(pool)
        teacher_of = {code: rng.choice(by_subject[code]) for code, _, _ in plan.subjects}
        home = rooms[index % 10]
        numbers: dict[str, int] = {}
        for weekday in weekdays:
            for period in range(1, per_day + 1):
                code = pool[(weekday * per_day + period) % len(pool)]
                variants = [(code, "")]
                if period == 1 + (weekday + grade) % per_day:
                    other = pool[(weekday * per_day + period + 7) % len(pool)]
                    if other != code:
                        variants = [(code, "A"), (other, "B")]
                for subject, week in variants:
                    key = f"{subject}/{week}"
                    if key not in numbers:
                        number += 1
                        numbers[key] = number
                    room = rooms[SPECIAL_ROOMS[subject]] if subject in SPECIAL_ROOMS else home
                    lessons.append(
                        Planned(
                            numbers[key],
                            weekday,
                            period,
                            [name],
                            subject,
                            teacher_of[subject],
                            room,
                            week,
                        )
                    )
    # religion: the two classes of a grade together, Wednesday, in two groups
    grades = sorted({grade for _, grade in plan.classes})[:3]
    for grade in grades:
        pair = [name for name, g in plan.classes if g == grade][:2]
        for group, teacher in (("ev", by_subject["REL"][0]), ("kath", by_subject["REL"][-1])):
            number += 1
            room = rooms[len(group)]
            lessons.append(Planned(number, 3, min(5, periods), pair, "REL", teacher, room))
    return lessons


def timetable_files(
    plan: SchoolPlan, lessons: list[Planned], holiday: tuple[str, dt.date, dt.date] | None
) -> list[tuple[str, bytes]]:
    """GPU001-006 and GPU018, as Untis writes them (comma, quoted text, UTF-8, CRLF)."""
    gpu001 = [
        gpu001_row(x.number, cls, x.teacher, x.subject, x.room, x.weekday, x.period)
        for x in lessons
        for cls in x.classes
    ]
    seen: set[tuple[int, str]] = set()
    gpu002 = []
    for x in lessons:
        for cls in x.classes:
            if (x.number, cls) not in seen:
                seen.add((x.number, cls))
                gpu002.append(
                    gpu002_row(x.number, cls, x.teacher, x.subject, [x.room], week_group=x.week)
                )
    teachers = []
    for code, name, _ in plan.teachers:
        title, _, surname = name.partition(" ")
        teachers.append(gpu004_row(code, surname or name, title if surname else ""))
    files = {
        "GPU001.TXT": gpu001,
        "GPU002.TXT": gpu002,
        "GPU003.TXT": [master_row(name, f"Klasse {name}") for name, _ in plan.classes],
        "GPU004.TXT": teachers,
        "GPU005.TXT": [master_row(room, room) for room in plan.rooms],
        "GPU006.TXT": [master_row(code, name) for code, name, _ in plan.subjects],
    }
    if holiday is not None:
        holiday_name, first, last = holiday
        files["GPU018.TXT"] = [gpu018_row(holiday_name[:8].upper(), holiday_name, first, last)]
    return [(name, write_rows(rows)) for name, rows in files.items()]


def _number(lesson: Lesson) -> int:
    return int(lesson.external_id.split("/", 1)[0])


def changes_file(
    school: School, days: list[tuple[dt.date, int]], rng: random.Random, texts: dict[str, str]
) -> bytes:
    """GPU014 with changes of every kind Untis exports on each (date, count) given."""
    view = SchoolCalendarView.load(school.pk)
    lessons = list(
        Lesson.objects.filter(school=school)
        .select_related("period", "subject")
        .prefetch_related("classes", "teachers", "rooms")
    )
    teachers = sorted({t.code for x in lessons for t in x.teachers.all()})
    rooms = sorted({r.name for x in lessons for r in x.rooms.all()})
    periods = list(Period.objects.filter(school=school).order_by("number"))
    kinds = [
        ChangeKind.SUBSTITUTE,
        ChangeKind.CANCELLED,
        ChangeKind.ROOM_CHANGE,
        ChangeKind.MOVED,
        ChangeKind.SUBSTITUTE,
        ChangeKind.EXAM,
        ChangeKind.SUPERVISION,
        ChangeKind.ROOM_CHANGE,
        ChangeKind.CANCELLED,
        ChangeKind.SUBSTITUTE,
    ]
    rows = []
    number = 0
    for day, count in days:
        label = view.week_label(day)
        todays = [
            x
            for x in lessons
            if x.weekday == day.isoweekday() and (not x.weeks or x.weeks == label)
        ]
        busy = {(c.name, x.period.number) for x in todays for c in x.classes.all()}
        sample = rng.sample(todays, min(count, len(todays)))
        movable = [  # a lesson whose classes have a free period: the one that is moved
            x
            for x in todays
            if x not in sample[:3]
            and any(all((c.name, p.number) not in busy for c in x.classes.all()) for p in periods)
        ]
        if len(sample) > 3 and movable:
            sample[3] = movable[0]
        for i, lesson in enumerate(sample):
            kind = kinds[i % len(kinds)]
            classes = tuple(sorted(c.name for c in lesson.classes.all()))
            teacher = next(iter(t.code for t in lesson.teachers.all()), "")
            room = tuple(r.name for r in lesson.rooms.all())
            base = SubstitutionRecord(
                key="",
                date=day,
                period_from=lesson.period.number,
                period_to=lesson.period.number,
                kind=kind,
                classes=classes,
                subject=lesson.subject.code,
                teacher=teacher,
                rooms=room,
                substitute_classes=classes,
                text=texts.get(kind.value, ""),
                last_change=dt.datetime.combine(day, dt.time(7, 5)),
            )
            values: dict[str, object] = {}
            if kind in (ChangeKind.SUBSTITUTE, ChangeKind.SUPERVISION):
                values = {
                    "substitute_teacher": rng.choice([t for t in teachers if t != teacher]),
                    "substitute_subject": lesson.subject.code,
                    "substitute_rooms": room,
                }
            elif kind == ChangeKind.ROOM_CHANGE:
                values = {
                    "substitute_teacher": teacher,
                    "substitute_subject": lesson.subject.code,
                    "substitute_rooms": (rng.choice([r for r in rooms if r not in room]),),
                }
            elif kind == ChangeKind.EXAM:
                values = {"substitute_teacher": teacher, "substitute_rooms": room}
            elif kind == ChangeKind.MOVED:
                free = [
                    p.number
                    for p in periods
                    if p.number != lesson.period.number
                    and all((c, p.number) not in busy for c in classes)
                ]
                if not free:
                    values = {"kind": ChangeKind.CANCELLED}
                else:
                    target = free[-1]
                    busy |= {(c, target) for c in classes}
                    number += 1
                    rows.append(gpu014_row(_with(base, raw_type="F"), number, _number(lesson)))
                    moved_in = _with(
                        base,
                        period_from=target,
                        period_to=target,
                        teacher="",
                        subject="",
                        rooms=(),
                        substitute_teacher=teacher,
                        substitute_subject=lesson.subject.code,
                        substitute_rooms=room,
                        raw_type="T",
                    )
                    number += 1
                    rows.append(gpu014_row(moved_in, number, _number(lesson)))
                    continue
            number += 1
            rows.append(gpu014_row(_with(base, **values), number, _number(lesson)))
    return write_rows(rows)


def _with(record: SubstitutionRecord, **values: object) -> SubstitutionRecord:
    from dataclasses import replace

    return replace(record, **values)  # type: ignore[arg-type]


def import_files(school: School, files: list[tuple[str, bytes]]) -> None:
    outcome = run_import(
        school,
        files,
        origin=ImportRun.Origin.CLI,
        source=f"{SOURCE_LABEL}: {', '.join(n for n, _ in files)}",
    )
    if not outcome.ok:
        raise RuntimeError(f"the demo's Untis files did not import: {outcome.run.problems}")


def seed_from_untis(
    school: School,
    plan: SchoolPlan,
    rng: random.Random,
    weekdays: list[int],
    holiday: tuple[str, dt.date, dt.date] | None,
    today: dt.date,
    texts: dict[str, str],
) -> None:
    """Write the school's Untis export to its folder, import it, and watch the folder.

    Changes: 14 today, 5 on the next school day (by the calendar as imported).
    """
    folder = folder_for(school.slug)
    folder.mkdir(parents=True, exist_ok=True)
    lessons = plan_lessons(plan, rng, weekdays, len(plan.periods))
    files = timetable_files(plan, lessons, holiday)
    import_files(school, files)
    view = SchoolCalendarView.load(school.pk)
    days = [
        (day, count)
        for day, count in ((today, 14), (view.next_school_day(today), 5))
        if day is not None and view.school_day(day)
    ]
    changes = ("GPU014.TXT", changes_file(school, days, rng, texts))
    import_files(school, [changes])
    everything = [*files, changes]
    for name, data in everything:
        (folder / name).write_bytes(data)
    WatchedSource.objects.update_or_create(
        school=school,
        defaults={
            "kind": WatchedSource.Kind.FOLDER,
            "location": str(folder),
            "interval_seconds": 15,
            "fingerprint": fingerprint(everything),  # already imported: the first check is quiet
        },
    )
