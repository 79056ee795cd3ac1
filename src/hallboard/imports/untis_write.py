"""Writing Untis GPU files: the field orders of ``untis_gpu``, the other way round.

Used to make test and benchmark exports and to turn the demo school into the
files the demo imports. Strings are written quoted (a quote doubled), numbers
bare and ``None`` as an empty field, as Untis does; dates are passed as
``datetime.date`` and written ``yyyyMMdd`` (quoted in GPU014, bare elsewhere,
like Untis).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from hallboard.imports.records import ChangeKind, SubstitutionRecord
from hallboard.imports.untis_gpu import BIT_CANCELLED, BIT_NEW, BIT_ROOM

Value = str | int | None

#: The letter column T gets for each kind (the inverse of ``untis_gpu.LETTER_KINDS``).
KIND_LETTERS: dict[ChangeKind, str] = {
    ChangeKind.SUBSTITUTE: "",
    ChangeKind.CANCELLED: "C",
    ChangeKind.ROOM_CHANGE: "R",
    ChangeKind.MOVED: "T",
    ChangeKind.SWAPPED: "W",
    ChangeKind.SUPERVISION: "S",
    ChangeKind.EXAM: "E",
    ChangeKind.EXTRA: "",
    ChangeKind.NOTE: "",
}


def _field(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace('"', '""') + '"'


def write_rows(
    rows: Iterable[Sequence[Value]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    line_ending: str = "\r\n",
) -> bytes:
    """The bytes of a GPU file (``encoding="utf-8-sig"`` writes a BOM)."""
    text = "".join(delimiter.join(_field(v) for v in row) + line_ending for row in rows)
    return text.encode(encoding)


def _ymd(day: dt.date | None) -> int | None:
    return None if day is None else int(day.strftime("%Y%m%d"))


def gpu001_row(
    lesson_no: int,
    class_code: str,
    teacher: str,
    subject: str,
    room: str,
    weekday: int,
    period: int,
) -> list[Value]:
    return [lesson_no, class_code, teacher, subject, room, weekday, period, None, None]


def gpu002_row(
    lesson_no: int,
    class_code: str,
    teacher: str,
    subject: str,
    rooms: Sequence[str] = (),
    *,
    week_group: str = "",
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
    text: str = "",
    weekly_hours: int | None = None,
) -> list[Value]:
    row: list[Value] = [None] * 46
    row[0] = lesson_no
    row[1] = row[2] = row[3] = weekly_hours
    row[4], row[5], row[6], row[7] = class_code, teacher, subject, "~".join(rooms)
    row[11] = week_group
    row[14], row[15] = _ymd(valid_from), _ymd(valid_to)
    row[17] = text
    return row


def master_row(code: str, name: str = "", width: int = 20) -> list[Value]:
    """GPU003, GPU005, GPU006: short and long name, the rest empty."""
    return [code, name] + [None] * (width - 2)


def gpu004_row(code: str, last_name: str = "", first_name: str = "") -> list[Value]:
    row: list[Value] = [None] * 36
    row[0], row[1], row[28] = code, last_name, first_name
    return row


def gpu018_row(
    code: str, name: str, first_day: dt.date, last_day: dt.date, public_holiday: bool = False
) -> list[Value]:
    return [code, name, _ymd(first_day), _ymd(last_day), "F" if public_holiday else None]


def gpu014_row(
    record: SubstitutionRecord, number: int, lesson_no: int | None = None
) -> list[Value]:
    """One GPU014 row for a substitution of one period (``period_from``)."""
    letter = record.raw_type if record.raw_type else KIND_LETTERS[record.kind]
    flags = record.raw_flags
    if flags is None:
        flags = {ChangeKind.CANCELLED: BIT_CANCELLED, ChangeKind.ROOM_CHANGE: BIT_ROOM}.get(
            record.kind, 0
        )
        flags |= BIT_NEW if record.is_new else 0
    return [
        number,
        record.date.strftime("%Y%m%d"),
        record.period_from,
        None,
        lesson_no,
        record.teacher,
        record.substitute_teacher,
        record.subject,
        None,
        record.substitute_subject,
        None,
        "~".join(record.rooms),
        "~".join(record.substitute_rooms),
        None,
        "~".join(record.classes),
        "",
        record.text,
        flags,
        "~".join(record.substitute_classes),
        letter,
        int(record.last_change.strftime("%Y%m%d%H%M")) if record.last_change else None,
        None,
    ]
