"""Untis monitor pages: columns by header name, replaced values, ranges, pages followed."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hallboard.imports.errors import ImportFileError
from hallboard.imports.records import ChangeKind, DayMessage
from hallboard.imports.untis_html import (
    SUBSTITUTE_TEACHER,
    HtmlOptions,
    collect_pages,
    parse_monitor_page,
    parse_period,
)

from .conftest import FIXTURES, fixture_bytes


def _page(name: str, options: HtmlOptions | None = None):
    return parse_monitor_page(name, fixture_bytes(name), options)


def test_page_header_title_and_messages() -> None:
    """Stand, date, week label and the day's messages come from their tables."""
    page = _page("html/subst_001.htm")
    assert page.text_format.encoding == "cp1252"  # declared iso-8859-1
    (day,) = page.days
    assert day.date == date(2026, 9, 14)
    assert day.week_label == "A"
    assert day.as_of == datetime(2026, 9, 14, 7, 12)
    assert day.messages == (
        DayMessage("Die 7a besucht ab der 5. Stunde das Stadtmuseum."),
        DayMessage("MUE (3-4), WEB", label="Abwesende Lehrer"),
    )
    assert page.next_page == "subst_002.htm"


def test_rows_are_read_by_header_name_whatever_the_column_order() -> None:
    """Pages 1 and 2 order their columns differently; the same fields come out."""
    first = {s.key: s for s in _page("html/subst_001.htm").substitutions}
    second = {s.key: s for s in _page("html/subst_002.htm").substitutions}

    plain = first["101"]
    assert (plain.kind, plain.classes, plain.period_from) == (ChangeKind.SUBSTITUTE, ("7a",), 3)
    assert (plain.teacher, plain.substitute_teacher, plain.subject) == ("MUE", "SCH", "M")

    exam = second["112"]
    assert (exam.kind, exam.classes, exam.period_from) == (ChangeKind.EXAM, ("9c",), 5)
    assert (exam.teacher, exam.substitute_teacher, exam.subject) == ("WEB", "WEB", "PH")
    assert exam.text == "Prüfungsraum beachten"


def test_cell_conventions() -> None:
    """--- is none, x cancels, <s>old</s>?new replaces, 1 - 2 is a range, 0/1 a break."""
    rows = {s.key: s for s in _page("html/subst_001.htm").substitutions}
    rows |= {s.key: s for s in _page("html/subst_002.htm").substitutions}

    cancelled = rows["102"]
    assert cancelled.kind is ChangeKind.CANCELLED
    assert (cancelled.substitute_teacher, cancelled.substitute_subject) == ("", "")
    assert cancelled.substitute_rooms == ()

    room = rows["103"]
    assert room.kind is ChangeKind.ROOM_CHANGE
    assert (room.rooms, room.substitute_rooms) == (("R101",), ("R204",))

    joined = rows["104"]
    assert (joined.period_from, joined.period_to) == (1, 2)
    assert joined.classes == ("7a", "7b")

    teacher = rows["111"]
    assert (teacher.teacher, teacher.substitute_teacher) == ("SCH", "KRA")

    supervision = rows["110"]
    assert supervision.is_break
    assert (supervision.period_from, supervision.period_to) == (0, 1)
    assert supervision.kind is ChangeKind.SUPERVISION


def test_class_in_an_extra_line() -> None:
    """Rows under a td.inline_header row belong to that class."""
    page = _page("html_inline/subst_001.htm")
    assert page.days[0].week_label == "B"
    got = [(s.classes, s.period_from, s.kind) for s in page.substitutions]
    assert got == [
        (("5a",), 5, ChangeKind.SUBSTITUTE),
        (("5a",), 6, ChangeKind.CANCELLED),
        (("6b",), 1, ChangeKind.ROOM_CHANGE),
    ]
    assert page.substitutions[0].substitute_teacher == "MÜL"
    assert page.substitutions[2].substitute_rooms == ("R105",)


def test_pages_are_followed_through_refresh_links_and_a_loop_ends_the_walk() -> None:
    """001 → 002 → 001: both pages are read once, in order."""
    fetched: list[str] = []

    def fetch(name: str) -> bytes:
        fetched.append(name)
        return (FIXTURES / "html" / name).read_bytes()

    pages = collect_pages("subst_001.htm", fetch)
    assert fetched == ["subst_001.htm", "subst_002.htm"]
    assert [p.days[0].date for p in pages] == [date(2026, 9, 14)] * 2
    assert sum(len(p.substitutions) for p in pages) == 7


def test_a_chain_of_pages_is_bounded() -> None:
    """A generator of endless new pages stops after the limit."""
    template = fixture_bytes("html/subst_002.htm")

    def fetch(name: str) -> bytes:
        number = int(name.removeprefix("p").removesuffix(".htm"))
        return template.replace(b"URL=subst_001.htm", f"URL=p{number + 1}.htm".encode())

    pages = collect_pages("p1.htm", fetch, max_pages=5)
    assert len(pages) == 5


def test_a_frameset_is_followed_to_its_pages() -> None:
    """A page holding only frames leads to the monitor pages in them."""
    frameset = b'<html><frameset><frame name="a" src="f1/subst_001.htm"></frameset></html>'

    def fetch(name: str) -> bytes:
        if name == "index.htm":
            return frameset
        assert name == "f1/subst_001.htm"
        return fixture_bytes("html_inline/subst_001.htm")

    pages = collect_pages("index.htm", fetch)
    assert [p.name for p in pages] == ["f1/subst_001.htm"]


def test_column_names_are_configurable() -> None:
    """A school whose substitute-teacher column is called "Wer" maps it by option."""
    html = fixture_bytes("html/subst_001.htm").replace(b">Vertreter<", b">Wer<")
    assert parse_monitor_page("p.htm", html).substitutions[0].substitute_teacher == ""
    options = HtmlOptions(columns={**HtmlOptions().columns, "Wer": SUBSTITUTE_TEACHER})
    assert parse_monitor_page("p.htm", html, options).substitutions[0].substitute_teacher == "SCH"
    assert "Wer" in parse_monitor_page("p.htm", html).ignored_columns


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", (3, 3, False)), ("1 - 2", (1, 2, False)), ("0/1", (0, 1, True)), ("4.", (4, 4, False))],
)
def test_parse_period(value: str, expected: tuple[int, int, bool]) -> None:
    """Single periods, ranges and breaks."""
    assert parse_period(value) == expected


@pytest.mark.parametrize("value", ["", "x", "3 - 1", "1-2-3", "999"])
def test_parse_period_refuses_what_is_not_a_period(value: str) -> None:
    """Anything else is not a period (the row's error names the Stunde field)."""
    assert parse_period(value) is None


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("bad/subst_truncated.htm", "truncated_html"),
        ("bad/subst_no_period.htm", "missing_column"),
        ("bad/subst_no_title.htm", "not_monitor_html"),
    ],
)
def test_malformed_and_truncated_pages(fixture: str, code: str) -> None:
    """A cut-off page, a table without a period column, a page that is not a plan."""
    with pytest.raises(ImportFileError) as caught:
        _page(fixture)
    assert caught.value.problems[0].code == code


def test_a_bad_period_names_the_line_of_its_row() -> None:
    """The error points at the row's line in the page source."""
    html = fixture_bytes("html/subst_001.htm").replace(
        b'<td class="list" align="center">1 - 2</td>',
        b'<td class="list" align="center">1 bis 2</td>',
    )
    with pytest.raises(ImportFileError) as caught:
        parse_monitor_page("p.htm", html)
    problem = caught.value.problems[0]
    assert (problem.code, problem.field) == ("bad_period", "Stunde")
    assert problem.line == 35  # the <tr> of the "1 - 2" row
