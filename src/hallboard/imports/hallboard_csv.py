"""hallboard's own CSV: one file kind for regular lessons, one for substitutions.

The escape hatch for DaVinci, Indiware, aSc and hand-edited plans. A header row
names the columns (any order, names compared case-insensitively, unknown columns
listed and ignored); the substitution columns are a subset of the vocabulary of
the generic substitution CSV parser of vertretungsplanme (``lesson``, ``class``,
``teacher``/``previousTeacher`` …). The file should be UTF-8; the separator
(comma, semicolon, tab) and the encoding are sniffed like any export, since
spreadsheets save with a BOM, in Windows-1252 or with semicolons. Dates are
``yyyy-mm-dd`` (or ``dd.mm.yyyy``) in the school's calendar; lists inside a
field (classes, rooms) are separated by ``~`` or ``,``.

``COLUMNS`` is the one definition: the parser, the templates (``template``)
and the docs test read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hallboard.imports.errors import ImportFileError, ProblemCollector
from hallboard.imports.fields import Cells, split_list
from hallboard.imports.records import (
    KIND_WORDS,
    ChangeKind,
    FileKind,
    LessonRecord,
    ParsedFile,
    Source,
    SubstitutionRecord,
    kind_from_word,
)
from hallboard.imports.text import read_table
from hallboard.imports.untis_html import parse_period

LIST_SEPARATORS = "~,"
PERIOD_MAX = 99


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    example: tuple[str, ...]  # one value per template row
    aliases: tuple[str, ...] = ()


COLUMNS: Mapping[FileKind, tuple[Column, ...]] = {
    FileKind.CSV_LESSONS: (
        Column("id", False, ("L1", "L2")),
        Column("weekday", True, ("1", "Tue")),
        Column("lesson", True, ("1", "3"), ("period",)),
        Column("class", True, ("7a", "7a~7b"), ("classes",)),
        Column("subject", True, ("M", "REL")),
        Column("teacher", False, ("MUE", "SCH")),
        Column("room", False, ("R101", "R204"), ("rooms",)),
        Column("week", False, ("", "A")),
        Column("validFrom", False, ("", "2026-09-14"), ("valid_from",)),
        Column("validTo", False, ("", "2027-01-29"), ("valid_to",)),
    ),
    FileKind.CSV_SUBSTITUTIONS: (
        Column("id", False, ("S1", "S2")),
        Column("day", True, ("2026-09-14", "2026-09-14"), ("date",)),
        Column("lesson", True, ("3", "5-6"), ("period",)),
        Column("class", True, ("7a", "8b"), ("classes",)),
        Column("type", False, ("substitute", "cancelled"), ("kind",)),
        Column("subject", False, ("M", "")),
        Column("previousSubject", False, ("M", "E")),
        Column("teacher", False, ("SCH", "")),
        Column("previousTeacher", False, ("MUE", "KRA")),
        Column("room", False, ("R204", "")),
        Column("previousRoom", False, ("R101", "R110")),
        Column("desc", False, ("", "Klassenfahrt"), ("text", "note")),
    ),
}

_WEEKDAYS = {
    **{str(n): n for n in range(1, 8)},
    **dict.fromkeys(["mo", "mon", "monday", "montag"], 1),
    **dict.fromkeys(["di", "tu", "tue", "tuesday", "dienstag"], 2),
    **dict.fromkeys(["mi", "we", "wed", "wednesday", "mittwoch"], 3),
    **dict.fromkeys(["do", "th", "thu", "thursday", "donnerstag"], 4),
    **dict.fromkeys(["fr", "fri", "friday", "freitag"], 5),
    **dict.fromkeys(["sa", "sat", "saturday", "samstag"], 6),
    **dict.fromkeys(["so", "su", "sun", "sunday", "sonntag"], 7),
}


def header_kind(header: tuple[str, ...]) -> FileKind | None:
    """Which CSV a header row belongs to, if any: by its required columns."""
    names = {h.strip().casefold() for h in header}
    for kind, columns in COLUMNS.items():
        required = [c for c in columns if c.required]
        if all(({c.name.casefold(), *(a.casefold() for a in c.aliases)} & names) for c in required):
            return kind
    return None


def template(kind: FileKind) -> str:
    """A CSV file with the header and two example rows, for the admin and the API."""
    columns = COLUMNS[kind]
    lines = [",".join(c.name for c in columns)]
    for i in range(2):
        lines.append(",".join(_quote(c.example[i]) for c in columns))
    return "\r\n".join(lines) + "\r\n"


def _quote(value: str) -> str:
    return f'"{value}"' if any(ch in value for ch in ',;"\t') else value


def parse_csv(name: str, data: bytes, kind: FileKind | None = None) -> ParsedFile:
    """Read a hallboard CSV; the header decides lessons or substitutions unless ``kind`` says."""
    fmt, rows = read_table(name, data, min_fields=3)
    problems = ProblemCollector(name)
    header = rows[0].fields
    found = header_kind(header)
    if kind is None:
        kind = found
    if kind is None:
        raise problems.fail("no_header", line=rows[0].line)
    columns = COLUMNS[kind]
    index: dict[str, int] = {}
    ignored: list[str] = []
    lookup = {alias.casefold(): c.name for c in columns for alias in (c.name, *c.aliases)}
    for i, title in enumerate(header):
        canonical = lookup.get(title.strip().casefold())
        if canonical is None:
            if title:
                ignored.append(title)
            continue
        if canonical in index:
            problems.add("duplicate_column", line=rows[0].line, column=title)
            continue
        index[canonical] = i
    for column in columns:
        if column.required and column.name not in index:
            problems.add(
                "missing_column",
                line=rows[0].line,
                column=column.name,
                found=", ".join(header)[:300],
            )
    problems.check()

    result = ParsedFile(
        name=name, kind=kind, text_format=fmt, rows=len(rows) - 1, ignored_columns=ignored
    )
    names = dict(enumerate(header))
    needed = max(i for name_, i in index.items() if _required(columns, name_)) + 1
    keys: dict[str, int] = {}
    for row in rows[1:]:
        if problems.full:
            break
        if len(row.fields) < needed:
            problems.add("too_few_fields", line=row.line, found=len(row.fields), needed=needed)
            continue
        cells = Cells(row, problems, lambda i, n: names.get(i, n))
        source = Source(name, row.line)
        if kind is FileKind.CSV_LESSONS:
            lesson = _lesson(cells, index, source)
            if lesson is not None and _unique(lesson.key, row.line, keys, cells, index):
                result.lessons.append(lesson)
        else:
            change = _substitution(cells, index, source)
            if change is not None and _unique(change.key, row.line, keys, cells, index):
                result.substitutions.append(change)
    problems.check()
    return result


def _required(columns: tuple[Column, ...], name: str) -> bool:
    return any(c.name == name and c.required for c in columns)


def _unique(key: str, line: int, keys: dict[str, int], cells: Cells, index: dict[str, int]) -> bool:
    if key in keys:
        cells.problem("duplicate_key", index.get("id", 0), "id", value=key, first=keys[key])
        return False
    keys[key] = line
    return True


def _get(cells: Cells, index: dict[str, int], name: str, *, required: bool = False) -> str:
    if name not in index:
        return ""
    return cells.text(index[name], name, required=required)


def _lesson(cells: Cells, index: dict[str, int], source: Source) -> LessonRecord | None:
    weekday_text = _get(cells, index, "weekday", required=True)
    weekday = _WEEKDAYS.get(weekday_text.casefold().rstrip("."))
    if weekday_text and weekday is None:
        cells.problem("bad_weekday", index["weekday"], "weekday", value=weekday_text[:40])
    period = cells.integer(index["lesson"], "lesson", low=0, high=PERIOD_MAX, required=True)
    classes = split_list(_get(cells, index, "class", required=True), LIST_SEPARATORS)
    subject = _get(cells, index, "subject", required=True)
    teacher = _get(cells, index, "teacher")
    rooms = split_list(_get(cells, index, "room"), LIST_SEPARATORS)
    week = _get(cells, index, "week")
    valid_from = cells.any_date(index["validFrom"], "validFrom") if "validFrom" in index else None
    valid_to = cells.any_date(index["validTo"], "validTo") if "validTo" in index else None
    if valid_from and valid_to and valid_to < valid_from:
        cells.problem("bad_range", index["validTo"], "validTo")
    if not cells.ok or weekday is None or period is None:
        return None
    key = _get(cells, index, "id") or "/".join(
        [str(weekday), str(period), "~".join(classes), subject, teacher, week]
    )
    return LessonRecord(
        key=key,
        weekday=weekday,
        period=period,
        classes=classes,
        subject=subject,
        teacher=teacher,
        rooms=rooms,
        week_label=week,
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
    )


def _substitution(cells: Cells, index: dict[str, int], source: Source) -> SubstitutionRecord | None:
    day = cells.any_date(index["day"], "day", required=True)
    lesson_text = _get(cells, index, "lesson", required=True)
    period = parse_period(lesson_text) if lesson_text else None
    if lesson_text and (period is None or period[2] or period[1] > PERIOD_MAX):
        cells.problem("bad_period", index["lesson"], "lesson", value=lesson_text[:40])
        period = None
    classes = split_list(_get(cells, index, "class", required=True), LIST_SEPARATORS)
    type_text = _get(cells, index, "type")
    kind = kind_from_word(type_text) if type_text else ChangeKind.SUBSTITUTE
    if kind is None:
        cells.problem(
            "unknown_kind",
            index["type"],
            "type",
            value=type_text[:40],
            choices=", ".join(k.value for k in ChangeKind),
        )
    if not cells.ok or day is None or period is None or kind is None:
        return None
    previous_teacher = _get(cells, index, "previousTeacher")
    previous_subject = _get(cells, index, "previousSubject")
    key = _get(cells, index, "id") or "/".join(
        [
            f"{day:%Y%m%d}",
            f"{period[0]}-{period[1]}",
            "~".join(classes),
            previous_teacher or _get(cells, index, "teacher"),
            previous_subject or _get(cells, index, "subject"),
        ]
    )
    return SubstitutionRecord(
        key=key,
        date=day,
        period_from=period[0],
        period_to=period[1],
        kind=kind,
        classes=classes,
        subject=previous_subject,
        substitute_subject=_get(cells, index, "subject"),
        teacher=previous_teacher,
        substitute_teacher=_get(cells, index, "teacher"),
        rooms=split_list(_get(cells, index, "previousRoom"), LIST_SEPARATORS),
        substitute_rooms=split_list(_get(cells, index, "room"), LIST_SEPARATORS),
        text=_get(cells, index, "desc"),
        raw_type=type_text,
        source=source,
    )


__all__ = ["COLUMNS", "KIND_WORDS", "ImportFileError", "header_kind", "parse_csv", "template"]
