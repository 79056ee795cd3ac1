"""Today's changes as the page reads and writes them, without HTTP (staff.daychanges).

The page's endpoints (rights, JSON errors, 304s) are tested in test_day.py; here the
module's own rules: conflicts by tag, the actions on one lesson, absences and pasted rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hallboard.schools.models import School
from hallboard.staff.daychanges import (
    MAX_PASTE_CHARS,
    MAX_PASTE_ROWS,
    NOTE_LENGTH,
    add_absence,
    apply_paste,
    change,
    describe,
    load,
    plan_paste,
    split_rows,
    tag_of,
    today,
)
from hallboard.staff.refused import Refused
from hallboard.timetable.models import Room, Substitution, Teacher
from tests.conftest import Tenant, make_lesson, revision_of

MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def day(tenant: Tenant) -> dict[str, Any]:
    """Alpha on a Monday: 7a MA with MUE in period 1 (R1), 8b DE with SCH in period 1 (R2);
    KLE teaches nothing; rooms R1-R3."""
    school = tenant.school
    first = make_lesson(school, "7a", 1, 1, "MA", "MUE", "R1")
    other = make_lesson(school, "8b", 1, 1, "DE", "SCH", "R2")
    Teacher.objects.create(school=school, code="KLE", name="Herr Klein")
    Room.objects.create(school=school, name="R3")
    return {"school": school, "first": first, "other": other}


def act(day: dict[str, Any], action: str, value: str = "", expect: str = "none") -> Any:
    return change(
        day["school"], MONDAY, lesson_id=day["first"].pk, action=action, value=value,
        expect=expect,
    )  # fmt: skip


def refusal(error: pytest.ExceptionInfo[Refused]) -> tuple[int, str]:
    return error.value.status, error.value.code


def test_split_rows_sniffs_the_dialect() -> None:
    """Tabs, semicolons and quoted commas are all read as cells; blank lines are skipped."""
    assert split_rows("7a\t1\tx\n\n8b\t2\tx") == [
        (1, ["7a", "1", "x"]),
        (3, ["8b", "2", "x"]),
    ]
    assert split_rows('7a,1,note,,,"a, b"\n8b,2,x,,,') == [
        (1, ["7a", "1", "note", "", "", "a, b"]),
        (2, ["8b", "2", "x", "", "", ""]),
    ]
    assert split_rows("7a;1;x") == [(1, ["7a", "1", "x"])]


def test_today_is_the_schools_date() -> None:
    """At 20:00 UTC on 30 November it is already 1 December in Auckland, still 30 November
    in Berlin: the page opens on the school's date."""
    now = dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.UTC)
    auckland = School(slug="akl", name="Auckland", timezone="Pacific/Auckland")
    berlin = School(slug="ber", name="Berlin", timezone="Europe/Berlin")
    assert today(auckland, now) == dt.date(2026, 12, 1)
    assert today(berlin, now) == dt.date(2026, 11, 30)


def test_a_refusal_is_json_with_its_extra_fields() -> None:
    """as_json gives error, detail and any extra the refusal carries (e.g. the tag)."""
    error = Refused(409, "conflict", "Changed meanwhile.", tag="none", lesson=3)
    assert error.as_json() == {
        "error": "conflict",
        "detail": "Changed meanwhile.",
        "tag": "none",
        "lesson": 3,
    }


def test_the_tag_names_the_change_as_the_page_saw_it(day: dict[str, Any]) -> None:
    """No change: 'none'; a change: its id and last update, which move with every save."""
    assert tag_of(None) == "none"
    sub = act(day, "cancel")
    first_tag = tag_of(sub)
    assert first_tag.startswith(f"{sub.pk}:")
    again = act(day, "note", "Aula", expect=first_tag)
    assert tag_of(again) != first_tag


def test_each_action_changes_the_lesson_and_clear_restores_the_plan(day: dict[str, Any]) -> None:
    """cancel, substitute, room and note set the change; clear removes it; each bumps the
    school's revision once."""
    school = day["school"]
    before = revision_of(school)
    sub = act(day, "substitute", "KLE")
    assert (sub.kind, sub.substitute_teacher.code) == (Substitution.Kind.SUBSTITUTE, "KLE")
    assert revision_of(school) == before + 1
    sub = act(day, "room", "R3", expect=tag_of(sub))
    assert (sub.kind, sub.room.name, sub.substitute_teacher.code) == ("substitute", "R3", "KLE")
    sub = act(day, "cancel", expect=tag_of(sub))
    assert (sub.kind, sub.room, sub.substitute_teacher) == ("cancelled", None, None)
    assert describe(sub) == str(sub.get_kind_display())
    assert act(day, "clear", expect=tag_of(sub)) is None
    assert not Substitution.objects.filter(lesson=day["first"], date=MONDAY).exists()
    assert revision_of(school) == before + 4


def test_a_write_against_a_stale_tag_is_a_conflict_and_overwrites_nothing(
    day: dict[str, Any],
) -> None:
    """Someone changed the lesson since the page loaded: 409 naming what is there now."""
    act(day, "substitute", "KLE")
    with pytest.raises(Refused) as error:
        act(day, "cancel", expect="none")
    assert refusal(error) == (409, "conflict")
    assert "KLE" in error.value.detail
    current = Substitution.objects.get(lesson=day["first"], date=MONDAY)
    assert current.kind == Substitution.Kind.SUBSTITUTE
    assert error.value.extra == {"tag": tag_of(current), "lesson": day["first"].pk}


def test_a_change_made_elsewhere_is_left_to_the_admin(day: dict[str, Any]) -> None:
    """A lesson whose change is of a kind the page does not make (moved) is refused 422."""
    moved = Substitution.objects.create(
        school=day["school"], date=MONDAY, lesson=day["first"], kind=Substitution.Kind.EXAM
    )
    with pytest.raises(Refused) as error:
        act(day, "cancel", expect=tag_of(moved))
    assert refusal(error) == (422, "edit_in_admin")


def test_an_imported_change_edited_on_the_page_becomes_manual(day: dict[str, Any]) -> None:
    """Once a person changes an imported change, it is theirs: source 'manual'."""
    imported = Substitution.objects.create(
        school=day["school"], date=MONDAY, lesson=day["first"], kind="cancelled", source="untis"
    )
    assert act(day, "note", "Aula", expect=tag_of(imported)).source == "manual"


@pytest.mark.parametrize(
    ("action", "value", "expected"),
    [
        ("teleport", "", (400, "bad_action")),
        ("substitute", "NOBODY", (422, "unknown_teacher")),
        ("substitute", "", (422, "missing_value")),
        ("room", "", (422, "missing_value")),
        ("note", "", (422, "missing_value")),
        ("note", "x" * (NOTE_LENGTH + 1), (422, "note_too_long")),
    ],
)
def test_bad_actions_are_refused_without_writing(
    day: dict[str, Any], action: str, value: str, expected: tuple[int, str]
) -> None:
    """Unknown actions, unknown teachers or rooms and empty or long notes are refused."""
    before = revision_of(day["school"])
    with pytest.raises(Refused) as error:
        act(day, action, value)
    assert refusal(error) == expected
    assert not Substitution.objects.filter(lesson=day["first"]).exists()
    assert revision_of(day["school"]) == before


def test_another_schools_lesson_is_not_found(day: dict[str, Any], tenant: Tenant) -> None:
    """A lesson id of another school is 404, as if it did not exist."""
    with pytest.raises(Refused) as error:
        change(tenant.other_school, MONDAY, lesson_id=day["first"].pk, action="cancel",
               expect="none")  # fmt: skip
    assert refusal(error) == (404, "not_found")


def test_an_absent_teacher_is_not_free_and_their_lesson_needs_cover(day: dict[str, Any]) -> None:
    """MUE away in period 1: not among the free teachers of period 1, absent in 7a's slot."""
    add_absence(day["school"], MONDAY, teacher="MUE", first_period=1, last_period=1)
    board = load(day["school"], MONDAY)
    period = day["first"].period
    assert "MUE" not in {t.code for t in board.free_teachers(period)}
    assert "SCH" not in {t.code for t in board.free_teachers(period)}  # teaching 8b
    assert "KLE" in {t.code for t in board.free_teachers(period)}
    slot = next(s for s in board.day.slots if s.lesson == day["first"])
    assert board.absent_in(slot) == ["MUE"]
    assert {r.name for r in board.free_rooms(period)} == {"R3"}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"teacher": "NOBODY"}, "unknown_teacher"),
        ({"teacher": ""}, "missing_value"),
        ({"teacher": "MUE", "first_period": 9}, "unknown_period"),
        ({"teacher": "MUE", "first_period": 2, "last_period": 1}, "invalid"),
    ],
)
def test_a_bad_absence_is_refused(day: dict[str, Any], kwargs: dict[str, Any], code: str) -> None:
    """An unknown teacher or period, or a last period before the first, is 422."""
    with pytest.raises(Refused) as error:
        add_absence(day["school"], MONDAY, **kwargs)
    assert refusal(error) == (422, code)


def test_split_rows_skips_a_header_row() -> None:
    """A first row whose period column is not a number is a header, not data."""
    assert split_rows("class\tperiod\tkind\n7a\t1\tx") == [(2, ["7a", "1", "x"])]
    assert split_rows("  \n\n") == []


def test_split_rows_refuses_too_much_text_or_too_many_rows() -> None:
    """Over MAX_PASTE_CHARS characters or MAX_PASTE_ROWS rows is refused 413."""
    with pytest.raises(Refused) as error:
        split_rows("x" * (MAX_PASTE_CHARS + 1))
    assert refusal(error) == (413, "too_large")
    with pytest.raises(Refused) as error:
        split_rows("7a\t1\tx\n" * (MAX_PASTE_ROWS + 1))
    assert refusal(error) == (413, "too_many_rows")


def test_pasted_kinds_are_understood_in_german_and_english(day: dict[str, Any]) -> None:
    """'Entfall' and 'cancelled' both mean a cancellation; a substitution needs a teacher."""
    rows = plan_paste(day["school"], MONDAY, "7a\t1\tEntfall\n8b\t1\tVertretung")
    assert [r.resolved_kind for r in rows] == ["cancelled", "substitute"]
    assert rows[0].errors == []
    assert rows[0].lesson == day["first"]
    assert rows[1].errors == ["A substitution needs the substitute teacher."]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("7a\t1\tbanana", "Unknown kind"),
        ("8b\t1\tcancelled\n7a\tone\tcancelled", "The period must be a number"),
        ("9z\t1\tcancelled", "There is no class 9z"),
        ("7a\t5\tcancelled", "has no lesson in period 5"),
        ("7a\t1\tsubstitute\tNOBODY", "There is no teacher NOBODY"),
        ("7a\t1\troom\t\tR99", "There is no room R99"),
        ("7a\t1\tnote", "A note needs its text"),
        ("7a\t1\tcancelled\n7a\t1\tnote\t\t\thi", "Line 1 already changes this lesson"),
    ],
)
def test_each_bad_pasted_row_says_what_is_wrong(
    day: dict[str, Any], text: str, fragment: str
) -> None:
    """A row that cannot be applied carries a sentence naming its problem."""
    rows = plan_paste(day["school"], MONDAY, text)
    assert any(fragment in error for error in rows[-1].errors), rows[-1].errors


def test_applying_a_paste_writes_every_row_or_none(day: dict[str, Any]) -> None:
    """A paste with one bad row writes nothing (422 paste_invalid with the rows); a good
    one writes every row in one revision bump."""
    school = day["school"]
    with pytest.raises(Refused) as error:
        apply_paste(school, MONDAY, "7a\t1\tcancelled\n8b\t1\tbanana")
    assert refusal(error) == (422, "paste_invalid")
    assert [row["line"] for row in error.value.extra["rows"]] == [1, 2]
    assert not Substitution.objects.filter(school=school).exists()
    before = revision_of(school)
    apply_paste(school, MONDAY, "7a\t1\tcancelled\n8b\t1\tsubstitute\tKLE\tR3")
    assert revision_of(school) == before + 1
    written = {
        (s.lesson_id, s.kind, s.substitute_teacher_id and s.substitute_teacher.code)
        for s in Substitution.objects.filter(school=school)
    }
    assert written == {(day["first"].pk, "cancelled", None), (day["other"].pk, "substitute", "KLE")}


def test_an_empty_paste_is_refused(day: dict[str, Any]) -> None:
    """Applying nothing is 422 paste_empty."""
    with pytest.raises(Refused) as error:
        apply_paste(day["school"], MONDAY, "\n")
    assert refusal(error) == (422, "paste_empty")


def test_a_school_object_is_enough_for_today() -> None:
    """today() needs no database: the school's time zone alone decides the date."""
    school = School(slug="x", name="X", timezone="America/Los_Angeles")
    assert today(school, dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)) == dt.date(2026, 11, 30)
