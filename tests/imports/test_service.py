"""Imports mapped onto a school's timetable: all or nothing, idempotent, one revision bump,
a dry run that shows the difference, sources remembered, manual edits left alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hallboard.imports.models import ImportRun
from hallboard.imports.plan import ImportOptions
from hallboard.imports.service import Outcome, run_import
from hallboard.schools.models import School
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Lesson,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    WeekLabel,
)
from tests.conftest import Tenant, make_lesson, revision_of

from .conftest import fixture_bytes

MONDAY = dt.date(2026, 9, 14)
UNTIS = {
    "GPU001.TXT": "gpu001.txt",
    "GPU002.TXT": "gpu002.txt",
    "GPU003.TXT": "gpu003.txt",
    "GPU004.TXT": "gpu004.txt",
    "GPU005.TXT": "gpu005.txt",
    "GPU006.TXT": "gpu006.txt",
    "GPU014.TXT": "gpu014_comma_utf8.txt",
    "GPU018.TXT": "gpu018.txt",
}


def untis_files(**replace: bytes) -> list[tuple[str, bytes]]:
    files = {name: fixture_bytes(fixture) for name, fixture in UNTIS.items()}
    files.update(replace)
    return [(name, data) for name, data in files.items() if data]


def prepare(school: School) -> School:
    """Periods 1-8 and an A/B rotation with 7 September 2026 as week A."""
    for number in range(3, 9):
        Period.objects.create(
            school=school,
            number=number,
            starts_at=dt.time(7 + number),
            ends_at=dt.time(7 + number, 45),
        )
    SchoolCalendar.objects.create(school=school, week_cycle="A,B", anchor=dt.date(2026, 9, 7))
    return School.objects.get(pk=school.pk)


def do(school: School, files: list[tuple[str, bytes]], **kwargs: Any) -> Outcome:
    kwargs.setdefault("origin", ImportRun.Origin.CLI)
    return run_import(school, files, **kwargs)


def counts(outcome: Outcome, kind: str) -> dict[str, int]:
    return outcome.run.summary["counts"][kind]


@pytest.fixture
def school(tenant: Tenant) -> School:
    return prepare(tenant.school)


def test_an_untis_export_becomes_the_schools_timetable(school: School) -> None:
    """GPU001-006, 014 and 018 give master data, lessons with several classes and week
    groups, changes linked to their lessons, and holidays; each row remembers its source."""
    before = revision_of(school)
    outcome = do(school, untis_files())
    assert outcome.run.status == ImportRun.Status.APPLIED, outcome.run.problems
    assert revision_of(school) == before + 1
    assert Teacher.objects.get(school=school, code="MÜL").name == "Anna Müller"
    assert SchoolClass.objects.get(school=school, name="10a").grade == 10
    religion = Lesson.objects.get(school=school, external_id__startswith="5020/")
    assert {c.name for c in religion.classes.all()} == {"7a", "7b"}
    assert religion.source == "untis"
    assert Lesson.objects.get(school=school, external_id__startswith="5041/").weeks == "A"
    assert Lesson.objects.get(school=school, external_id__startswith="5042/").weeks == "B"
    assert Lesson.objects.get(school=school, external_id__startswith="5030/").valid_to == dt.date(
        2027, 1, 29
    )
    changes = {s.external_id: s for s in Substitution.objects.filter(school=school)}
    assert "105" not in changes  # "do not print"
    assert changes["101"].kind == "substitute"
    assert changes["101"].substitute_teacher.code == "SCH"
    assert changes["101"].lesson.external_id.startswith("5012/1/3/")
    assert changes["102"].kind == "cancelled"
    assert changes["103"].kind == "room_change"
    assert changes["103"].room.name == "R204"
    assert {c.name for c in changes["104"].classes.all()} == {"7a", "7b", "7c"}
    assert changes["107"].kind == "supervision"
    assert all(s.source == "untis" for s in changes.values())
    holidays = Closure.objects.filter(school=school, source="untis").order_by("starts_on")
    assert [(c.name, c.kind) for c in holidays][:2] == [
        ("Tag der Deutschen Einheit", "public_holiday"),
        ("Herbstferien", "holiday"),
    ]
    assert counts(outcome, "lessons")["added"] == Lesson.objects.filter(school=school).count()
    assert counts(outcome, "substitutions")["added"] == 6


def test_the_same_files_again_change_nothing(school: School) -> None:
    """A second import of the same export writes nothing and does not bump the revision."""
    do(school, untis_files())
    revision = revision_of(school)
    again = do(school, untis_files())
    assert again.run.status == ImportRun.Status.UNCHANGED
    assert revision_of(school) == revision
    assert all(
        c["added"] == c["changed"] == c["removed"] == 0
        for c in again.run.summary["counts"].values()
    )
    assert counts(again, "substitutions")["unchanged"] == 6


def _changed_gpu014() -> bytes:
    """The fixture's GPU014 re-exported: 101 has another substitute, 102 is gone."""
    lines = fixture_bytes("gpu014_comma_utf8.txt").splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith(b"101,"):
            line = line.replace(b'"MUE","SCH"', b'"MUE","KRA"')
        if not line.startswith(b"102,"):
            out.append(line)
    return b"".join(out)


GPU014_CHANGED = _changed_gpu014()


def test_a_changed_export_changes_only_what_changed(school: School) -> None:
    """A re-export with one change altered and one gone: one changed, one removed, the rest
    untouched, in one revision bump."""
    do(school, untis_files())
    kept = Substitution.objects.get(school=school, external_id="103")
    revision = revision_of(school)
    outcome = do(school, [("GPU014.TXT", GPU014_CHANGED)])
    assert revision_of(school) == revision + 1
    assert counts(outcome, "substitutions") == {
        "added": 0,
        "changed": 1,
        "removed": 1,
        "unchanged": 4,
        "conflicts": 0,
    }
    assert Substitution.objects.get(external_id="101").substitute_teacher.code == "KRA"
    assert not Substitution.objects.filter(external_id="102").exists()
    assert Substitution.objects.get(external_id="103").updated_at == kept.updated_at
    assert counts(outcome, "lessons")["removed"] == 0  # GPU014 alone says nothing of lessons


def test_a_bad_file_changes_nothing_and_names_file_line_and_field(school: School) -> None:
    """One malformed file among good ones: the import fails naming the file, line and field,
    and not a row of the good files is written."""
    before = revision_of(school)
    outcome = do(school, untis_files(**{"GPU002.TXT": fixture_bytes("bad/gpu002_bad_date.txt")}))
    assert outcome.run.status == ImportRun.Status.FAILED
    problem = outcome.run.problems[0]
    assert problem["file"] == "GPU002.TXT"
    assert problem["line"] is not None
    assert "valid" in problem["field"]
    assert revision_of(school) == before
    assert not Lesson.objects.filter(school=school).exists()
    assert not Teacher.objects.filter(school=school, code="KRA").exists()
    assert ImportRun.objects.get(pk=outcome.run.pk).status == ImportRun.Status.FAILED


def test_a_period_missing_from_the_bell_schedule_fails_the_import(school: School) -> None:
    """Periods cannot be made up: a lesson in period 9 fails the import, naming its row."""
    outcome = do(school, [("GPU001.TXT", b'1,"7a","MUE","M","R101",1,9,,\n')])
    assert outcome.run.status == ImportRun.Status.FAILED
    assert outcome.run.problems[0] | {"message": ""} == {
        "file": "GPU001.TXT",
        "line": 1,
        "field": "period",
        "code": "unknown_period",
        "message": "",
    }
    assert not Lesson.objects.filter(school=school).exists()


def test_a_dry_run_shows_the_difference_and_changes_nothing(school: School) -> None:
    """--dry-run: added, changed, removed per kind, nothing written, no revision bump."""
    before = revision_of(school)
    outcome = do(school, untis_files(), dry_run=True)
    assert outcome.run.status == ImportRun.Status.PREVIEW
    assert revision_of(school) == before
    assert not Lesson.objects.filter(school=school).exists()
    difference = outcome.difference()
    assert len(difference["substitutions"]["added"]) == 6
    assert any("MÜL" in item["what"] for item in difference["teachers"]["added"])
    do(school, untis_files())
    preview = do(school, [("GPU014.TXT", GPU014_CHANGED)], dry_run=True)
    changed = preview.difference()["substitutions"]["changed"]
    assert changed[0]["key"] == "101"
    assert changed[0]["fields"] == {"substitute_teacher": ["SCH", "KRA"]}
    assert [r["key"] for r in preview.difference()["substitutions"]["removed"]] == ["102"]
    assert Substitution.objects.get(external_id="101").substitute_teacher.code == "SCH"


def test_a_change_edited_by_hand_is_kept_and_shown_as_a_conflict(school: School) -> None:
    """An imported change edited in the admin since: the next import leaves it and lists the
    conflict; with overwrite_edited it takes the import's values."""
    do(school, untis_files())
    change = Substitution.objects.get(external_id="101")
    change.note = "Bitte Buch mitbringen"
    change.save()
    outcome = do(school, [("GPU014.TXT", GPU014_CHANGED)])
    conflicts = outcome.difference()["substitutions"]["conflicts"]
    assert [(c["key"], c["reason"]) for c in conflicts] == [("101", "edited_by_hand")]
    change.refresh_from_db()
    assert change.note == "Bitte Buch mitbringen"
    assert change.substitute_teacher.code == "SCH"
    do(school, [("GPU014.TXT", GPU014_CHANGED)], options=ImportOptions(overwrite_edited=True))
    change.refresh_from_db()
    assert (change.note, change.substitute_teacher.code) == ("", "KRA")


def test_a_change_deleted_by_hand_stays_deleted(school: School) -> None:
    """An imported change a person deleted is not brought back by the same export."""
    do(school, untis_files())
    Substitution.objects.get(external_id="103").delete()
    revision = revision_of(school)
    outcome = do(school, untis_files())
    assert not Substitution.objects.filter(external_id="103").exists()
    assert revision_of(school) == revision
    reasons = [c["reason"] for c in outcome.difference()["substitutions"]["conflicts"]]
    assert reasons == ["deleted_by_hand"]


def test_a_manual_change_of_the_same_lesson_and_date_wins(school: School) -> None:
    """A change entered by hand for a lesson and date: the import's change of the same lesson
    and date is a conflict, and the manual one stays."""
    do(school, untis_files(**{"GPU014.TXT": b""}))
    lesson = Lesson.objects.get(external_id__startswith="5012/1/3/")
    manual = Substitution.objects.create(
        school=school, date=MONDAY, lesson=lesson, kind="cancelled", note="Wandertag"
    )
    outcome = do(school, untis_files())
    conflicts = outcome.difference()["substitutions"]["conflicts"]
    assert [(c["key"], c["reason"], c["id"]) for c in conflicts] == [
        ("101", "manual_change_there", manual.pk)
    ]
    assert list(Substitution.objects.filter(lesson=lesson, date=MONDAY)) == [manual]


def test_manual_rows_are_never_touched(school: School) -> None:
    """Lessons and changes made by hand stay when an import states the whole timetable; a
    lesson the import drops that a manual change still names is kept, as a conflict."""
    manual = make_lesson(school, "7a", 5, 1, "M", "MUE")
    do(school, untis_files())
    lesson = Lesson.objects.get(external_id__startswith="5013/")
    note = Substitution.objects.create(
        school=school, date=MONDAY + dt.timedelta(7), lesson=lesson, kind="note", note="HA"
    )
    gpu001 = b"\n".join(
        line for line in fixture_bytes("gpu001.txt").splitlines() if not line.startswith(b"5013,")
    )
    outcome = do(school, [("GPU001.TXT", gpu001)])
    assert Lesson.objects.filter(pk=manual.pk).exists()
    assert Lesson.objects.filter(pk=lesson.pk).exists()
    assert Substitution.objects.filter(pk=note.pk).exists()
    reasons = [c["reason"] for c in outcome.difference()["lessons"]["conflicts"]]
    assert reasons == ["manual_changes_depend"]


def test_unknown_references_are_created_or_reported(school: School) -> None:
    """A teacher code not in the master data: created and counted by default; with
    unknown=report the row is left out, named, and counted."""
    row = b'1,"7a","NEU","M","R101",1,3,,\n2,"7a","MUE","D","R101",1,4,,\n'
    Subject.objects.create(school=school, code="D")  # MUE and 7a are there already
    Room.objects.create(school=school, name="R101")
    outcome = do(school, [("GPU001.TXT", row)], options=ImportOptions(unknown="report"))
    assert outcome.run.summary["unknown"] == {"teachers": {"NEU": 1}, "subjects": {"M": 1}}
    assert not Teacher.objects.filter(school=school, code="NEU").exists()
    assert Lesson.objects.filter(school=school).count() == 1
    notes = [n for n in outcome.run.summary["notes"] if n["code"] == "unknown_reference"]
    assert notes[0]["file"] == "GPU001.TXT"
    assert notes[0]["line"] == 1
    created = do(school, [("GPU001.TXT", row)])
    assert created.run.summary["unknown"] == {"teachers": {"NEU": 1}, "subjects": {"M": 1}}
    assert Teacher.objects.filter(school=school, code="NEU").exists()
    assert Lesson.objects.filter(school=school).count() == 2
    assert [a["reason"] for a in created.difference()["teachers"]["added"]] == ["unknown_reference"]


def test_monitor_pages_give_announcements_and_the_week_label(school: School) -> None:
    """The day's messages become that day's announcements (school time), the page's week
    label becomes a week label where the rotation says otherwise; again: nothing changes."""
    pages = [
        ("subst_001.htm", fixture_bytes("html/subst_001.htm")),
        ("subst_002.htm", fixture_bytes("html/subst_002.htm")),
    ]
    # the rule says week B for 14 September (anchor 7 September is A): the page says A
    outcome = do(school, pages)
    assert outcome.run.status == ImportRun.Status.APPLIED, outcome.run.problems
    messages = Announcement.objects.filter(school=school).order_by("title")
    titles = [m.title for m in messages]
    assert "Abwesende Lehrer" in titles
    assert any(t.startswith("Die 7a besucht") for t in titles)
    first = messages[0]
    berlin = school.tz
    assert first.starts_at.astimezone(berlin) == dt.datetime(2026, 9, 14, tzinfo=berlin)
    assert first.ends_at.astimezone(berlin) == dt.datetime(2026, 9, 15, tzinfo=berlin)
    assert WeekLabel.objects.get(school=school).label == "A"
    revision = revision_of(school)
    again = do(school, pages)
    assert again.run.status == ImportRun.Status.UNCHANGED
    assert revision_of(school) == revision


def test_hallboard_csv_lessons_and_changes(school: School) -> None:
    """hallboard CSV: lessons with several classes and rooms, changes by class and period,
    a range of periods as one change per period; source 'csv'; again: nothing changes."""
    outcome = do(
        school,
        [
            ("lessons.csv", fixture_bytes("lessons.csv")),
            ("substitutions.csv", fixture_bytes("substitutions.csv")),
        ],
    )
    assert outcome.run.status == ImportRun.Status.APPLIED, outcome.run.problems
    assert set(Lesson.objects.values_list("source", flat=True)) == {"csv"}
    lesson = Lesson.objects.get(external_id="L2")
    assert {c.name for c in lesson.classes.all()} == {"7a", "7b"}
    change = Substitution.objects.get(external_id="S2")
    assert change.kind == "cancelled"
    assert Substitution.objects.filter(external_id__startswith="S4@").count() == 2
    revision = revision_of(school)
    again = do(
        school,
        [
            ("lessons.csv", fixture_bytes("lessons.csv")),
            ("substitutions.csv", fixture_bytes("substitutions.csv")),
        ],
    )
    assert again.run.status == ImportRun.Status.UNCHANGED
    assert revision_of(school) == revision


def test_moved_lessons_are_paired_with_their_target(school: School) -> None:
    """GPU014 gives a move as two rows (the slot it leaves, the slot it goes to): one moved
    change on the lesson with the target period."""
    do(school, untis_files(**{"GPU014.TXT": b""}))
    rows = (
        b'201,"20260914",3,,5012,"MUE","","M",,"",,"R101","",,"7a","","",8,"7a","F",202609140712,\n'
        b'202,"20260914",6,,5012,"","MUE","",,"M",,"","R105",,"","","",128,"7a","T",202609140712,\n'
    )
    outcome = do(school, [("GPU014.TXT", rows)])
    assert outcome.run.status == ImportRun.Status.APPLIED, outcome.run.problems
    change = Substitution.objects.get(school=school)
    assert change.kind == "moved"
    assert change.lesson.external_id.startswith("5012/1/3/")
    assert change.target_period.number == 6
    assert change.room.name == "R105"
