"""Several files of one import read together into one set of records.

``read_files`` detects and parses every file (all or nothing: the problems of
all files are raised together), then combines them:

* master data (GPU003 to GPU006) by code, the first row of a code winning;
* lessons: GPU001 rows joined with GPU002's week groups and validity, plus CSV lessons;
* substitutions from GPU014, monitor pages and CSV. When GPU014 and monitor pages
  come together, the substitutions are taken from GPU014 (dated, linked to lesson
  numbers) and the pages give only what GPU014 lacks: the day's messages, the
  week label and the "Stand" time;
* days of monitor pages merged by date (pages of one day are one day);
* holidays (GPU018).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hallboard.imports.detect import detect
from hallboard.imports.errors import ImportFileError, Problem, ProblemCollector
from hallboard.imports.hallboard_csv import parse_csv
from hallboard.imports.records import (
    ClassRecord,
    DayMessage,
    DayRecord,
    FileKind,
    HolidayRecord,
    LessonRecord,
    ParsedFile,
    RoomRecord,
    Skipped,
    SubjectRecord,
    SubstitutionRecord,
    TeacherRecord,
)
from hallboard.imports.untis_gpu import MIN_FIELDS, combine_lessons, parse_gpu
from hallboard.imports.untis_html import HtmlOptions, parse_monitor_page

#: Most files one import may hold.
MAX_FILES = 64


@dataclass
class Bundle:
    """All records of one import, ready for the mapping."""

    files: list[ParsedFile] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)  # GPU files hallboard does not read
    classes: list[ClassRecord] = field(default_factory=list)
    teachers: list[TeacherRecord] = field(default_factory=list)
    rooms: list[RoomRecord] = field(default_factory=list)
    subjects: list[SubjectRecord] = field(default_factory=list)
    holidays: list[HolidayRecord] = field(default_factory=list)
    lessons: list[LessonRecord] = field(default_factory=list)
    substitutions: list[SubstitutionRecord] = field(default_factory=list)
    days: list[DayRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # decisions the user should know about
    #: Dates whose substitutions this import states completely (see ``substitution_dates``).
    substitution_dates: set[date] = field(default_factory=set)

    @property
    def kinds(self) -> set[FileKind]:
        return {f.kind for f in self.files}

    @property
    def has_lessons(self) -> bool:
        return bool(self.kinds & {FileKind.GPU001, FileKind.CSV_LESSONS})

    @property
    def has_substitutions(self) -> bool:
        return bool(self.kinds & {FileKind.GPU014, FileKind.UNTIS_HTML, FileKind.CSV_SUBSTITUTIONS})

    def summary(self) -> dict[str, Any]:
        return {
            "files": [f.summary() for f in self.files],
            "ignored_files": list(self.ignored_files),
            "records": {
                "classes": len(self.classes),
                "teachers": len(self.teachers),
                "rooms": len(self.rooms),
                "subjects": len(self.subjects),
                "holidays": len(self.holidays),
                "lessons": len(self.lessons),
                "substitutions": len(self.substitutions),
                "days": len(self.days),
            },
            "skipped": _count(s.reason for s in self.skipped),
            "notes": [n.as_dict() for n in self.notes],
        }


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def parse_file(
    name: str, data: bytes, kind: FileKind, html_options: HtmlOptions | None = None
) -> ParsedFile:
    if kind in MIN_FIELDS:
        return parse_gpu(name, data, kind)
    if kind is FileKind.UNTIS_HTML:
        return parse_monitor_page(name, data, html_options)
    return parse_csv(name, data, kind)


def read_files(
    files: Sequence[tuple[str, bytes]],
    *,
    family: str = "auto",
    html_options: HtmlOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Detect, parse and combine; ``ImportFileError`` with every file's problems."""
    problems: list[Problem] = []
    bundle = Bundle()
    if len(files) > MAX_FILES:
        raise ProblemCollector(files[MAX_FILES][0]).fail("too_many_files", limit=MAX_FILES)
    names = [name for name, _ in files]
    for name, data in files:
        if progress is not None:
            progress(name)
        try:
            kind = detect(name, data, family)
            if kind is None:
                bundle.ignored_files.append(name)
                continue
            bundle.files.append(parse_file(name, data, kind, html_options))
        except ImportFileError as exc:
            problems.extend(exc.problems)
    if not problems:
        _check_pairs(bundle, problems)
    if problems:
        raise ImportFileError(problems)
    if not bundle.files:
        raise ProblemCollector(", ".join(names)[:200] or "-").fail("unknown_format")
    _combine(bundle)
    return bundle


def _check_pairs(bundle: Bundle, problems: list[Problem]) -> None:
    kinds = bundle.kinds
    if FileKind.GPU002 in kinds and FileKind.GPU001 not in kinds:
        name = next(f.name for f in bundle.files if f.kind is FileKind.GPU002)
        problems.append(Problem(name, "needs_gpu001"))


def _combine(bundle: Bundle) -> None:
    by_kind: dict[FileKind, list[ParsedFile]] = {}
    for parsed in bundle.files:
        by_kind.setdefault(parsed.kind, []).append(parsed)
        bundle.skipped.extend(parsed.skipped)

    def first_by_code(records: Iterable[Any]) -> list[Any]:
        seen: dict[str, Any] = {}
        for record in records:
            seen.setdefault(record.code, record)
        return list(seen.values())

    everything = bundle.files
    bundle.classes = first_by_code(r for f in everything for r in f.classes)
    bundle.teachers = first_by_code(r for f in everything for r in f.teachers)
    bundle.rooms = first_by_code(r for f in everything for r in f.rooms)
    bundle.subjects = first_by_code(r for f in everything for r in f.subjects)
    bundle.holidays = [r for f in everything for r in f.holidays]

    timetable = [r for f in by_kind.get(FileKind.GPU001, []) for r in f.timetable_rows]
    lesson_rows = [r for f in by_kind.get(FileKind.GPU002, []) for r in f.lesson_rows]
    if timetable:
        bundle.lessons.extend(combine_lessons(timetable, lesson_rows))
    bundle.lessons.extend(r for f in by_kind.get(FileKind.CSV_LESSONS, []) for r in f.lessons)

    pages = by_kind.get(FileKind.UNTIS_HTML, [])
    gpu014 = by_kind.get(FileKind.GPU014, [])
    for parsed in gpu014 + by_kind.get(FileKind.CSV_SUBSTITUTIONS, []):
        bundle.substitutions.extend(parsed.substitutions)
        bundle.substitution_dates.update(s.date for s in parsed.substitutions)
    if gpu014 and pages:
        bundle.notes.append(Problem(gpu014[0].name, "substitutions_from_gpu014"))
    else:
        for page in pages:
            bundle.substitutions.extend(page.substitutions)
            # A monitor page states its day completely, even when the day has no change.
            bundle.substitution_dates.update(d.date for d in page.days)
            bundle.substitution_dates.update(s.date for s in page.substitutions)
    bundle.days = _merge_days(d for page in pages for d in page.days)
    given = {_basename(p.name) for p in pages}
    for page in pages:
        for link in page.follow:
            if _basename(link) not in given:
                bundle.notes.append(Problem(page.name, "page_not_given", params={"link": link}))
    _dedupe_keys(bundle)


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1].casefold()


def _merge_days(days: Iterable[DayRecord]) -> list[DayRecord]:
    merged: dict[date, DayRecord] = {}
    for day in days:
        known = merged.get(day.date)
        if known is None:
            merged[day.date] = day
            continue
        messages: list[DayMessage] = list(known.messages)
        messages += [m for m in day.messages if m not in messages]
        as_of = max((t for t in (known.as_of, day.as_of) if t is not None), default=None)
        merged[day.date] = DayRecord(
            date=day.date,
            week_label=known.week_label or day.week_label,
            as_of=as_of,
            messages=tuple(messages),
            source=known.source,
        )
    return sorted(merged.values(), key=lambda d: d.date)


def _dedupe_keys(bundle: Bundle) -> None:
    """Keys must be unique within the import: a repeat across files gets a suffix."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    out: list[SubstitutionRecord] = []
    for record in bundle.substitutions:
        n = seen.get(record.key, 0) + 1
        seen[record.key] = n
        out.append(record if n == 1 else replace(record, key=f"{record.key}#{n}"))
    bundle.substitutions = out
    seen = {}
    lessons: list[LessonRecord] = []
    for lesson in bundle.lessons:
        n = seen.get(lesson.key, 0) + 1
        seen[lesson.key] = n
        lessons.append(lesson if n == 1 else replace(lesson, key=f"{lesson.key}#{n}"))
    bundle.lessons = lessons
