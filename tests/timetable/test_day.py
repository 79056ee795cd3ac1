"""The effective timetable: each kind of change applied in place, with regular values kept."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.schools.models import School
from hallboard.timetable.day import Slot, Values, effective_day, slot_json, uncovered_lessons
from hallboard.timetable.models import (
    Period,
    Room,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    TeacherAbsence,
)
from tests.conftest import Tenant, make_lesson

MONDAY = dt.date(2026, 11, 23)
Kind = Substitution.Kind


@pytest.fixture
def school(tenant: Tenant) -> School:
    school = tenant.school
    Period.objects.create(
        school=school, number=3, starts_at=dt.time(9, 50), ends_at=dt.time(10, 35)
    )
    return school


def teacher(school: School, code: str) -> Teacher:
    return Teacher.objects.get_or_create(school=school, code=code)[0]


def room(school: School, name: str) -> Room:
    return Room.objects.get_or_create(school=school, name=name)[0]


def slots(school: School, day: dt.date = MONDAY, **kwargs: object) -> list[Slot]:
    return effective_day(school, day, **kwargs).slots  # type: ignore[arg-type]


def only(school: School, day: dt.date = MONDAY) -> Slot:
    (slot,) = slots(school, day)
    return slot


def test_a_regular_lesson_is_unchanged(school: School) -> None:
    """Without a change, the values now are the regular ones."""
    make_lesson(school, "7a", 1, 2, subject="PH", teachers="SCH", rooms="A103")
    slot = only(school)
    assert slot.regular == slot.now == Values("PH", ("SCH",), ("A103",))
    assert (slot.change, slot.changed) == (None, [])


def test_cancelled(school: School) -> None:
    """Cancelled: nothing takes place; the regular values stay for the screen to strike out."""
    lesson = make_lesson(school, "7a", 1, 2, subject="PH", teachers="SCH", rooms="A103")
    Substitution.objects.create(school=school, date=MONDAY, lesson=lesson, kind=Kind.CANCELLED)
    slot = only(school)
    assert slot.now is None
    assert slot.regular == Values("PH", ("SCH",), ("A103",))
    assert slot_json(slot)["change"]["kind"] == "cancelled"


def test_substitute_takes_subject_and_room_from_the_lesson(school: School) -> None:
    """A substitute named on its lesson keeps subject and room; only the teacher changes."""
    lesson = make_lesson(school, "7a", 1, 3, subject="M", teachers="SCH", rooms="A105")
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=lesson,
        kind=Kind.SUBSTITUTE,
        substitute_teacher=teacher(school, "HOF"),
    )
    slot = only(school)
    assert slot.now == Values("M", ("HOF",), ("A105",))
    assert slot.changed == ["teachers"]
    assert slot.period.number == 3  # the change's period came from the lesson
    assert slot_json(slot)["classes"] == ["7a"]


def test_room_change(school: School) -> None:
    """A room change changes the room only."""
    lesson = make_lesson(school, "7a", 1, 1, subject="M", teachers="SCH", rooms="A105")
    Substitution.objects.create(
        school=school, date=MONDAY, lesson=lesson, kind=Kind.ROOM_CHANGE, room=room(school, "B2")
    )
    slot = only(school)
    assert (slot.now, slot.changed) == (Values("M", ("SCH",), ("B2",)), ["rooms"])


def test_moved_to_another_period_and_day(school: School) -> None:
    """Moved: gone from its slot (saying where to) and present in the new one (saying from
    where), also when the new slot is on another day."""
    lesson = make_lesson(school, "7a", 1, 1, subject="BIO", teachers="FIS", rooms="Lab")
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=lesson,
        kind=Kind.MOVED,
        target_period=Period.objects.get(school=school, number=3),
    )
    away, here = slots(school)
    assert (away.period.number, away.now, away.moved_to[1].number) == (1, None, 3)  # type: ignore[index]
    assert (here.period.number, here.regular, here.now) == (3, None, away.regular)
    assert slot_json(here)["change"]["moved_from"] == {"date": "2026-11-23", "period": 1}

    tuesday = MONDAY + dt.timedelta(days=1)
    Substitution.objects.filter(lesson=lesson).update(target_date=tuesday)
    assert [s.now for s in slots(school)] == [None]
    (arrived,) = slots(school, tuesday)
    assert arrived.now == Values("BIO", ("FIS",), ("Lab",))
    assert slot_json(arrived)["change"]["moved_from"] == {"date": "2026-11-23", "period": 1}


def test_swapped(school: School) -> None:
    """A swap is two swapped changes: each lesson shows in the other's period."""
    first = make_lesson(school, "7a", 1, 1, subject="D", teachers="MUE")
    second = make_lesson(school, "7a", 1, 2, subject="E", teachers="WEB")
    for lesson, target in ((first, 2), (second, 1)):
        Substitution.objects.create(
            school=school,
            date=MONDAY,
            lesson=lesson,
            kind=Kind.SWAPPED,
            target_period=Period.objects.get(school=school, number=target),
        )
    taking_place = [(s.period.number, s.now.subject) for s in slots(school) if s.now]
    assert taking_place == [(1, "E"), (2, "D")]
    assert {s.kind for s in slots(school)} == {"swapped"}


def test_extra_lesson(school: School) -> None:
    """An extra lesson has no regular values: nothing was planned there."""
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        kind=Kind.EXTRA,
        period=Period.objects.get(school=school, number=3),
        subject=Subject.objects.get(school=school, code="MA"),
        substitute_teacher=teacher(school, "BEC"),
        room=room(school, "A1"),
    ).classes.set([SchoolClass.objects.get(school=school, name="8b")])
    slot = only(school)
    assert (slot.regular, slot.now) == (None, Values("MA", ("BEC",), ("A1",)))
    assert [c.name for c in slot.classes] == ["8b"]


def test_exam_supervision_and_note(school: School) -> None:
    """An exam and a note keep the lesson's values; supervision puts another teacher in."""
    exam = make_lesson(school, "7a", 1, 1, subject="M", teachers="SCH", rooms="A1")
    supervised = make_lesson(school, "7a", 1, 2, subject="E", teachers="WEB", rooms="A1")
    noted = make_lesson(school, "7a", 1, 3, subject="SP", teachers="KOC", rooms="Gym")
    Substitution.objects.create(
        school=school, date=MONDAY, lesson=exam, kind=Kind.EXAM, note="Test 2"
    )
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=supervised,
        kind=Kind.SUPERVISION,
        substitute_teacher=teacher(school, "RIC"),
    )
    Substitution.objects.create(
        school=school, date=MONDAY, lesson=noted, kind=Kind.NOTE, note="Bring your kit"
    )
    first, second, third = slots(school)
    assert (first.kind, first.now, first.changed) == ("exam", first.regular, [])
    assert (second.kind, second.changed) == ("supervision", ["teachers"])
    assert (third.kind, third.now, slot_json(third)["change"]["note"]) == (
        "note",
        third.regular,
        "Bring your kit",
    )


def test_changes_of_other_days_do_not_apply(school: School) -> None:
    """A change is for its date only."""
    lesson = make_lesson(school, "7a", 1, 1)
    Substitution.objects.create(
        school=school, date=MONDAY + dt.timedelta(days=7), lesson=lesson, kind=Kind.CANCELLED
    )
    assert only(school).now is not None


def test_combined_classes_and_screen_views(school: School) -> None:
    """A lesson of two classes is one slot naming both; a view of either class shows it."""
    make_lesson(school, ["8b", "7a"], 1, 1, subject="REL")
    make_lesson(school, "8b", 1, 2, subject="M")
    seven_a = SchoolClass.objects.get(school=school, name="7a").pk
    (slot,) = slots(school, class_ids=[seven_a])
    assert slot_json(slot)["classes"] == ["7a", "8b"]
    assert len(slots(school)) == 2


def test_parallel_groups_change_each_on_their_own(school: School) -> None:
    """Parallel groups of a class in one period are separate lessons; each may change."""
    religion = make_lesson(school, "7a", 1, 1, subject="REL", teachers="SWA", group="ev")
    ethics = make_lesson(school, "7a", 1, 1, subject="ETH", teachers="RIC", group="Ethik")
    Substitution.objects.create(school=school, date=MONDAY, lesson=religion, kind=Kind.CANCELLED)
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=ethics,
        kind=Kind.ROOM_CHANGE,
        room=room(school, "B1"),
    )
    by_group = {s.group: s for s in slots(school)}
    assert by_group["ev"].now is None
    assert by_group["Ethik"].now == Values("ETH", ("RIC",), ("B1",))


def test_team_teaching_replaces_only_the_absent_teacher(school: School) -> None:
    """With two teachers, a substitute for one keeps the other."""
    lesson = make_lesson(school, "7a", 1, 1, teachers=["AAA", "BBB"])
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=lesson,
        kind=Kind.SUBSTITUTE,
        teacher=teacher(school, "BBB"),
        substitute_teacher=teacher(school, "CCC"),
    )
    assert only(school).now.teachers == ("AAA", "CCC")  # type: ignore[union-attr]


def test_hidden_teacher_names(school: School) -> None:
    """A student-facing screen gets no teacher names, not even in what changed."""
    lesson = make_lesson(school, "7a", 1, 1, teachers="SCH")
    Substitution.objects.create(
        school=school,
        date=MONDAY,
        lesson=lesson,
        kind=Kind.SUBSTITUTE,
        substitute_teacher=teacher(school, "HOF"),
    )
    shown = slot_json(only(school), hide_teachers=True)
    assert (shown["regular"]["teachers"], shown["now"]["teachers"]) == ([], [])
    assert (shown["changed"], shown["change"]["kind"]) == ([], "substitute")


def test_uncovered_lessons_of_absent_teachers(school: School) -> None:
    """An absent teacher's lessons need cover until a change covers them; periods bound it."""
    first = make_lesson(school, "7a", 1, 1, teachers="SCH")
    make_lesson(school, "8b", 1, 2, teachers="SCH")
    make_lesson(school, "8b", 1, 3, teachers="SCH")
    make_lesson(school, "7a", 1, 3, teachers="MUE")
    TeacherAbsence.objects.create(
        school=school,
        teacher=teacher(school, "SCH"),
        starts_on=MONDAY,
        ends_on=MONDAY,
        last_period=Period.objects.get(school=school, number=2),
    )
    assert [s.period.number for s, _ in uncovered_lessons(school, MONDAY)] == [1, 2]
    Substitution.objects.create(school=school, date=MONDAY, lesson=first, kind=Kind.CANCELLED)
    assert [s.period.number for s, _ in uncovered_lessons(school, MONDAY)] == [2]
