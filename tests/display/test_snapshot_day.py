"""The snapshot's day: every kind of change as slots, the next school day by the screen's
setting (with ETag and valid_until following), holidays and the week label."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hallboard.screens.models import Screen
from hallboard.timetable.models import (
    Closure,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
)
from tests.conftest import Tenant, make_lesson, make_screen
from tests.display.conftest import ScreenClient

UTC = dt.UTC
MONDAY = dt.date(2026, 11, 23)
MONDAY_10_BERLIN = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MONDAY_15_BERLIN = dt.datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
Kind = Substitution.Kind


def test_every_kind_of_change_is_a_slot(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """Each kind of change is in day.slots with its regular values and the values now."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    Period.objects.create(school=school, number=3, starts_at=dt.time(10), ends_at=dt.time(11))
    teacher = Teacher.objects.create(school=school, code="HOF")
    room = Room.objects.create(school=school, name="B2")
    kinds = {
        Kind.CANCELLED: {},
        Kind.SUBSTITUTE: {"substitute_teacher": teacher},
        Kind.ROOM_CHANGE: {"room": room},
        Kind.MOVED: {"target_period": Period.objects.get(school=school, number=3)},
        Kind.EXAM: {"note": "Test"},
        Kind.SUPERVISION: {"substitute_teacher": teacher},
        Kind.NOTE: {"note": "Kit"},
    }
    for n, (kind, fields) in enumerate(kinds.items()):
        lesson = make_lesson(school, f"{n + 5}x", 1, 1, "M", "SCH", "A1")
        Substitution.objects.create(school=school, date=MONDAY, lesson=lesson, kind=kind, **fields)
    extra = Substitution.objects.create(
        school=school,
        date=MONDAY,
        kind=Kind.EXTRA,
        period=Period.objects.get(school=school, number=2),
        subject=Subject.objects.get(school=school, code="M"),
    )
    extra.classes.set([SchoolClass.objects.get(school=school, name="7a")])
    _, token = make_screen(school)
    slots = ScreenClient(token).get("snapshot").json()["day"]["slots"]
    by_kind = {(s["change"]["kind"], s["period"]): s for s in slots}
    regular = {"subject": "M", "teachers": ["SCH"], "rooms": ["A1"]}
    assert by_kind[("cancelled", 1)]["now"] is None
    assert by_kind[("cancelled", 1)]["regular"] == regular
    assert by_kind[("substitute", 1)]["now"]["teachers"] == ["HOF"]
    assert by_kind[("substitute", 1)]["changed"] == ["teachers"]
    assert by_kind[("room_change", 1)]["now"]["rooms"] == ["B2"]
    assert by_kind[("moved", 1)]["change"]["moved_to"] == {"date": "2026-11-23", "period": 3}
    assert by_kind[("moved", 3)]["change"]["moved_from"] == {"date": "2026-11-23", "period": 1}
    assert by_kind[("exam", 1)]["now"] == regular
    assert by_kind[("supervision", 1)]["now"]["teachers"] == ["HOF"]
    assert by_kind[("note", 1)]["change"]["note"] == "Kit"
    assert by_kind[("extra", 2)]["regular"] is None
    assert by_kind[("extra", 2)]["now"]["subject"] == "M"


def test_the_next_school_day_follows_the_screen_setting(
    tenant: Tenant, freeze: Callable[..., None]
) -> None:
    """'after' shows the next school day from 14:00 (valid_until points there and the ETag
    changes then), 'always' at once, 'never' not at all."""
    school = tenant.school
    make_lesson(school, "7a", 1, 1)
    tuesday = make_lesson(school, "7a", 2, 1)
    Substitution.objects.create(
        school=school, date=MONDAY + dt.timedelta(days=1), lesson=tuesday, kind=Kind.CANCELLED
    )
    _, after = make_screen(school, name="after")
    _, always = make_screen(school, name="always", next_day=Screen.NextDay.ALWAYS)
    _, never = make_screen(school, name="never", next_day=Screen.NextDay.NEVER)
    freeze(MONDAY_10_BERLIN)
    morning = ScreenClient(after).get("snapshot")
    assert morning.json()["next"] is None
    assert morning.json()["meta"]["valid_until"] == "2026-11-23T13:00:00Z"
    shown = ScreenClient(always).get("snapshot").json()["next"]
    assert shown["date"] == "2026-11-24"
    assert shown["slots"][0]["change"]["kind"] == "cancelled"
    freeze(MONDAY_15_BERLIN)
    afternoon = ScreenClient(after).get("snapshot", {"If-None-Match": morning["ETag"]})
    assert afternoon.status_code == 200
    assert afternoon.json()["next"]["date"] == "2026-11-24"
    assert afternoon.json()["meta"]["valid_until"] == "2026-11-23T23:00:00Z"
    assert ScreenClient(never).get("snapshot").json()["next"] is None


def test_a_holiday_always_brings_the_next_school_day(
    tenant: Tenant, freeze: Callable[..., None]
) -> None:
    """On a holiday the day has no slots and names the holiday; the next school day (after
    the holiday week, with its week label) is there even for a 'never' screen."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    make_lesson(school, "7a", 1, 1)
    SchoolCalendar.objects.create(school=school, week_cycle="A,B", anchor=dt.date(2026, 11, 16))
    Closure.objects.create(
        school=school, name="Winter break", starts_on=MONDAY, ends_on=MONDAY + dt.timedelta(days=6)
    )
    _, token = make_screen(school, next_day=Screen.NextDay.NEVER)
    body = ScreenClient(token).get("snapshot").json()
    assert body["day"]["school_day"] is False
    assert body["day"]["closure"]["name"] == "Winter break"
    assert body["day"]["slots"] == []
    assert body["meta"]["week_label"] is None
    assert body["next"]["date"] == "2026-11-30"
    assert body["next"]["week_label"] == "B"  # the holiday week did not count
    assert body["lessons"] == []
