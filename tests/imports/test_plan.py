"""The difference an import would make, worked out before anything is written (imports.plan).

The whole pipeline (plan + apply through ``run_import``) is tested in test_service.py; here
the plan's own rules: the comparison by external id, manual edits, unknown references and
that planning writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from hallboard.imports.bundle import Bundle, read_files
from hallboard.imports.errors import ImportFileError
from hallboard.imports.plan import (
    MAX_EXTERNAL_ID,
    MAX_ITEMS,
    AnnouncementSpec,
    ChangeSpec,
    ClosureSpec,
    Current,
    ImportOptions,
    KindPlan,
    LessonSpec,
    NameSpec,
    WeekLabelSpec,
    diff,
    fingerprint,
    plan_import,
    short_id,
)
from hallboard.schools.models import School
from hallboard.timetable.models import Lesson, Period, SchoolClass, Teacher
from tests.conftest import Tenant

from .conftest import fixture_bytes

MONDAY = dt.date(2026, 9, 14)


def lesson(room: str = "R101", **changes: Any) -> LessonSpec:
    """Maths for 7a with MUE, Monday period 1, in ``room``; ``changes`` replace fields."""
    spec = LessonSpec(1, 1, ("7a",), "", "M", ("MUE",), (room,), "", None, None)
    return dataclasses.replace(spec, **changes)


def stated_all(_key: str, _row: Current) -> bool:
    return True


# --- options and specs ----------------------------------------------------------------------


def test_options_accept_only_known_unknown_policies() -> None:
    """unknown is 'create' (the default) or 'report'; anything else is refused."""
    assert ImportOptions().unknown == "create"
    assert ImportOptions(unknown="report").unknown == "report"
    with pytest.raises(ValueError, match="unknown must be one of"):
        ImportOptions(unknown="ignore")


def test_specs_describe_themselves_for_people() -> None:
    """Each kind of row reads as one short line in the difference."""
    assert lesson(weeks="A").describe() == "Mon 1 · 7a · M · MUE · R101 · (A)"
    assert lesson(teachers=(), rooms=()).describe() == "Mon 1 · 7a · M"
    change = ChangeSpec(
        MONDAY, "substitute", None, 3, ("7a",), "", "M", "MUE", "SCH", "R204", None, 5, ""
    )
    assert change.describe() == "2026-09-14 3 · 7a · substitute · → SCH · → R204 · → 2026-09-14 5"
    assert (
        ClosureSpec("holiday", "Autumn", dt.date(2026, 10, 19), dt.date(2026, 10, 30)).describe()
        == "Autumn 2026-10-19 - 2026-10-30"
    )
    assert WeekLabelSpec(MONDAY, "B").describe() == "2026-W38: B"
    assert NameSpec("MUE", "Anna Müller").describe() == "MUE (Anna Müller)"
    assert NameSpec("R101", "").describe() == "R101"


def test_a_change_without_classes_is_described_by_its_lesson() -> None:
    """A change naming no classes of its own shows its lesson's context instead."""
    change = ChangeSpec(
        MONDAY, "cancelled", "ext:untis:5012", 3, (), "", "", "", "", "", None, None, "",
        context="7a M",
    )  # fmt: skip
    assert change.describe() == "2026-09-14 3 · 7a M · cancelled"


def test_announcements_compare_as_instants_in_any_zone() -> None:
    """The same announcement read back in UTC equals (and fingerprints as) the Berlin one."""
    berlin = dt.timezone(dt.timedelta(hours=2))
    local = AnnouncementSpec(
        "Aula", "closed", dt.datetime(2026, 9, 14, 8, tzinfo=berlin),
        dt.datetime(2026, 9, 14, 16, tzinfo=berlin), 0,
    )  # fmt: skip
    utc = AnnouncementSpec(
        "Aula", "closed", dt.datetime(2026, 9, 14, 6, tzinfo=dt.UTC),
        dt.datetime(2026, 9, 14, 14, tzinfo=dt.UTC), 0,
    )  # fmt: skip
    assert local == utc
    assert hash(local) == hash(utc)
    assert fingerprint(local) == fingerprint(utc)
    assert local != AnnouncementSpec("Aula", "open", utc.starts_at, utc.ends_at, 0)


def test_fingerprints_tell_rows_apart_and_are_stable() -> None:
    """The same values always give the same fingerprint; any changed value another one."""
    assert fingerprint(lesson()) == fingerprint(lesson())
    assert fingerprint(lesson()) != fingerprint(lesson(room="R102"))
    assert len(fingerprint(lesson())) == 64


def test_short_ids_keep_short_keys_and_hash_long_ones_stably() -> None:
    """Keys up to MAX_EXTERNAL_ID characters stay; longer ones become a stable 'h:' hash."""
    short = "x" * MAX_EXTERNAL_ID
    assert short_id(short) == short
    long = "x" * (MAX_EXTERNAL_ID + 1)
    assert short_id(long).startswith("h:")
    assert len(short_id(long)) <= MAX_EXTERNAL_ID
    assert short_id(long) == short_id(long)
    assert short_id(long) != short_id(long + "y")


def test_a_row_is_edited_when_its_values_differ_from_what_the_import_wrote() -> None:
    """A row never written by the import is not 'edited'; one whose fingerprint moved is."""
    assert not Current(1, lesson()).edited
    assert not Current(1, lesson(), written=fingerprint(lesson())).edited
    assert Current(1, lesson(room="R999"), written=fingerprint(lesson())).edited


# --- diff --------------------------------------------------------------------------------


def test_diff_adds_what_is_new_and_counts_what_is_unchanged() -> None:
    """Wanted rows the school lacks are created; rows as wanted count as unchanged."""
    plan = KindPlan()
    written = fingerprint(lesson())
    diff(
        plan,
        {"L1": (lesson(), None), "L2": (lesson(period=2), None)},
        {"L1": Current(10, lesson(), written=written)},
        stated=stated_all,
        overwrite_edited=False,
    )
    assert plan.counts() == {
        "added": 1,
        "changed": 0,
        "removed": 0,
        "unchanged": 1,
        "conflicts": 0,
    }
    assert plan.create == [("L2", lesson(period=2))]
    assert plan.remember == []
    assert plan.writes


def test_diff_refreshes_a_missing_fingerprint_without_rewriting_the_row() -> None:
    """A row already as wanted but without the import's fingerprint is remembered, not updated."""
    plan = KindPlan()
    diff(plan, {"L1": (lesson(), None)}, {"L1": Current(10, lesson())}, stated=stated_all,
         overwrite_edited=False)  # fmt: skip
    assert plan.remember == [(10, "L1", lesson())]
    assert not plan.writes


def test_diff_updates_a_changed_row_and_lists_the_changed_fields() -> None:
    """A row the import wrote whose wanted values changed is updated, old → new per field."""
    plan = KindPlan()
    old = lesson()
    diff(
        plan,
        {"L1": (lesson(room="R204"), None)},
        {"L1": Current(10, old, written=fingerprint(old))},
        stated=stated_all,
        overwrite_edited=False,
    )
    assert plan.update == [(10, "L1", lesson(room="R204"))]
    assert plan.changed[0]["fields"] == {"rooms": ["R101", "R204"]}


def test_diff_leaves_a_row_edited_by_hand_and_reports_a_conflict() -> None:
    """A row a person changed since the import wrote it is not overwritten but listed."""
    plan = KindPlan()
    by_hand = Current(10, lesson(room="R999"), written=fingerprint(lesson()))
    diff(plan, {"L1": (lesson(room="R204"), None)}, {"L1": by_hand}, stated=stated_all,
         overwrite_edited=False)  # fmt: skip
    assert plan.update == []
    assert plan.counts()["conflicts"] == 1
    assert plan.conflicts[0]["reason"] == "edited_by_hand"


def test_diff_overwrites_an_edited_row_when_told_to() -> None:
    """With overwrite_edited, the import's values win over a manual edit."""
    plan = KindPlan()
    by_hand = Current(10, lesson(room="R999"), written=fingerprint(lesson()))
    diff(plan, {"L1": (lesson(room="R204"), None)}, {"L1": by_hand}, stated=stated_all,
         overwrite_edited=True)  # fmt: skip
    assert plan.update == [(10, "L1", lesson(room="R204"))]
    assert plan.conflicts == []


def test_diff_removes_rows_the_import_states_but_no_longer_has() -> None:
    """A current row the import speaks for and does not list is removed; others stay."""
    plan = KindPlan()
    diff(
        plan,
        {},
        {"L1": Current(10, lesson()), "M1": Current(11, lesson(period=2))},
        stated=lambda key, _row: key.startswith("L"),
        overwrite_edited=False,
    )
    assert plan.delete == [(10, "L1")]
    assert plan.removed == [{"key": "L1", "what": lesson().describe()}]


def test_diff_keeps_a_row_to_remove_when_manual_rows_depend_on_it() -> None:
    """A row not deletable (manual changes name it) is a conflict instead of a removal."""
    plan = KindPlan()
    diff(plan, {}, {"L1": Current(10, lesson(), deletable=False)}, stated=stated_all,
         overwrite_edited=False)  # fmt: skip
    assert plan.delete == []
    assert plan.conflicts[0]["reason"] == "manual_changes_depend"


def test_diff_keeps_a_row_deleted_by_hand_deleted() -> None:
    """A row a person deleted stays deleted while the import says the same; forgotten after."""
    plan = KindPlan()
    forgotten = {"L1": fingerprint(lesson()), "L2": fingerprint(lesson(period=2))}
    diff(plan, {"L1": (lesson(), None)}, {}, stated=stated_all, overwrite_edited=False,
         forgotten=forgotten)  # fmt: skip
    assert plan.create == []
    assert plan.conflicts[0]["reason"] == "deleted_by_hand"
    assert plan.forget == ["L2"]


def test_diff_recreates_a_deleted_row_whose_import_values_changed() -> None:
    """If the import now says something else than when the row was deleted, it is created."""
    plan = KindPlan()
    diff(plan, {"L1": (lesson(room="R204"), None)}, {}, stated=stated_all,
         overwrite_edited=False, forgotten={"L1": fingerprint(lesson())})  # fmt: skip
    assert plan.create == [("L1", lesson(room="R204"))]


def test_a_kind_plan_lists_at_most_max_items_but_counts_all_conflicts() -> None:
    """Lists in a difference are capped at MAX_ITEMS; the counts stay complete."""
    plan = KindPlan()
    for n in range(MAX_ITEMS + 3):
        plan.conflict(f"L{n}", lesson(), "edited_by_hand")
    assert plan.counts()["conflicts"] == MAX_ITEMS + 3
    assert len(plan.listing()["conflicts"]) == MAX_ITEMS


# --- plan_import on a school ---------------------------------------------------------------


@pytest.fixture
def school(tenant: Tenant) -> School:
    """The tenant's school with periods 1-8."""
    for number in range(3, 9):
        Period.objects.create(
            school=tenant.school,
            number=number,
            starts_at=dt.time(7 + number),
            ends_at=dt.time(7 + number, 45),
        )
    return tenant.school


def lessons_bundle(data: bytes | None = None) -> Bundle:
    return read_files([("lessons.csv", data or fixture_bytes("lessons.csv"))])


def test_planning_writes_nothing(school: School) -> None:
    """plan_import works out five lessons to add and unknown codes to create, writing none."""
    plan = plan_import(school, lessons_bundle())
    assert plan.counts()["lessons"]["added"] == 5
    assert plan.writes
    assert Lesson.objects.filter(school=school).count() == 0
    assert not Teacher.objects.filter(school=school, code="SCH").exists()
    assert not SchoolClass.objects.filter(school=school, name="7b").exists()


def test_unknown_codes_are_created_by_default_and_counted(school: School) -> None:
    """Under 'create' unknown teachers are listed to add, and counted per code."""
    plan = plan_import(school, lessons_bundle())
    added = {item["what"] for item in plan.difference()["teachers"]["added"]}
    assert added == {"SCH", "KRA", "WEB"}
    assert plan.summary()["unknown"]["teachers"] == {"KRA": 1, "SCH": 2, "WEB": 1}
    assert plan.summary()["unknown_policy"] == "create"


def test_under_report_rows_with_unknown_codes_are_left_out(school: School) -> None:
    """Under 'report' nothing unknown is created and the row naming it is left out, noted."""
    data = b"id,weekday,lesson,class,subject,teacher\nL1,1,1,7a,MA,MUE\nL2,1,2,7a,MA,XYZ\n"
    plan = plan_import(school, lessons_bundle(data), ImportOptions(unknown="report"))
    assert plan.counts()["teachers"]["added"] == 0
    added = plan.difference()["lessons"]["added"]
    assert [item["what"] for item in added] == ["Mon 1 · 7a · MA · MUE"]
    notes = [(n.code, n.line) for n in plan.notes]
    assert notes == [("unknown_reference", 3)]
    assert "XYZ" in plan.notes[0].message


def test_an_unknown_period_is_an_error_under_create(school: School) -> None:
    """A lesson in a period the bell schedule lacks cannot be created: ImportFileError."""
    data = b"id,weekday,lesson,class,subject\nL1,1,12,7a,MA\n"
    with pytest.raises(ImportFileError) as error:
        plan_import(school, lessons_bundle(data))
    assert [p.code for p in error.value.problems] == ["unknown_period"]


def test_an_unknown_period_is_a_skipped_row_under_report(school: School) -> None:
    """Under 'report' the row in an unknown period is left out, counted and noted."""
    data = b"id,weekday,lesson,class,subject\nL1,1,12,7a,MA\nL2,1,1,7a,MA\n"
    plan = plan_import(school, lessons_bundle(data), ImportOptions(unknown="report"))
    assert plan.counts()["lessons"]["added"] == 1
    assert plan.skipped["unknown_period"] == 1
    assert plan.summary()["skipped"]["unknown_period"] == 1
