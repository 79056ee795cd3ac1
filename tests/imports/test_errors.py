"""Import problems: located, translated, collected and raised together (imports.errors)."""

from __future__ import annotations

import pytest
from django.utils import translation

from hallboard.imports.errors import (
    MAX_PROBLEMS,
    MESSAGES,
    ImportFileError,
    Problem,
    ProblemCollector,
)


def test_a_problem_message_fills_in_its_parameters() -> None:
    """The message of a code is its template with the problem's parameters filled in."""
    problem = Problem("GPU014.TXT", "too_few_fields", line=3, params={"found": 2, "needed": 21})
    assert problem.message == "The row has 2 fields; at least 21 are expected."


def test_a_problem_with_a_missing_parameter_still_says_something() -> None:
    """A template whose parameter is missing gives the bare template, never an exception."""
    problem = Problem("a.csv", "too_large")
    assert problem.message == str(MESSAGES["too_large"])


def test_an_unknown_code_is_shown_as_itself() -> None:
    """A code without a message is shown as the code, so no problem is ever silent."""
    assert Problem("a.csv", "mystery_code").message == "mystery_code"


def test_where_names_file_line_and_field_as_far_as_known() -> None:
    """The location reads 'file, line N, field F', leaving out what is not known."""
    assert Problem("a.csv", "required", line=4, field="day").where() == "a.csv, line 4, field day"
    assert Problem("a.csv", "required", line=4).where() == "a.csv, line 4"
    assert Problem("a.csv", "empty_file").where() == "a.csv"
    assert str(Problem("a.csv", "empty_file")) == "a.csv: The file is empty."


def test_messages_and_location_are_translated_when_shown() -> None:
    """In German, both the location words and the message come from the catalog."""
    problem = Problem("a.csv", "required", line=4, field="Tag")
    with translation.override("de"):
        text = str(problem)
    assert text.startswith("a.csv, ")
    assert "line" not in text
    assert "A value is required" not in text


def test_as_dict_is_the_json_form_of_the_api() -> None:
    """as_dict gives file, line, field, code and the shown message."""
    problem = Problem("a.csv", "not_integer", line=2, field="lesson", params={"value": "x"})
    assert problem.as_dict() == {
        "file": "a.csv",
        "line": 2,
        "field": "lesson",
        "code": "not_integer",
        "message": "“x” is not a whole number.",
    }


def test_the_error_needs_a_problem() -> None:
    """An ImportFileError without problems cannot be made: it would explain nothing."""
    with pytest.raises(ValueError, match="at least one problem"):
        ImportFileError([])


def test_the_error_reads_as_its_first_problem_and_counts_the_rest() -> None:
    """str() of the error is its first problem, plus how many more there are."""
    one = ImportFileError([Problem("a.csv", "empty_file")])
    assert str(one) == "a.csv: The file is empty."
    three = ImportFileError([Problem("a.csv", "required", line=n) for n in (1, 2, 3)])
    assert str(three) == "a.csv, line 1: A value is required here. (+2 more)"


def test_the_error_keeps_at_most_max_problems() -> None:
    """An error made from more problems keeps the first MAX_PROBLEMS."""
    error = ImportFileError(Problem("a.csv", "required", line=n) for n in range(MAX_PROBLEMS + 5))
    assert len(error.problems) == MAX_PROBLEMS
    assert error.problems[-1].line == MAX_PROBLEMS - 1


def test_the_collector_gathers_problems_and_check_raises_them_together() -> None:
    """check() raises nothing for a clean file and all collected problems otherwise."""
    problems = ProblemCollector("GPU001.TXT")
    problems.check()
    problems.add("required", line=1, field="class")
    problems.add("out_of_range", line=2, field="weekday", value=9, low=1, high=7)
    with pytest.raises(ImportFileError) as error:
        problems.check()
    assert [(p.file, p.code, p.line) for p in error.value.problems] == [
        ("GPU001.TXT", "required", 1),
        ("GPU001.TXT", "out_of_range", 2),
    ]
    assert error.value.problems[1].message == "9 is outside the range 1 to 7."


def test_the_collector_stops_at_max_problems_and_says_it_is_full() -> None:
    """After MAX_PROBLEMS problems the collector is full and ignores further ones."""
    problems = ProblemCollector("a.csv")
    for n in range(MAX_PROBLEMS - 1):
        problems.add("required", line=n)
    assert not problems.full
    problems.add("required", line=MAX_PROBLEMS - 1)
    assert problems.full
    problems.add("required", line=10_000)
    assert len(problems.problems) == MAX_PROBLEMS
    assert all(p.line != 10_000 for p in problems.problems)


def test_fail_returns_the_error_with_earlier_problems_and_the_fatal_one_last() -> None:
    """fail() adds the problem that ends reading and returns (not raises) the error."""
    problems = ProblemCollector("a.csv")
    problems.add("required", line=1)
    error = problems.fail("too_many_rows", limit=10)
    assert isinstance(error, ImportFileError)
    assert [p.code for p in error.problems] == ["required", "too_many_rows"]
