"""The school calendar: holidays, closures, terms, week rotation over school weeks."""

from __future__ import annotations

import datetime as dt

from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.day import effective_day
from hallboard.timetable.models import Closure, SchoolCalendar, Term, WeekLabel
from tests.conftest import Tenant, make_lesson

D = dt.date
# November 2026: Mondays are the 2nd (ISO week 45), 9th, 16th, 23rd and 30th (week 49).


def ab_school(tenant: Tenant) -> None:
    SchoolCalendar.objects.create(school=tenant.school, week_cycle="A,B", anchor=D(2026, 11, 4))


def labels(tenant: Tenant, *mondays: dt.date) -> list[str | None]:
    view = SchoolCalendarView.load(tenant.school.pk)
    return [view.week_label(m) for m in mondays]


def test_holiday_day_has_no_lessons_and_names_the_next_school_day(tenant: Tenant) -> None:
    """On a holiday the day has no slots, says which holiday, and the next school day is known."""
    make_lesson(tenant.school, "7a", 1, 1)
    make_lesson(tenant.school, "7a", 2, 1)
    Closure.objects.create(
        school=tenant.school,
        name="Autumn break",
        starts_on=D(2026, 11, 23),
        ends_on=D(2026, 11, 27),
    )
    day = effective_day(tenant.school, D(2026, 11, 24))
    assert (day.school_day, day.reason, day.slots) == (False, "closure", [])
    assert day.closure is not None
    assert day.closure.name == "Autumn break"
    view = SchoolCalendarView.load(tenant.school.pk)
    assert view.next_school_day(D(2026, 11, 24)) == D(2026, 11, 30)
    assert effective_day(tenant.school, D(2026, 11, 30)).school_day


def test_a_one_day_closure_and_weekdays_without_lessons(tenant: Tenant) -> None:
    """A closure takes out one day; a weekday the school never teaches has no school either."""
    make_lesson(tenant.school, "7a", 1, 1)
    make_lesson(tenant.school, "7a", 2, 1)
    Closure.objects.create(
        school=tenant.school,
        kind=Closure.Kind.CLOSURE,
        name="Staff training",
        starts_on=D(2026, 11, 24),
        ends_on=D(2026, 11, 24),
    )
    view = SchoolCalendarView.load(tenant.school.pk)
    assert view.no_school_reason(D(2026, 11, 23)) is None
    assert view.no_school_reason(D(2026, 11, 24)) == "closure"
    assert view.no_school_reason(D(2026, 11, 25)) == "no_lessons"  # no Wednesday lessons
    assert view.next_school_day(D(2026, 11, 23)) == D(2026, 11, 30)


def test_outside_the_terms_there_is_no_school(tenant: Tenant) -> None:
    """With terms, a day outside every term has no lessons."""
    make_lesson(tenant.school, "7a", 1, 1)
    Term.objects.create(
        school=tenant.school, name="Autumn", starts_on=D(2026, 9, 1), ends_on=D(2026, 11, 20)
    )
    day = effective_day(tenant.school, D(2026, 11, 23))
    assert (day.school_day, day.reason) == (False, "outside_term")
    assert effective_day(tenant.school, D(2026, 11, 16)).slots


def test_week_labels_alternate_over_school_weeks_only(tenant: Tenant) -> None:
    """A/B alternate from the anchor week; a week wholly in holidays has no label and does not
    advance the rotation, so week 49 is B (ISO parity would say A)."""
    ab_school(tenant)
    make_lesson(tenant.school, "7a", 1, 1)
    Closure.objects.create(
        school=tenant.school, name="Break", starts_on=D(2026, 11, 21), ends_on=D(2026, 11, 29)
    )
    mondays = [D(2026, 11, 2), D(2026, 11, 9), D(2026, 11, 16), D(2026, 11, 23), D(2026, 11, 30)]
    assert labels(tenant, *mondays) == ["A", "B", "A", None, "B"]
    assert labels(tenant, D(2026, 10, 26), D(2026, 10, 19)) == ["B", "A"]  # before the anchor


def test_a_partly_closed_week_still_counts(tenant: Tenant) -> None:
    """A week with one school day left is a school week and takes its turn."""
    ab_school(tenant)
    make_lesson(tenant.school, "7a", 5, 1)  # Fridays only
    Closure.objects.create(
        school=tenant.school, name="Short", starts_on=D(2026, 11, 9), ends_on=D(2026, 11, 12)
    )
    assert labels(tenant, D(2026, 11, 9), D(2026, 11, 16)) == ["B", "A"]


def test_a_week_label_set_by_hand_restarts_the_rotation(tenant: Tenant) -> None:
    """Setting week 49 to A makes it A, and the weeks after count on from there."""
    ab_school(tenant)
    make_lesson(tenant.school, "7a", 1, 1)
    WeekLabel.objects.create(school=tenant.school, week=D(2026, 12, 2), label="A")
    assert labels(tenant, D(2026, 11, 23), D(2026, 11, 30), D(2026, 12, 7)) == ["B", "A", "B"]
    assert WeekLabel.objects.get().week == D(2026, 11, 30)  # stored as its Monday


def test_longer_rotations(tenant: Tenant) -> None:
    """An A,B,C,D rotation cycles through four labels."""
    SchoolCalendar.objects.create(school=tenant.school, week_cycle="A,B,C,D", anchor=D(2026, 11, 2))
    make_lesson(tenant.school, "7a", 1, 1)
    mondays = [D(2026, 11, 2) + dt.timedelta(weeks=n) for n in range(5)]
    assert labels(tenant, *mondays) == ["A", "B", "C", "D", "A"]


def test_lessons_follow_the_week_pattern(tenant: Tenant) -> None:
    """A lesson of week A shows in A weeks only, one of week B in B weeks; the day says which."""
    ab_school(tenant)
    make_lesson(tenant.school, "7a", 1, 1, subject="PH", weeks="A")
    make_lesson(tenant.school, "7a", 1, 1, subject="CH", weeks="B")
    make_lesson(tenant.school, "7a", 1, 2, subject="MA")  # every week
    week_a = effective_day(tenant.school, D(2026, 11, 2))
    week_b = effective_day(tenant.school, D(2026, 11, 9))
    assert week_a.week_label == "A"
    assert week_b.week_label == "B"
    assert [s.now.subject for s in week_a.slots if s.now] == ["PH", "MA"]
    assert [s.now.subject for s in week_b.slots if s.now] == ["CH", "MA"]


def test_validity_ranges_switch_the_timetable(tenant: Tenant) -> None:
    """A timetable change during the year: the old lesson until its end, the new one after."""
    make_lesson(tenant.school, "7a", 1, 1, subject="GE", valid_to=D(2026, 11, 20))
    make_lesson(tenant.school, "7a", 1, 1, subject="EK", valid_from=D(2026, 11, 21))
    before = effective_day(tenant.school, D(2026, 11, 16))
    after = effective_day(tenant.school, D(2026, 11, 23))
    assert [s.now.subject for s in before.slots if s.now] == ["GE"]
    assert [s.now.subject for s in after.slots if s.now] == ["EK"]
