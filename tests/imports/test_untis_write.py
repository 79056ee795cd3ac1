"""GPU files written by hallboard read back as the same records, in any dialect."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from hallboard.imports.records import ChangeKind, FileKind, SubstitutionRecord
from hallboard.imports.untis_gpu import combine_lessons, parse_gpu
from hallboard.imports.untis_write import gpu001_row, gpu002_row, gpu014_row, write_rows

from .conftest import fixture_bytes

# Values as Untis writes them: trimmed, no "~" inside a list item, not a "none" marker.
code = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="~"),
        min_size=1,
        max_size=8,
    )
    .map(str.strip)
    .filter(lambda v: v and v not in {"---", "???"})
)
text = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
    .map(str.strip)
    .filter(lambda v: v not in {"---", "???"})
)
codes = st.lists(code, max_size=3, unique=True).map(tuple)

substitutions = st.builds(
    SubstitutionRecord,
    key=st.just(""),
    date=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    period_from=st.integers(0, 99),
    period_to=st.just(0),
    kind=st.sampled_from([k for k in ChangeKind if k not in (ChangeKind.EXTRA, ChangeKind.NOTE)]),
    classes=codes,
    substitute_classes=codes,
    subject=code,
    substitute_subject=code,
    teacher=code,
    substitute_teacher=code,
    rooms=codes,
    substitute_rooms=codes,
    text=text,
    is_new=st.booleans(),
)


@settings(max_examples=100, deadline=None, database=None)
@given(
    records=st.lists(substitutions, min_size=1, max_size=5),
    dialect=st.sampled_from([(",", "utf-8"), (";", "cp1252"), ("\t", "utf-8-sig"), (";", "utf-8")]),
)
def test_gpu014_round_trip(records: list[SubstitutionRecord], dialect: tuple[str, str]) -> None:
    """Written as comma, semicolon or tab, in UTF-8, with a BOM or in Windows-1252: read back."""
    delimiter, encoding = dialect
    rows = [gpu014_row(r, number=n, lesson_no=100 + n) for n, r in enumerate(records, 1)]
    if encoding == "cp1252":
        # The values themselves, not the records' repr (which escapes what it cannot print).
        try:
            for row in rows:
                "".join(v for v in row if isinstance(v, str)).encode("cp1252")
        except UnicodeEncodeError:
            encoding = "utf-8"
    data = write_rows(rows, delimiter=delimiter, encoding=encoding)
    parsed = parse_gpu("GPU014.TXT", data, FileKind.GPU014)
    assert parsed.text_format.delimiter == delimiter
    expected = [
        replace(r, key=str(n), period_to=r.period_from, lesson_key=str(100 + n))
        for n, r in enumerate(records, 1)
    ]
    got = [replace(s, source=None, raw_type="", raw_flags=None) for s in parsed.substitutions]
    assert got == [replace(e, is_break=False) for e in expected]


def test_the_writer_reproduces_the_hand_written_fixture() -> None:
    """Rows written from the parsed fixture read back as the fixture's own records."""
    parsed = parse_gpu("GPU014.TXT", fixture_bytes("gpu014_comma_utf8.txt"), FileKind.GPU014)
    again = parse_gpu(
        "GPU014.TXT",
        write_rows(gpu014_row(s, int(s.key), int(s.lesson_key)) for s in parsed.substitutions),
        FileKind.GPU014,
    )
    assert [replace(s, source=None) for s in again.substitutions] == [
        replace(s, source=None) for s in parsed.substitutions
    ]


def test_gpu001_and_gpu002_written_give_the_lessons_back() -> None:
    """A lesson of two classes in week B, valid for a term, survives writing and reading."""
    gpu001 = write_rows(
        [
            gpu001_row(7, "7a", "MÜL", "M", "R1", 2, 3),
            gpu001_row(7, "7b", "MÜL", "M", "R1", 2, 3),
        ],
        delimiter=";",
        encoding="cp1252",
    )
    gpu002 = write_rows(
        [
            gpu002_row(
                7,
                "7a",
                "MÜL",
                "M",
                ["R1"],
                week_group="B",
                valid_from=dt.date(2026, 9, 7),
                valid_to=dt.date(2027, 1, 29),
            )
        ],
        delimiter="\t",
    )
    lessons = combine_lessons(
        parse_gpu("GPU001.TXT", gpu001, FileKind.GPU001).timetable_rows,
        parse_gpu("GPU002.TXT", gpu002, FileKind.GPU002).lesson_rows,
    )
    assert [(x.classes, x.teacher, x.week_label, x.valid_to) for x in lessons] == [
        (("7a", "7b"), "MÜL", "B", dt.date(2027, 1, 29))
    ]
