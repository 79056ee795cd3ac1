"""Property-based fuzzing of every parser: any input ends in records or ImportFileError.

Inputs are arbitrary bytes, arbitrary delimited text, and the hand-written
fixtures cut, spliced and mutated at random places. Whatever comes in, a parser
returns records whose numbers are within the database's ranges, or raises the
import error; never another exception.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallboard.imports.bundle import read_files
from hallboard.imports.errors import ImportFileError
from hallboard.imports.hallboard_csv import parse_csv
from hallboard.imports.records import FileKind, ParsedFile
from hallboard.imports.untis_gpu import MIN_FIELDS, parse_gpu
from hallboard.imports.untis_html import parse_monitor_page

from .conftest import fixture_bytes

FUZZ = settings(
    max_examples=150,
    deadline=None,  # two shared cores: time is not what this checks
    database=None,  # leave nothing behind in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

SEEDS = [
    "gpu014_comma_utf8.txt",
    "gpu014_semicolon_cp1252.txt",
    "gpu014_tab_utf8bom.txt",
    "gpu001.txt",
    "gpu002.txt",
    "gpu004.txt",
    "gpu018.txt",
    "html/subst_001.htm",
    "html/subst_002.htm",
    "html_inline/subst_001.htm",
    "lessons.csv",
    "substitutions.csv",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A fixture cut, with bytes replaced, inserted or deleted at random places."""
    data = bytearray(fixture_bytes(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["cut", "replace", "insert", "delete"]))
        if action == "cut":
            del data[at:]
        elif action == "replace":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            piece = draw(
                st.sampled_from(
                    [
                        b'"',
                        b",",
                        b";",
                        b"\t",
                        b"\r\n",
                        b"<",
                        b"</tr>",
                        b"<s>",
                        b"<td>",
                        b"~",
                        b"\xff",
                        b"\xc3",
                        b"-",
                        b"/",
                        b"99999999999999",
                        b"&nbsp;",
                        b"<![",
                        b"<!--",
                    ]
                )
            )
            data[at:at] = piece
        else:
            del data[at : at + draw(st.integers(1, 40))]
    return bytes(data)


@st.composite
def delimited(draw: st.DrawFn) -> bytes:
    """Rows of random values joined by one of the separators, in one of the encodings."""
    sep = draw(st.sampled_from([",", ";", "\t"]))
    value = st.one_of(
        st.text(max_size=12),
        st.integers(-(10**15), 10**15).map(str),
        st.sampled_from(["20260914", "20261341", "202609140712", "C", " S", "7a~7b", '"x"', ""]),
    )
    rows = draw(st.lists(st.lists(value, min_size=0, max_size=25), min_size=1, max_size=8))
    text = "\n".join(sep.join(row) for row in rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace")


inputs = st.one_of(st.binary(max_size=3000), mutated(), delimited())


def _ends_well(call: Callable[[], ParsedFile | object]) -> None:
    problems = []
    try:
        result = call()
    except ImportFileError as error:
        problems = error.problems
        result = None
    if result is None:
        assert problems
        assert all(str(p) for p in problems)  # every problem renders its message
        return
    parsed = result.files if hasattr(result, "files") else [result]
    for file in parsed:
        assert isinstance(file, ParsedFile)
        for s in file.substitutions:
            assert 0 <= s.period_from <= s.period_to <= 99 or s.is_break
            assert s.key
        for lesson in file.lessons:
            assert 1 <= lesson.weekday <= 7
            assert 0 <= lesson.period <= 99
        for row in file.timetable_rows:
            assert 0 <= row.lesson_no < 2**31
            assert 1 <= row.weekday <= 7


@FUZZ
@given(data=inputs, kind=st.sampled_from(sorted(MIN_FIELDS)))
def test_gpu_parsers_end_in_records_or_the_import_error(data: bytes, kind: FileKind) -> None:
    """GPU001 to GPU018 readers, on anything."""
    _ends_well(lambda: parse_gpu("GPU.TXT", data, kind))


@FUZZ
@given(data=inputs)
def test_monitor_page_parser_ends_in_records_or_the_import_error(data: bytes) -> None:
    """The monitor page reader, on anything."""
    _ends_well(lambda: parse_monitor_page("subst_001.htm", data))


@FUZZ
@given(data=inputs)
def test_csv_parser_ends_in_records_or_the_import_error(data: bytes) -> None:
    """The hallboard CSV reader, on anything."""
    _ends_well(lambda: parse_csv("import.csv", data))


@FUZZ
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(["GPU001.TXT", "GPU014.TXT", "GPU002.TXT", "subst_001.htm", "x.csv"]),
            inputs,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_detection_and_combination_end_in_a_bundle_or_the_import_error(
    files: list[tuple[str, bytes]],
) -> None:
    """Detection by name and content, then combination, on anything."""
    _ends_well(lambda: read_files(files))
