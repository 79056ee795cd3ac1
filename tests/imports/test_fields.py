"""Typed access to a row's values; each bad value a Problem for its field (imports.fields)."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.imports.errors import ProblemCollector
from hallboard.imports.fields import (
    MAX_VALUE_CHARS,
    Cells,
    parse_any_date,
    split_list,
)
from hallboard.imports.text import Row


def cells(*fields: str, line: int = 7) -> tuple[Cells, ProblemCollector]:
    problems = ProblemCollector("x.csv")
    return Cells(Row(line, fields), problems, lambda i, name: f"{name}#{i}"), problems


def only_problem(problems: ProblemCollector) -> tuple[str, int | None, str | None, dict]:
    assert len(problems.problems) == 1
    p = problems.problems[0]
    return p.code, p.line, p.field, dict(p.params)


def test_split_list_trims_and_drops_empty_placeholder_and_repeated_parts() -> None:
    """'10c~ 10a~~---~10c' is ('10c', '10a'): trimmed, in order, without repeats."""
    assert split_list("10c~ 10a~~---~10c") == ("10c", "10a")
    assert split_list("7a, 7b;7c", ",;") == ("7a", "7b", "7c")
    assert split_list("") == ()


def test_text_treats_placeholders_as_empty_and_missing_columns_as_empty() -> None:
    """'---' and '???' mean none; an index past the row's end reads as empty, no problem."""
    row, problems = cells("---", "???", "R101")
    assert row.text(0, "room") == ""
    assert row.text(1, "room") == ""
    assert row.text(2, "room") == "R101"
    assert row.text(9, "room") == ""
    assert problems.problems == []
    assert row.ok


def test_a_required_text_that_is_empty_is_a_problem_at_its_line_and_field() -> None:
    """An empty required value adds 'required' with the row's line and the field's label."""
    row, problems = cells("", line=12)
    assert row.text(0, "class", required=True) == ""
    assert only_problem(problems) == ("required", 12, "class#0", {})
    assert not row.ok


def test_an_overlong_text_is_refused_not_truncated() -> None:
    """A value longer than MAX_VALUE_CHARS is a 'too_long' problem and reads as empty."""
    row, problems = cells("x" * (MAX_VALUE_CHARS + 1), "y" * MAX_VALUE_CHARS)
    assert row.text(1, "remark") == "y" * MAX_VALUE_CHARS
    assert row.text(0, "remark") == ""
    assert only_problem(problems)[0] == "too_long"


def test_items_split_a_list_value() -> None:
    """items() reads a '~'-separated list; an empty value is the empty tuple."""
    row, _problems = cells("MUE~SCH", "")
    assert row.items(0, "teacher") == ("MUE", "SCH")
    assert row.items(1, "teacher") == ()


def test_integer_reads_numbers_within_bounds() -> None:
    """A whole number inside [low, high] is returned as int; empty optional is None."""
    row, problems = cells("5", "", "+3")
    assert row.integer(0, "weekday", low=1, high=7) == 5
    assert row.integer(1, "weekday", low=1, high=7) is None
    assert row.integer(2, "weekday", low=1, high=7) == 3
    assert problems.problems == []


@pytest.mark.parametrize(
    ("value", "code"),
    [("Mo", "not_integer"), ("1.5", "not_integer"), ("8", "out_of_range"), ("0", "out_of_range")],
)
def test_integer_problems_name_the_value(value: str, code: str) -> None:
    """A non-number or a number outside the range is a problem and reads as None."""
    row, problems = cells(value)
    assert row.integer(0, "weekday", low=1, high=7) is None
    assert only_problem(problems)[0] == code
    assert str(problems.problems[0].params["value"]) == value


def test_a_huge_integer_is_out_of_range_without_being_converted() -> None:
    """Thousands of digits are refused as out_of_range, the value cut to 40 characters."""
    row, problems = cells("9" * 5000)
    assert row.integer(0, "period", low=0, high=30) is None
    code, _line, _field, params = only_problem(problems)
    assert code == "out_of_range"
    assert params["value"] == "9" * 40


def test_a_required_integer_that_is_missing_is_a_problem() -> None:
    """An empty required number adds 'required'."""
    row, problems = cells()
    assert row.integer(0, "period", low=0, high=30, required=True) is None
    assert only_problem(problems)[0] == "required"


def test_compact_date_reads_untis_dates() -> None:
    """'20260914' is 14 September 2026; impossible or malformed dates are 'bad_date'."""
    row, problems = cells("20260914", "20260230", "2026-09-14", "")
    assert row.compact_date(0, "date") == dt.date(2026, 9, 14)
    assert row.compact_date(3, "date") is None
    assert problems.problems == []
    assert row.compact_date(1, "date") is None
    assert row.compact_date(2, "date") is None
    assert [p.code for p in problems.problems] == ["bad_date", "bad_date"]
    assert problems.problems[0].params["expected"] == "yyyyMMdd"


def test_compact_date_required() -> None:
    """An empty required Untis date adds 'required'."""
    row, problems = cells("")
    assert row.compact_date(0, "date", required=True) is None
    assert only_problem(problems)[0] == "required"


def test_compact_timestamp_reads_untis_export_times() -> None:
    """'202609140712' is 14 Sep 2026 07:12; empty is None; a bad value is 'bad_timestamp'."""
    row, problems = cells("202609140712", "", "202609142512", "20260914")
    assert row.compact_timestamp(0, "exported") == dt.datetime(2026, 9, 14, 7, 12)
    assert row.compact_timestamp(1, "exported") is None
    assert row.compact_timestamp(2, "exported") is None
    assert row.compact_timestamp(3, "exported") is None
    assert [p.code for p in problems.problems] == ["bad_timestamp", "bad_timestamp"]


def test_any_date_reads_iso_and_german_dates() -> None:
    """Hand-made CSV may write 2026-09-14 or 14.09.2026 (or 4.9.2026)."""
    row, problems = cells("2026-09-14", "14.09.2026", "4.9.2026", "", "09/14/2026")
    assert row.any_date(0, "day") == dt.date(2026, 9, 14)
    assert row.any_date(1, "day") == dt.date(2026, 9, 14)
    assert row.any_date(2, "day") == dt.date(2026, 9, 4)
    assert row.any_date(3, "day") is None
    assert problems.problems == []
    assert row.any_date(4, "day") is None
    assert only_problem(problems)[0] == "bad_date"
    assert row.any_date(3, "day", required=True) is None
    assert problems.problems[-1].code == "required"


def test_parse_any_date_refuses_impossible_dates() -> None:
    """31.02.2026 and 2026-13-01 are None, not an exception."""
    assert parse_any_date("31.02.2026") is None
    assert parse_any_date("2026-13-01") is None
    assert parse_any_date("today") is None
