"""Holidays from iCal files and from the ``holidays`` package into the school calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from hallboard.schools.models import School
from hallboard.timetable.calendar_import import (
    CalendarImportError,
    import_ical,
    import_public_holidays,
)
from hallboard.timetable.models import Closure
from tests.conftest import Tenant, revision_of

TODAY = dt.date(2026, 11, 23)


def ics(*events: str) -> bytes:
    body = "".join(
        f"BEGIN:VEVENT\r\n{e.strip()}\r\nDTSTAMP:20260101T000000Z\r\nEND:VEVENT\r\n" for e in events
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + body + "END:VCALENDAR\r\n"
    ).encode()


WINTER = """UID:winter-2026@example.org
SUMMARY:Weihnachtsferien
DTSTART;VALUE=DATE:20261221
DTEND;VALUE=DATE:20270102"""


def closures(school: School) -> list[tuple[str, dt.date, dt.date]]:
    return list(Closure.objects.filter(school=school).values_list("name", "starts_on", "ends_on"))


def test_all_day_end_is_exclusive(tenant: Tenant) -> None:
    """DTEND of an all-day event is the first day after it (RFC 5545): 21 Dec to 1 Jan."""
    result = import_ical(tenant.school, ics(WINTER), today=TODAY)
    assert result.created == 1
    assert closures(tenant.school) == [
        ("Weihnachtsferien", dt.date(2026, 12, 21), dt.date(2027, 1, 1))
    ]


def test_one_day_events_and_recurrences(tenant: Tenant) -> None:
    """An all-day event without DTEND is one day; a yearly rule gives one closure a year."""
    data = ics(
        "UID:training\r\nSUMMARY:Staff training\r\nDTSTART;VALUE=DATE:20261204",
        "UID:founders\r\nSUMMARY:Founders' day\r\nDTSTART;VALUE=DATE:20260515\r\n"
        "DTEND;VALUE=DATE:20260516\r\nRRULE:FREQ=YEARLY",
    )
    import_ical(tenant.school, data, today=TODAY)
    days = {(name, start, end) for name, start, end in closures(tenant.school)}
    assert ("Staff training", dt.date(2026, 12, 4), dt.date(2026, 12, 4)) in days
    assert ("Founders' day", dt.date(2027, 5, 15), dt.date(2027, 5, 15)) in days
    assert ("Founders' day", dt.date(2028, 5, 15), dt.date(2028, 5, 15)) in days


def test_importing_again_is_idempotent_and_follows_the_feed(tenant: Tenant) -> None:
    """The same file twice changes nothing (not even the revision); a moved holiday is
    updated in place and one the feed dropped is deleted."""
    import_ical(tenant.school, ics(WINTER), today=TODAY)
    before = revision_of(tenant.school)
    again = import_ical(tenant.school, ics(WINTER), today=TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert revision_of(tenant.school) == before
    moved = WINTER.replace("20270102", "20270105")
    result = import_ical(tenant.school, ics(moved), today=TODAY)
    assert result.updated == 1
    assert closures(tenant.school)[0][2] == dt.date(2027, 1, 4)
    assert import_ical(tenant.school, ics(), today=TODAY).deleted == 1
    assert closures(tenant.school) == []


def test_broken_calendars_are_refused_whole(tenant: Tenant) -> None:
    """Input that is not iCal is refused with a message, and nothing is stored."""
    with pytest.raises(CalendarImportError, match="not an iCal"):
        import_ical(tenant.school, b"hello", today=TODAY)
    assert closures(tenant.school) == []


def test_public_holidays_of_a_region(tenant: Tenant) -> None:
    """Public holidays of Berlin come from the holidays package, one day each, idempotently."""
    result = import_public_holidays(tenant.school, "DE-BE", [2026])
    days = {c.starts_on: c for c in result.closures}
    assert dt.date(2026, 10, 3) in days  # German Unity Day
    assert dt.date(2026, 3, 8) in days  # Women's Day: Berlin only
    assert all(c.kind == Closure.Kind.PUBLIC_HOLIDAY for c in result.closures)
    again = import_public_holidays(tenant.school, "DE-BE", [2026])
    assert (again.created, again.unchanged) == (0, result.created)
    bavaria = import_public_holidays(tenant.other_school, "DE-BY", [2026])
    assert dt.date(2026, 3, 8) not in {c.starts_on for c in bavaria.closures}


def test_unknown_regions_are_refused(tenant: Tenant) -> None:
    """A region the package does not know is refused in words."""
    with pytest.raises(CalendarImportError, match="XX"):
        import_public_holidays(tenant.school, "XX", [2026])
    with pytest.raises(CalendarImportError):
        import_public_holidays(tenant.school, "DE-ZZ", [2026])
