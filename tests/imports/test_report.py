"""An import told on a terminal: summary, difference, problems, status (imports.report)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation
from rich.console import Console

from hallboard.imports.models import ImportRun
from hallboard.imports.report import (
    print_outcome,
    print_problems,
    progress_bar,
    status_line,
)
from hallboard.imports.service import Outcome, run_import
from hallboard.schools.models import School
from hallboard.timetable.models import Period
from tests.conftest import Tenant

from .conftest import fixture_bytes

LESSONS = [("lessons.csv", fixture_bytes("lessons.csv"))]


@pytest.fixture
def school(tenant: Tenant) -> School:
    """The tenant's school with periods 1-8 (the fixture lessons use up to period 3)."""
    for number in range(3, 9):
        Period.objects.create(
            school=tenant.school,
            number=number,
            starts_at=dt.time(7 + number),
            ends_at=dt.time(7 + number, 45),
        )
    return tenant.school


def do(school: School, files: list[tuple[str, bytes]], **kwargs: object) -> Outcome:
    return run_import(school, files, origin=ImportRun.Origin.CLI, **kwargs)  # type: ignore[arg-type]


def shown(outcome: Outcome, *, show_difference: bool = False, width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None)
    print_outcome(console, outcome, show_difference=show_difference)
    return console.export_text()


def test_an_applied_import_shows_counts_per_kind_and_the_new_revision(school: School) -> None:
    """After an import the table counts added lessons, and the last line names the revisions."""
    outcome = do(school, LESSONS)
    assert outcome.run.status == ImportRun.Status.APPLIED
    text = shown(outcome)
    assert f"Import into {school.name}" in text
    lessons_line = next(line for line in text.splitlines() if "Lessons" in line)
    added = outcome.run.summary["counts"]["lessons"]["added"]
    assert added > 0
    assert str(added) in lessons_line
    assert text.rstrip().endswith(
        f"Imported: revision {outcome.run.revision_before} → {outcome.run.revision_after}."
    )


def test_kinds_without_any_count_are_left_out_of_the_table(school: School) -> None:
    """A lessons file shows no Holidays or Substitutions row in the summary."""
    text = shown(do(school, LESSONS))
    assert "Holidays" not in text
    assert "Substitutions" not in text


def test_a_dry_run_says_nothing_changed_and_shows_the_difference(school: School) -> None:
    """A dry run ends with 'Dry run', and the difference lists each added lesson with '+'."""
    outcome = do(school, LESSONS, dry_run=True)
    text = shown(outcome, show_difference=True)
    assert "Difference" in text
    added = outcome.difference()["lessons"]["added"]
    assert len(added) == 5
    lines = text.splitlines()
    for item in added:
        assert any(line.startswith("│ Lessons  │ + │ " + item["what"]) for line in lines), item[
            "what"
        ]
    assert text.rstrip().endswith("Dry run: nothing was changed.")


def test_a_changed_lesson_shows_each_field_from_old_to_new(school: School) -> None:
    """A re-import that changes a lesson's room lists it with '~' and 'field: old → new'."""
    do(school, LESSONS)
    moved = fixture_bytes("lessons.csv").replace(b"L1,1,1,7a,M,MUE,R101", b"L1,1,1,7a,M,MUE,R110")
    outcome = do(school, [("lessons.csv", moved)], dry_run=True)
    text = shown(outcome, show_difference=True)
    line = next(line for line in text.splitlines() if "│ ~ │" in line)
    assert line.startswith("│ Lessons")
    assert "R101 → R110" in line


def test_unknown_codes_are_listed_with_the_policy_and_their_counts(school: School) -> None:
    """Codes not in the master data are named, per kind, with how often they occur."""
    text = shown(do(school, LESSONS))
    assert "Unknown Teachers (create): KRA (1), SCH (2), WEB (1)" in text


def test_a_second_identical_import_says_nothing_changed(school: School) -> None:
    """Importing the same file again reports 'Nothing changed' with the current revision."""
    do(school, LESSONS)
    again = do(school, LESSONS)
    assert again.run.status == ImportRun.Status.UNCHANGED
    assert status_line(again) == f"Nothing changed (revision {again.run.revision_after})."


def test_a_failed_import_lists_its_problems_by_file(school: School) -> None:
    """Bad files give 'Nothing was imported' and each problem with its line and message."""
    outcome = do(school, [("bad.csv", b"id,weekday,lesson,class,subject\nL1,9,1,7a,M\n")])
    assert outcome.run.status == ImportRun.Status.FAILED
    text = shown(outcome)
    assert text.startswith("Nothing was imported: the files have problems (below).")
    assert "bad.csv" in text
    problem = outcome.run.problems[0]
    assert str(problem["line"]) in text
    assert problem["message"][:30] in text


def test_a_long_file_name_is_never_shortened_in_a_narrow_terminal() -> None:
    """Problems print their file's whole path on a line of its own, even 40 columns wide."""
    name = "/srv/untis/exports/2026-2027/second-term/monday/GPU014.TXT"
    console = Console(record=True, width=40, color_system=None)
    print_problems(
        console,
        [{"file": name, "line": 3, "field": "date", "code": "bad_date", "message": "bad"}],
        "Problems",
    )
    lines = console.export_text().splitlines()
    assert lines[0] == "Problems"
    assert lines[1] == name


def test_problems_without_a_message_show_their_code() -> None:
    """A problem dict without a message is shown by its code, never as an empty cell."""
    console = Console(record=True, width=100, color_system=None)
    print_problems(console, [{"file": "a.csv", "code": "empty_file"}], "Problems")
    assert "empty_file" in console.export_text()


def test_the_status_line_is_translated(school: School) -> None:
    """In German, the dry run's last line comes from the catalog, not in English."""
    outcome = do(school, LESSONS, dry_run=True)
    with translation.override("de"):
        line = status_line(outcome)
    assert line
    assert line != "Dry run: nothing was changed."


def test_no_progress_bar_when_not_wanted() -> None:
    """A small import gets no progress callback (None)."""
    console = Console(record=True, width=100, color_system=None)
    with progress_bar(console, 3, enabled=False) as update:
        assert update is None
    assert console.export_text() == ""


def test_the_progress_bar_shows_each_step_with_its_counts() -> None:
    """The callback adds one bar per step, named in words, with done/total."""
    console = Console(record=True, width=100, color_system=None, force_terminal=False)
    with progress_bar(console, 4, enabled=True) as update:
        assert update is not None
        update("read", 4, 4)
        update("plan", 1, 2)
        update("plan", 2, 2)
        update("apply", 0, 0)
    text = console.export_text()
    assert "Reading files" in text
    assert "4/4" in text
    assert "Comparing" in text
    assert "2/2" in text
    assert "Writing" in text
