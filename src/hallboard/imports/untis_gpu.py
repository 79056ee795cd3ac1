"""Untis "GPU" text exports (``GPUnnn.TXT``): field orders and their meaning.

Field orders (0-based) are those documented by Untis' export help and by the
open-source parsers that read these files (enbrea.untis.gpu, SchulIT's
untisexporter, SVWS); docs/import.md lists them with what hallboard does with
each field. The files carry no header row. Values are trimmed (Untis writes
``" S"`` for the type letter in some versions); lists inside a field are
``~``-separated; dates are ``yyyyMMdd``, timestamps ``yyyyMMddHHmm``; weekdays
run 1 = Monday to 6 = Saturday.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date

from hallboard.imports.errors import ProblemCollector
from hallboard.imports.fields import Cells
from hallboard.imports.records import (
    ChangeKind,
    ClassRecord,
    FileKind,
    GpuLessonRow,
    GpuTimetableRow,
    HolidayRecord,
    LessonRecord,
    ParsedFile,
    RoomRecord,
    Skipped,
    Source,
    SubjectRecord,
    SubstitutionRecord,
    TeacherRecord,
)
from hallboard.imports.text import read_table

LESSON_NO_MAX = 2**31 - 1
PERIOD_MAX = 99

#: Fewest fields a row of each file must have: the last column hallboard reads.
#: (Untis writes more: GPU001 9, GPU002 46, GPU014 22.)
MIN_FIELDS = {
    FileKind.GPU001: 7,
    FileKind.GPU002: 16,
    FileKind.GPU003: 1,
    FileKind.GPU004: 1,
    FileKind.GPU005: 1,
    FileKind.GPU006: 1,
    FileKind.GPU014: 21,
    FileKind.GPU018: 4,
}

# --- GPU014: the kind of change ---------------------------------------------------
# Column T's letter decides; an empty letter falls back to the "Art" bit field.
# Bits are numbered 1 << n (bit 0 = 1): 0 cancellation, 16 room substitution,
# 20 "do not print", 21 "new". The parsers disagree on this numbering; the
# letter is what the tests pin down (docs/import.md).
LETTER_KINDS: dict[str, ChangeKind] = {
    "C": ChangeKind.CANCELLED,  # Entfall
    "R": ChangeKind.ROOM_CHANGE,  # Raumvertretung
    "T": ChangeKind.MOVED,  # verlegt
    "F": ChangeKind.MOVED,  # verlegt von
    "W": ChangeKind.SWAPPED,  # Tausch
    "~": ChangeKind.SWAPPED,  # Lehrertausch
    "S": ChangeKind.SUPERVISION,  # Betreuung
    "B": ChangeKind.SUPERVISION,  # Pausenaufsichtsvertretung (a break, not a lesson)
    "A": ChangeKind.SUBSTITUTE,  # Sondereinsatz
    "P": ChangeKind.SUBSTITUTE,  # Teilvertretung
    "L": ChangeKind.CANCELLED,  # Freisetzung: the class is away, the lesson does not happen
    "E": ChangeKind.EXAM,  # Klausur
}
BIT_CANCELLED = 1 << 0
BIT_ROOM = 1 << 16
BIT_DO_NOT_PRINT = 1 << 20
BIT_NEW = 1 << 21
FLAGS_MAX = 2**31 - 1


def change_kind(letter: str, flags: int) -> ChangeKind:
    """The kind of a GPU014 row: the letter first, then bits 0 and 16."""
    if letter:
        kind = LETTER_KINDS.get(letter.upper())
        if kind is not None:
            return kind
    if flags & BIT_CANCELLED:
        return ChangeKind.CANCELLED
    if flags & BIT_ROOM:
        return ChangeKind.ROOM_CHANGE
    return ChangeKind.SUBSTITUTE


def _label(index: int, name: str) -> str:
    return f"{name} (column {index + 1})"


def parse_gpu(name: str, data: bytes, kind: FileKind) -> ParsedFile:
    """Read one GPU file of a known kind; ``ImportFileError`` on any bad row."""
    if kind not in MIN_FIELDS:
        raise ValueError(f"not a GPU file kind: {kind}")
    fmt, rows = read_table(name, data, min_fields=MIN_FIELDS[kind])
    result = ParsedFile(name=name, kind=kind, text_format=fmt, rows=len(rows))
    problems = ProblemCollector(name)
    readers: dict[FileKind, Callable[[ParsedFile, Cells], None]] = {
        FileKind.GPU001: _gpu001,
        FileKind.GPU002: _gpu002,
        FileKind.GPU003: _gpu003,
        FileKind.GPU004: _gpu004,
        FileKind.GPU005: _gpu005,
        FileKind.GPU006: _gpu006,
        FileKind.GPU014: _gpu014,
        FileKind.GPU018: _gpu018,
    }
    read = readers[kind]
    needed = MIN_FIELDS[kind]
    for row in rows:
        if problems.full:
            break
        if len(row.fields) < needed:
            problems.add("too_few_fields", line=row.line, found=len(row.fields), needed=needed)
            continue
        read(result, Cells(row, problems, _label))
    problems.check()
    if kind is FileKind.GPU014:
        result.substitutions = _unique_keys(result.substitutions)
    return result


def _source(cells: Cells) -> Source:
    return Source(cells.problems.file, cells.row.line)


def _gpu001(result: ParsedFile, c: Cells) -> None:
    lesson_no = c.integer(0, "lesson number", low=0, high=LESSON_NO_MAX, required=True)
    class_code = c.text(1, "class")
    teacher = c.text(2, "teacher")
    subject = c.text(3, "subject")
    room = c.text(4, "room")
    weekday = c.integer(5, "day", low=1, high=7, required=True)
    period = c.integer(6, "period", low=0, high=PERIOD_MAX, required=True)
    duration = _duration(c, 7)
    if c.ok and lesson_no is not None and weekday is not None and period is not None:
        result.timetable_rows.append(
            GpuTimetableRow(
                lesson_no=lesson_no,
                class_code=class_code,
                teacher=teacher,
                subject=subject,
                room=room,
                weekday=weekday,
                period=period,
                duration_minutes=duration,
                source=_source(c),
            )
        )


def _duration(c: Cells, index: int) -> int | None:
    """``hh:mm`` or minutes; kept for the record, not used by the mapping."""
    value = c.raw(index)
    if not value:
        return None
    hours, sep, minutes = value.partition(":")
    if sep and hours.isdigit() and minutes.isdigit() and len(value) <= 8:
        return int(hours) * 60 + int(minutes)
    if value.isdigit() and len(value) <= 6:
        return int(value)
    c.problem("not_integer", index, "duration", value=value[:40])
    return None


def _gpu002(result: ParsedFile, c: Cells) -> None:
    lesson_no = c.integer(0, "lesson number", low=0, high=LESSON_NO_MAX, required=True)
    class_code = c.text(4, "class")
    teacher = c.text(5, "teacher")
    subject = c.text(6, "subject")
    rooms = c.items(7, "rooms")
    week_group = c.text(11, "lesson group")
    valid_from = c.compact_date(14, "valid from")
    valid_to = c.compact_date(15, "valid to")
    text = c.text(17, "text")
    if valid_from and valid_to and valid_to < valid_from:
        c.problem("bad_range", 15, "valid to")
    if c.ok and lesson_no is not None:
        result.lesson_rows.append(
            GpuLessonRow(
                lesson_no=lesson_no,
                class_code=class_code,
                teacher=teacher,
                subject=subject,
                rooms=rooms,
                week_group=week_group,
                valid_from=valid_from,
                valid_to=valid_to,
                text=text,
                source=_source(c),
            )
        )


def _master(c: Cells, what: str) -> tuple[str, str] | None:
    code = c.text(0, f"{what} short name", required=True)
    name = c.text(1, "long name")
    return (code, name) if c.ok else None


def _gpu003(result: ParsedFile, c: Cells) -> None:
    if got := _master(c, "class"):
        result.classes.append(ClassRecord(got[0], got[1], _source(c)))


def _gpu004(result: ParsedFile, c: Cells) -> None:
    if got := _master(c, "teacher"):
        first = c.text(28, "first name")
        name = f"{first} {got[1]}".strip() if got[1] else first
        result.teachers.append(TeacherRecord(got[0], name, _source(c)))


def _gpu005(result: ParsedFile, c: Cells) -> None:
    if got := _master(c, "room"):
        result.rooms.append(RoomRecord(got[0], got[1], _source(c)))


def _gpu006(result: ParsedFile, c: Cells) -> None:
    if got := _master(c, "subject"):
        result.subjects.append(SubjectRecord(got[0], got[1], _source(c)))


def _gpu018(result: ParsedFile, c: Cells) -> None:
    code = c.text(0, "short name", required=True)
    long_name = c.text(1, "long name")
    first = c.compact_date(2, "from", required=True)
    last = c.compact_date(3, "to", required=True)
    public = c.text(4, "public holiday").upper() == "F"
    if first and last and last < first:
        c.problem("bad_range", 3, "to")
    if c.ok and first and last:
        result.holidays.append(
            HolidayRecord(code, long_name or code, first, last, public, _source(c))
        )


def _gpu014(result: ParsedFile, c: Cells) -> None:
    number = c.integer(0, "substitution number", low=0, high=LESSON_NO_MAX, required=True)
    day = c.compact_date(1, "date", required=True)
    period = c.integer(2, "period", low=0, high=PERIOD_MAX, required=True)
    c.integer(3, "absence number", low=0, high=LESSON_NO_MAX)  # checked, not used
    lesson_no = c.integer(4, "lesson number", low=0, high=LESSON_NO_MAX)
    teacher = c.text(5, "absent teacher")
    substitute_teacher = c.text(6, "substitute teacher")
    subject = c.text(7, "subject")
    substitute_subject = c.text(9, "substitute subject")
    rooms = c.items(11, "rooms")
    substitute_rooms = c.items(12, "substitute rooms")
    classes = c.items(14, "classes")
    text = c.text(16, "text")
    flags = c.integer(17, "type bit field", low=0, high=FLAGS_MAX) or 0
    substitute_classes = c.items(18, "substitute classes")
    letter = c.text(19, "type letter")
    last_change = c.compact_timestamp(20, "last change")
    if not c.ok or number is None or day is None or period is None:
        return
    source = _source(c)
    if flags & BIT_DO_NOT_PRINT:
        result.skipped.append(Skipped(source, "do_not_print"))
        return
    result.substitutions.append(
        SubstitutionRecord(
            key=str(number),
            date=day,
            period_from=period,
            period_to=period,
            kind=change_kind(letter, flags),
            classes=classes,
            substitute_classes=substitute_classes,
            subject=subject,
            substitute_subject=substitute_subject,
            teacher=teacher,
            substitute_teacher=substitute_teacher,
            rooms=rooms,
            substitute_rooms=substitute_rooms,
            text=text,
            lesson_key=str(lesson_no) if lesson_no else "",
            is_new=bool(flags & BIT_NEW),
            is_break=letter.upper() == "B",
            raw_type=letter,
            raw_flags=flags,
            last_change=last_change,
            source=source,
        )
    )


def _unique_keys(records: list[SubstitutionRecord]) -> list[SubstitutionRecord]:
    """Substitution numbers are unique in Untis; should one repeat, date and period tell apart."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.key] = counts.get(record.key, 0) + 1
    out: list[SubstitutionRecord] = []
    seen: set[str] = set()
    for record in records:
        key = record.key
        if counts[key] > 1:
            key = f"{key}@{record.date:%Y%m%d}/{record.period_from}"
            n = 2
            base = key
            while key in seen:
                key, n = f"{base}#{n}", n + 1
        seen.add(key)
        out.append(record if key == record.key else _with_key(record, key))
    return out


def _with_key(record: SubstitutionRecord, key: str) -> SubstitutionRecord:
    from dataclasses import replace

    return replace(record, key=key)


# --- GPU001 + GPU002 → lessons --------------------------------------------------------


def combine_lessons(
    timetable_rows: Iterable[GpuTimetableRow], lesson_rows: Iterable[GpuLessonRow] = ()
) -> list[LessonRecord]:
    """Regular lessons from GPU001 (when) and GPU002 (week group, validity).

    GPU001 has one row per class of a lesson number at a time; rows of the same
    lesson number, day, period, teacher and subject are one lesson with several
    classes (and the rooms of all its rows). Its key ``no/day/period/teacher/
    subject`` stays the same across exports while those do. Week group and
    validity come from the GPU002 rows of the lesson number: the row of the same
    class and teacher if there is one, else the lesson number's first row.
    """
    by_number: dict[int, list[GpuLessonRow]] = {}
    for lr in lesson_rows:
        by_number.setdefault(lr.lesson_no, []).append(lr)

    groups: OrderedDict[tuple[int, int, int, str, str], list[GpuTimetableRow]] = OrderedDict()
    for tr in timetable_rows:
        groups.setdefault((tr.lesson_no, tr.weekday, tr.period, tr.teacher, tr.subject), []).append(
            tr
        )

    lessons: list[LessonRecord] = []
    for (lesson_no, weekday, period, teacher, subject), rows in groups.items():
        classes = _unique(r.class_code for r in rows)
        rooms = _unique(r.room for r in rows)
        info = _lesson_info(by_number.get(lesson_no, []), classes, teacher)
        week, valid_from, valid_to = ("", None, None) if info is None else info
        lessons.append(
            LessonRecord(
                key=f"{lesson_no}/{weekday}/{period}/{teacher}/{subject}",
                weekday=weekday,
                period=period,
                classes=classes,
                subject=subject,
                teacher=teacher,
                rooms=rooms,
                week_label=week,
                valid_from=valid_from,
                valid_to=valid_to,
                source=rows[0].source,
            )
        )
    return lessons


def _lesson_info(
    rows: list[GpuLessonRow], classes: tuple[str, ...], teacher: str
) -> tuple[str, date | None, date | None] | None:
    if not rows:
        return None
    best = next((r for r in rows if r.teacher == teacher and r.class_code in classes), None)
    best = best or next((r for r in rows if r.teacher == teacher), None) or rows[0]
    week = best.week_group or next((r.week_group for r in rows if r.week_group), "")
    return week, best.valid_from, best.valid_to


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return tuple(out)
