"""The school calendar: which days have lessons and which week of the rotation a week is.

One object, ``SchoolCalendarView``, loads a school's calendar rows once (terms,
holidays and closures, rotation, week labels set by hand) and answers:

- ``closure_on(day)``: the holiday or closure that day lies in, if any;
- ``school_day(day)`` / ``no_school_reason(day)``: whether it has lessons, and
  if not, why ("closure", "outside_term", "no_lessons" on weekdays the school
  never teaches, e.g. Sundays);
- ``week_label(day)``: "A", "B", ... or None (no rotation, or a week without
  school);
- ``next_school_day(day)``.

Week labels follow the rule of ``SchoolCalendar``: the anchor week has the
first label; each *school week* after it advances the rotation by one, and a
week in which no day is a school day (it lies wholly in holidays, closures or
outside the terms) has no label and does not advance it. A ``WeekLabel`` set
by hand gives its week that label, and the weeks after it count on from there
(so after a holiday a school can restart with "A" by setting one week).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field

from hallboard.timetable.models import (
    Closure,
    Lesson,
    SchoolCalendar,
    Term,
    WeekLabel,
    monday_of,
)

#: How far ahead ``next_school_day`` looks before giving up (a summer break fits).
HORIZON_DAYS = 120
#: Weekdays a school teaches on when it has no lessons yet (Monday to Friday).
DEFAULT_WEEKDAYS = frozenset({1, 2, 3, 4, 5})
WEEK = dt.timedelta(days=7)


def cycle_labels(school_id: int) -> list[str]:
    """The school's rotation labels in order ([] when it has no rotation)."""
    calendar = SchoolCalendar.objects.filter(school_id=school_id).first()
    return calendar.labels if calendar is not None else []


@dataclass
class SchoolCalendarView:
    """A school's calendar, loaded once; every question answered from memory."""

    labels: list[str] = field(default_factory=list)
    anchor: dt.date | None = None
    closures: list[Closure] = field(default_factory=list)  # by start
    terms: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    overrides: dict[dt.date, str] = field(default_factory=dict)  # Monday → label
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    _closure_starts: list[dt.date] = field(default_factory=list, repr=False)
    _school_week_cache: dict[dt.date, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, school_id: int) -> SchoolCalendarView:
        calendar = SchoolCalendar.objects.filter(school_id=school_id).first()
        weekdays = frozenset(
            Lesson.objects.filter(school_id=school_id)
            .order_by()
            .values_list("weekday", flat=True)
            .distinct()
        )
        view = cls(
            labels=calendar.labels if calendar else [],
            anchor=monday_of(calendar.anchor) if calendar and calendar.anchor else None,
            closures=list(Closure.objects.filter(school_id=school_id).order_by("starts_on", "pk")),
            terms=list(
                Term.objects.filter(school_id=school_id).values_list("starts_on", "ends_on")
            ),
            overrides=dict(
                WeekLabel.objects.filter(school_id=school_id).values_list("week", "label")
            ),
            weekdays=weekdays or DEFAULT_WEEKDAYS,
        )
        view._closure_starts = [c.starts_on for c in view.closures]
        return view

    # --- days ------------------------------------------------------------------------
    def closure_on(self, day: dt.date) -> Closure | None:
        """The closure ``day`` lies in (the one starting last, if several overlap)."""
        index = bisect_right(self._closure_starts, day)
        for closure in reversed(self.closures[:index]):
            if closure.ends_on >= day:
                return closure
        return None

    def in_term(self, day: dt.date) -> bool:
        """With no terms defined every day is in term."""
        return not self.terms or any(start <= day <= end for start, end in self.terms)

    def no_school_reason(self, day: dt.date) -> str | None:
        """Why ``day`` has no lessons ("closure", "outside_term", "no_lessons"), or None."""
        if self.closure_on(day) is not None:
            return "closure"
        if not self.in_term(day):
            return "outside_term"
        if day.isoweekday() not in self.weekdays:
            return "no_lessons"
        return None

    def school_day(self, day: dt.date) -> bool:
        return self.no_school_reason(day) is None

    def next_school_day(self, day: dt.date, horizon: int = HORIZON_DAYS) -> dt.date | None:
        """The first school day after ``day`` within ``horizon`` days, or None."""
        for offset in range(1, horizon + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.school_day(candidate):
                return candidate
        return None

    # --- weeks -----------------------------------------------------------------------
    def school_week(self, monday: dt.date) -> bool:
        """True if any day of the week starting ``monday`` is a school day."""
        cached = self._school_week_cache.get(monday)
        if cached is None:
            cached = any(
                self.school_day(monday + dt.timedelta(days=d))
                for d in range(7)
                if d + 1 in self.weekdays
            )
            self._school_week_cache[monday] = cached
        return cached

    def week_label(self, day: dt.date) -> str | None:
        """The rotation label of ``day``'s week, or None (no rotation, or no school that week)."""
        if not self.labels:
            return None
        monday = monday_of(day)
        override = self.overrides.get(monday)
        if override is not None:
            return override
        if not self.school_week(monday):
            return None
        reference = self._reference(monday)
        if reference is None:
            return None
        ref_monday, ref_index = reference
        steps = 0
        if ref_monday < monday:
            week = ref_monday + WEEK
            while week <= monday:
                steps += self.school_week(week)
                week += WEEK
        else:
            week = monday
            while week < ref_monday:
                steps -= self.school_week(week)
                week += WEEK
        return self.labels[(ref_index + steps) % len(self.labels)]

    def _reference(self, monday: dt.date) -> tuple[dt.date, int] | None:
        """The latest known (week, label index) at or before ``monday``, else the earliest."""
        known: list[tuple[dt.date, int]] = []
        if self.anchor is not None:
            known.append((self.anchor, 0))
        for week, label in self.overrides.items():
            if label in self.labels:
                known.append((week, self.labels.index(label)))
        if not known:
            return None
        before = [k for k in known if k[0] <= monday]
        return max(before) if before else min(known)

    def weeks(self, start: dt.date, end: dt.date) -> list[dict[str, object]]:
        """Each week from ``start``'s to ``end``'s: ISO week, Monday, label, school week or
        not, and whether its label was set by hand."""
        rows: list[dict[str, object]] = []
        monday = monday_of(start)
        while monday <= end:
            year, number, _ = monday.isocalendar()
            rows.append(
                {
                    "week": f"{year}-W{number:02d}",
                    "monday": monday,
                    "label": self.week_label(monday),
                    "school_week": self.school_week(monday),
                    "set_by_hand": monday in self.overrides,
                }
            )
            monday += WEEK
        return rows
