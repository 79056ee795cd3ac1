"""Untis GPU exports: field orders, kinds of change, week groups, errors by line and field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from hallboard.imports.errors import ImportFileError
from hallboard.imports.records import ChangeKind, FileKind
from hallboard.imports.untis_gpu import change_kind, combine_lessons, parse_gpu

from .conftest import fixture_bytes


def _gpu014(name: str):
    return parse_gpu(name, fixture_bytes(name), FileKind.GPU014)


VARIANTS = ["gpu014_comma_utf8.txt", "gpu014_semicolon_cp1252.txt", "gpu014_tab_utf8bom.txt"]


def test_the_three_encodings_and_separators_parse_to_identical_records() -> None:
    """Comma/UTF-8, semicolon/Windows-1252/CRLF and tab/UTF-8-BOM give the same rows."""

    def records(name: str) -> list[object]:
        parsed = _gpu014(name)
        # the same records from the same lines; only the file name differs
        return [
            replace(s, source=replace(s.source, file="-") if s.source else None)
            for s in parsed.substitutions
        ] + [(s.reason, s.source.line) for s in parsed.skipped]

    comma, semicolon, tab = (records(name) for name in VARIANTS)
    assert len(comma) == 7
    assert comma == semicolon == tab


def test_what_was_found_is_reported_per_variant() -> None:
    """Each variant says back its encoding, separator, quoting and line endings."""
    found = [_gpu014(name).text_format.describe() for name in VARIANTS]
    assert found == [
        {"encoding": "UTF-8", "separator": "comma", "quoted": True, "line_endings": "LF"},
        {
            "encoding": "Windows-1252",
            "separator": "semicolon",
            "quoted": True,
            "line_endings": "CRLF",
        },
        {"encoding": "UTF-8 with BOM", "separator": "tab", "quoted": False, "line_endings": "LF"},
    ]


def test_gpu014_rows_map_to_kinds_from_the_letter_then_the_bits() -> None:
    """Rows a to g of the fixture: kinds, classes, rooms, flags and texts as exported."""
    parsed = _gpu014("gpu014_comma_utf8.txt")
    by_key = {s.key: s for s in parsed.substitutions}
    assert sorted(by_key) == ["101", "102", "103", "104", "106", "107"]

    plain = by_key["101"]
    assert plain.kind is ChangeKind.SUBSTITUTE
    assert (plain.date, plain.period_from, plain.period_to) == (date(2026, 9, 14), 3, 3)
    assert (plain.teacher, plain.substitute_teacher, plain.lesson_key) == ("MUE", "SCH", "5012")
    assert plain.last_change == datetime(2026, 9, 14, 7, 12)

    cancelled = by_key["102"]
    assert cancelled.kind is ChangeKind.CANCELLED
    assert (cancelled.substitute_teacher, cancelled.substitute_rooms) == ("", ())
    assert cancelled.text == "Entfällt"

    room = by_key["103"]
    assert room.kind is ChangeKind.ROOM_CHANGE
    assert (room.rooms, room.substitute_rooms) == (("R101",), ("R204",))

    several = by_key["104"]
    assert several.classes == ("7a", "7b")
    assert several.substitute_classes == ("7a", "7b", "7c")

    new = by_key["106"]
    assert new.is_new
    assert new.raw_flags == 2097152
    assert not plain.is_new

    umlaut = by_key["107"]
    assert umlaut.teacher == "MÜL"
    assert umlaut.raw_type == "S"  # the leading space of " S" is trimmed
    assert umlaut.kind is ChangeKind.SUPERVISION


def test_rows_marked_do_not_print_are_skipped_and_counted() -> None:
    """Bit 20 (1048576) hides row e; the skip is reported with its line."""
    parsed = _gpu014("gpu014_comma_utf8.txt")
    assert "105" not in {s.key for s in parsed.substitutions}
    assert [(s.reason, s.source.line) for s in parsed.skipped] == [("do_not_print", 5)]


@pytest.mark.parametrize(
    ("letter", "flags", "kind"),
    [
        ("C", 0, ChangeKind.CANCELLED),
        ("R", 0, ChangeKind.ROOM_CHANGE),
        ("", 1, ChangeKind.CANCELLED),
        ("", 65536, ChangeKind.ROOM_CHANGE),
        ("", 0, ChangeKind.SUBSTITUTE),
        ("", 2097153, ChangeKind.CANCELLED),  # "new" plus bit 0
        ("E", 1, ChangeKind.EXAM),  # the letter wins over the bits
        ("T", 0, ChangeKind.MOVED),
        ("W", 0, ChangeKind.SWAPPED),
        ("~", 0, ChangeKind.SWAPPED),
        ("L", 0, ChangeKind.CANCELLED),
        ("Q", 65536, ChangeKind.ROOM_CHANGE),  # an unknown letter falls back to the bits
    ],
)
def test_change_kind_letter_first_then_bits_0_and_16(
    letter: str, flags: int, kind: ChangeKind
) -> None:
    """The letter in column T decides; an empty or unknown one falls back to 1<<0, 1<<16."""
    assert change_kind(letter, flags) is kind


def test_gpu001_and_gpu002_give_lessons_with_classes_and_week_groups() -> None:
    """A coupled lesson joins its classes; week groups A/B and validity reach the lesson."""
    timetable = parse_gpu("GPU001.TXT", fixture_bytes("gpu001.txt"), FileKind.GPU001)
    lessons_file = parse_gpu("GPU002.TXT", fixture_bytes("gpu002.txt"), FileKind.GPU002)
    lessons = combine_lessons(timetable.timetable_rows, lessons_file.lesson_rows)
    by_key = {lesson.key: lesson for lesson in lessons}
    assert len(timetable.timetable_rows) == 12
    assert len(lessons) == 11  # 5020's two rows are one lesson
    coupled = by_key["5020/2/2/SCH/REL"]
    assert coupled.classes == ("7a", "7b")
    assert by_key["5041/4/6/KRA/E"].week_label == "A"
    assert by_key["5042/4/6/WEB/M"].week_label == "B"
    assert by_key["5012/1/3/MUE/M"].week_label == ""
    assert by_key["5030/3/1/MÜL/BIO"].valid_to == date(2027, 1, 29)
    assert by_key["5012/3/2/MUE/M"].valid_from == date(2026, 9, 7)
    durations = {r.lesson_no: r.duration_minutes for r in timetable.timetable_rows}
    assert (durations[5030], durations[5040], durations[5012]) == (45, 90, None)


def test_gpu001_alone_gives_lessons_every_week() -> None:
    """Without GPU002 there are no week groups: every lesson is weekly, without validity."""
    timetable = parse_gpu("GPU001.TXT", fixture_bytes("gpu001.txt"), FileKind.GPU001)
    lessons = combine_lessons(timetable.timetable_rows)
    assert {(x.week_label, x.valid_from) for x in lessons} == {("", None)}


def test_master_data_and_holidays() -> None:
    """GPU003 to GPU006 give codes and names (teachers' first names too); GPU018 closures."""
    classes = parse_gpu("GPU003.TXT", fixture_bytes("gpu003.txt"), FileKind.GPU003).classes
    teachers = parse_gpu("GPU004.TXT", fixture_bytes("gpu004.txt"), FileKind.GPU004).teachers
    rooms = parse_gpu("GPU005.TXT", fixture_bytes("gpu005.txt"), FileKind.GPU005).rooms
    subjects = parse_gpu("GPU006.TXT", fixture_bytes("gpu006.txt"), FileKind.GPU006).subjects
    holidays = parse_gpu("GPU018.TXT", fixture_bytes("gpu018.txt"), FileKind.GPU018).holidays
    assert [c.code for c in classes] == ["5a", "6b", "7a", "7b", "8b", "9c", "10a"]
    assert classes[0].name == "Klasse 5a"
    assert {t.code: t.name for t in teachers}["MÜL"] == "Anna Müller"
    assert {r.code: r.name for r in rooms}["TH1"] == "Turnhalle 1"
    assert {s.code: s.name for s in subjects}["BIO"] == "Biologie"
    assert [(h.code, h.first_day, h.last_day, h.public_holiday) for h in holidays] == [
        ("TDE", date(2026, 10, 3), date(2026, 10, 3), True),
        ("HF", date(2026, 10, 12), date(2026, 10, 24), False),
        ("WF", date(2026, 12, 21), date(2027, 1, 2), False),
    ]


@pytest.mark.parametrize(
    ("fixture", "kind", "expected"),
    [
        ("bad/gpu014_truncated.txt", FileKind.GPU014, [("quoting", 4, None)]),
        ("bad/gpu014_short_row.txt", FileKind.GPU014, [("too_few_fields", 2, None)]),
        (
            "bad/gpu014_bad_values.txt",
            FileKind.GPU014,
            [("bad_date", 2, "date (column 2)"), ("not_integer", 3, "period (column 3)")],
        ),
        ("bad/gpu001_truncated.txt", FileKind.GPU001, [("too_few_fields", 4, None)]),
        ("bad/gpu002_bad_date.txt", FileKind.GPU002, [("bad_date", 3, "valid from (column 15)")]),
        ("bad/gpu004_truncated.txt", FileKind.GPU004, [("quoting", 4, None)]),
        ("bad/gpu018_bad_range.txt", FileKind.GPU018, [("bad_range", 1, "to (column 4)")]),
    ],
)
def test_malformed_and_truncated_files_name_line_and_field(
    fixture: str, kind: FileKind, expected: list[tuple[str, int, str | None]]
) -> None:
    """Every bad row of a file is reported at once, each with its line and field."""
    with pytest.raises(ImportFileError) as caught:
        parse_gpu("GPU.TXT", fixture_bytes(fixture), kind)
    got = [(p.code, p.line, p.field) for p in caught.value.problems]
    assert got == expected
    assert all(p.file == "GPU.TXT" for p in caught.value.problems)


def test_out_of_range_numbers_are_refused_before_they_reach_the_database() -> None:
    """A period of 500 or a lesson number beyond 32 bits is an error, not an overflow."""
    row = '1,"20260914",500,,99999999999,"A","B","M",,"M",,"R1","R1",,"7a","","",0,"7a","",,\n'
    with pytest.raises(ImportFileError) as caught:
        parse_gpu("GPU014.TXT", row.encode(), FileKind.GPU014)
    assert [(p.code, p.field) for p in caught.value.problems] == [
        ("out_of_range", "period (column 3)"),
        ("out_of_range", "lesson number (column 5)"),
    ]


def test_repeated_substitution_numbers_get_distinct_keys() -> None:
    """Should Untis repeat a number, date and period keep the records apart."""
    row = '7,"{d}",{p},,1,"A","B","M",,"M",,"R1","R1",,"7a","","",0,"7a","",,\n'
    data = (row.format(d="20260914", p=1) + row.format(d="20260914", p=2)).encode()
    parsed = parse_gpu("GPU014.TXT", data, FileKind.GPU014)
    assert [s.key for s in parsed.substitutions] == ["7@20260914/1", "7@20260914/2"]
