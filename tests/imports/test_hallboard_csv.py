"""hallboard CSV: header-named columns, lessons and substitutions, templates that parse."""

from __future__ import annotations

from datetime import date

import pytest

from hallboard.imports.errors import ImportFileError
from hallboard.imports.hallboard_csv import COLUMNS, parse_csv, template
from hallboard.imports.records import ChangeKind, FileKind

from .conftest import fixture_bytes


def test_lessons_csv() -> None:
    """Weekday names, lists of classes and rooms, week labels and validity."""
    parsed = parse_csv("lessons.csv", fixture_bytes("lessons.csv"))
    assert parsed.kind is FileKind.CSV_LESSONS
    got = [(x.key, x.weekday, x.period, x.classes, x.week_label) for x in parsed.lessons]
    assert got == [
        ("L1", 1, 1, ("7a",), ""),
        ("L2", 1, 2, ("7a", "7b"), ""),
        ("L3", 2, 3, ("8b",), "A"),
        ("L4", 2, 3, ("8b",), "B"),
        ("L5", 5, 6, ("10a",), ""),
    ]
    assert parsed.lessons[1].valid_to == date(2027, 7, 30)
    assert parsed.lessons[4].rooms == ("R302", "R303")


def test_substitutions_csv() -> None:
    """Kinds by hallboard name or Untis label; previous* columns are the regular values."""
    parsed = parse_csv("substitutions.csv", fixture_bytes("substitutions.csv"))
    assert parsed.kind is FileKind.CSV_SUBSTITUTIONS
    by_key = {s.key: s for s in parsed.substitutions}
    assert [s.kind for s in parsed.substitutions] == [
        ChangeKind.SUBSTITUTE,
        ChangeKind.CANCELLED,
        ChangeKind.ROOM_CHANGE,
        ChangeKind.EXAM,
        ChangeKind.NOTE,
    ]
    assert (by_key["S1"].teacher, by_key["S1"].substitute_teacher) == ("MUE", "SCH")
    assert by_key["S3"].date == date(2026, 9, 14)  # dd.mm.yyyy is accepted
    assert (by_key["S4"].period_from, by_key["S4"].period_to) == (1, 2)
    assert by_key["S5"].text == "Bitte Atlas mitbringen"


def test_semicolons_and_a_bom_from_a_spreadsheet_are_fine() -> None:
    """The same lessons saved by a German spreadsheet (BOM, semicolons, CRLF) parse alike."""
    text = fixture_bytes("lessons.csv").decode().replace('"7a,7b"', "7a~7b").replace(",", ";")
    data = "\ufeff".encode() + text.replace("\n", "\r\n").encode("utf-8")
    parsed = parse_csv("lessons.csv", data)
    assert parsed.text_format.delimiter == ";"
    original = parse_csv("lessons.csv", fixture_bytes("lessons.csv"))
    assert [x.classes for x in parsed.lessons] == [x.classes for x in original.lessons]


def test_columns_in_any_order_and_unknown_columns_are_listed() -> None:
    """Header names decide; a column hallboard does not know is reported as ignored."""
    data = b"Class,Subject,Lesson,Weekday,Colour\n7a,M,1,1,red\n"
    parsed = parse_csv("x.csv", data)
    assert (parsed.lessons[0].classes, parsed.lessons[0].subject) == (("7a",), "M")
    assert parsed.ignored_columns == ["Colour"]


@pytest.mark.parametrize("kind", [FileKind.CSV_LESSONS, FileKind.CSV_SUBSTITUTIONS])
def test_the_template_is_a_file_the_parser_reads(kind: FileKind) -> None:
    """The downloadable template has every column and two example rows that import."""
    text = template(kind)
    parsed = parse_csv("template.csv", text.encode())
    assert parsed.kind is kind
    assert text.splitlines()[0].split(",") == [c.name for c in COLUMNS[kind]]
    assert len(parsed.lessons) + len(parsed.substitutions) == 2


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "bad/substitutions_bad.csv",
            [("unknown_kind", 2, "type"), ("bad_date", 3, "day")],
        ),
        ("bad/lessons_truncated.csv", [("too_few_fields", 4, None)]),
    ],
)
def test_bad_csv_files_name_line_and_column(
    fixture: str, expected: list[tuple[str, int, str | None]]
) -> None:
    """Each bad row is named by its line and the header of its column."""
    with pytest.raises(ImportFileError) as caught:
        parse_csv("f.csv", fixture_bytes(fixture))
    assert [(p.code, p.line, p.field) for p in caught.value.problems] == expected


def test_missing_required_columns_and_repeated_ids() -> None:
    """A header without `class` is refused; an id used twice is refused on its line."""
    with pytest.raises(ImportFileError) as caught:
        parse_csv("f.csv", b"weekday,lesson,subject,teacher\n1,1,M,MUE\n", FileKind.CSV_LESSONS)
    assert caught.value.problems[0].code == "missing_column"
    with pytest.raises(ImportFileError) as caught:
        parse_csv("f.csv", b"id,weekday,lesson,class,subject\nA,1,1,7a,M\nA,1,2,7a,M\n")
    problem = caught.value.problems[0]
    assert (problem.code, problem.line, problem.params["first"]) == ("duplicate_key", 3, 2)


def test_a_file_without_a_known_header_is_refused() -> None:
    """Without the required column names there is no telling lessons from changes."""
    with pytest.raises(ImportFileError) as caught:
        parse_csv("f.csv", b"a,b,c\n1,2,3\n")
    assert caught.value.problems[0].code == "no_header"
