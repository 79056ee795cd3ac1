"""Changes through the API: filled from their lesson, one per lesson and date, the day served."""

from __future__ import annotations

import datetime as dt

from hallboard.timetable.models import Closure, Substitution, Teacher, TeacherAbsence
from tests.conftest import KeyFactory, Tenant, make_lesson, revision_of

MONDAY = "2026-11-23"


def test_a_change_named_by_class_and_period_takes_the_lesson_values(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A substitute named by class and period is linked to the lesson and shows its subject
    and room, with the substitute as the teacher now."""
    lesson = make_lesson(tenant.school, "7a", 1, 2, subject="PH", teachers="SCH", rooms="A103")
    make_lesson(tenant.school, "8b", 1, 2, subject="MA", teachers="SCH")
    Teacher.objects.create(school=tenant.school, code="HOF")
    client = api_as("timetabler")
    made = client.post(
        "schools/alpha/substitutions",
        {"date": MONDAY, "period": 2, "class": "7a", "kind": "substitute", "substitute": "HOF"},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["lesson"] == lesson.pk
    assert (body["subject"], body["teacher"], body["substitute"], body["room"]) == (
        "PH",
        "SCH",
        "HOF",
        "A103",
    )
    assert body["regular"] == {"subject": "PH", "teachers": ["SCH"], "rooms": ["A103"]}
    assert body["now"] == {"subject": "PH", "teachers": ["HOF"], "rooms": ["A103"]}


def test_a_second_change_of_a_lesson_is_a_422_naming_the_first(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """A cancellation and a substitute for the same lesson and date: the second is refused with
    change_conflict naming the first; nothing is stored and the revision stays."""
    lesson = make_lesson(tenant.school, "7a", 1, 1, teachers="MUE")
    client = api_as("timetabler")
    first = client.post(
        "schools/alpha/substitutions", {"date": MONDAY, "lesson": lesson.pk, "kind": "cancelled"}
    ).json()
    rev = revision_of(tenant.school)
    second = client.post(
        "schools/alpha/substitutions",
        {"date": MONDAY, "class": "7a", "period": 1, "kind": "substitute", "substitute": "MUE"},
    )
    assert second.status_code == 422
    error = second.json()
    assert error["error"] == "change_conflict"
    assert error["detail"][0]["conflict"] == first["id"]
    assert f"#{first['id']}" in error["detail"][0]["msg"]
    assert "Cancelled" in error["detail"][0]["msg"]
    assert Substitution.objects.count() == 1
    assert revision_of(tenant.school) == rev

    day = [
        {"date": MONDAY, "lesson": lesson.pk, "kind": "cancelled"},
        {"date": MONDAY, "lesson": lesson.pk, "kind": "note", "note": "x"},
    ]
    twice = client.put("schools/alpha/substitutions", day, date=MONDAY)
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "1.lesson"]
    assert Substitution.objects.get().kind == "cancelled"  # the day is unchanged


def test_parallel_lessons_need_the_subject_or_group(tenant: Tenant, api_as: KeyFactory) -> None:
    """Two lessons of 7a in one period: class and period alone are ambiguous (422); with the
    subject each parallel group gets its own change."""
    make_lesson(tenant.school, "7a", 1, 1, subject="REL", group="ev")
    make_lesson(tenant.school, "7a", 1, 1, subject="ETH")
    client = api_as("timetabler")
    base = {"date": MONDAY, "class": "7a", "period": 1, "kind": "cancelled"}
    ambiguous = client.post("schools/alpha/substitutions", base)
    assert ambiguous.status_code == 422
    assert "REL" in ambiguous.json()["detail"][0]["msg"]
    for subject in ("REL", "ETH"):
        made = client.post("schools/alpha/substitutions", {**base, "subject": subject})
        assert made.status_code == 201, made.content
    assert Substitution.objects.filter(lesson__isnull=False).count() == 2


def test_a_change_on_a_day_the_lesson_is_not_is_refused(tenant: Tenant, api_as: KeyFactory) -> None:
    """A change naming a Monday lesson on a Tuesday is a 422 saying so."""
    lesson = make_lesson(tenant.school, "7a", 1, 1)
    refused = api_as("timetabler").post(
        "schools/alpha/substitutions",
        {"date": "2026-11-24", "lesson": lesson.pk, "kind": "cancelled"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "date"]


def test_moved_and_extra_need_their_details(tenant: Tenant, api_as: KeyFactory) -> None:
    """A move needs a target period; an extra lesson needs classes, period and subject."""
    lesson = make_lesson(tenant.school, "7a", 1, 1)
    client = api_as("timetabler")
    no_target = client.post(
        "schools/alpha/substitutions", {"date": MONDAY, "lesson": lesson.pk, "kind": "moved"}
    )
    assert no_target.status_code == 422
    assert no_target.json()["detail"][0]["loc"] == ["body", "target_period"]
    moved = client.post(
        "schools/alpha/substitutions",
        {"date": MONDAY, "lesson": lesson.pk, "kind": "moved", "target_period": 2},
    )
    assert moved.status_code == 201, moved.content
    assert moved.json()["target_period"] == 2
    extra = client.post(
        "schools/alpha/substitutions",
        {"date": MONDAY, "kind": "extra", "period": 2, "class": "8b", "subject": "MA"},
    )
    assert extra.status_code == 201, extra.content
    assert (extra.json()["regular"], extra.json()["classes"]) == (None, ["8b"])
    classless = client.post(
        "schools/alpha/substitutions", {"date": MONDAY, "kind": "extra", "period": 2}
    )
    assert classless.status_code == 422


def test_the_day_endpoint_serves_the_effective_timetable(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """GET /day: slots with regular values and what changed, lessons needing cover, and on a
    holiday no slots and the next school day."""
    school = tenant.school
    cancelled = make_lesson(school, "7a", 1, 1, subject="PH", teachers="SCH")
    make_lesson(school, "8b", 1, 2, subject="MA", teachers="SCH")
    make_lesson(school, "8b", 1, 1, subject="MA", teachers="MUE")
    Substitution.objects.create(
        school=school, date=dt.date(2026, 11, 23), lesson=cancelled, kind="cancelled"
    )
    TeacherAbsence.objects.create(
        school=school,
        teacher=Teacher.objects.get(school=school, code="SCH"),
        starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 23),
    )
    client = api_as("viewer")
    day = client.get("schools/alpha/day", date=MONDAY).json()
    assert day["school_day"] is True
    assert next((s["classes"], s["period"], s["now"]) for s in day["slots"]) == (["7a"], 1, None)
    assert day["slots"][0]["change"]["kind"] == "cancelled"
    assert [(c["slot"]["classes"], c["teacher"]) for c in day["needs_cover"]] == [(["8b"], "SCH")]
    only_8b = client.get("schools/alpha/day", date=MONDAY, classes="8b").json()
    assert {tuple(s["classes"]) for s in only_8b["slots"]} == {("8b",)}

    Closure.objects.create(
        school=school, name="Break", starts_on=dt.date(2026, 11, 23), ends_on=dt.date(2026, 11, 29)
    )
    holiday = client.get("schools/alpha/day", date=MONDAY).json()
    assert (holiday["school_day"], holiday["reason"], holiday["slots"]) == (False, "closure", [])
    assert holiday["closure"]["name"] == "Break"
    assert holiday["next_school_day"] == "2026-11-30"
