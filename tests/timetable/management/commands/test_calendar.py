"""``hallboard calendar``: a school's rotation, closures, iCal holidays and weeks by hand."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import Closure
from tests.conftest import Tenant, make_lesson


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("calendar", *args, stdout=out)
    return out.getvalue()


def test_calendar_command(tenant: Tenant, tmp_path: Path) -> None:
    """Rotation, a closure, a week by hand and an iCal file, then the weeks shown."""
    make_lesson(tenant.school, "7a", 1, 1)
    run("rotation", "alpha", "--labels", "A,B", "--anchor", "2026-11-02")
    run("closure", "alpha", "Staff day", "2026-11-16", "2026-11-20")
    ics = tmp_path / "ferien.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:Winterferien\r\nDTSTART;VALUE=DATE:20261221\r\n"
        "DTEND;VALUE=DATE:20270102\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert "1 added" in run("ical", "alpha", str(ics))
    assert Closure.objects.get(name="Winterferien").ends_on == dt.date(2027, 1, 1)
    run("week", "alpha", "2026-W49", "A")
    shown = run("show", "alpha", "--from", "2026-11-02", "--weeks", "6")
    assert "2026-W46  2026-11-09  B" in shown
    assert "2026-W47  2026-11-16  -  Staff day" in shown
    assert "2026-W48  2026-11-23  A" in shown
    assert "2026-W49  2026-11-30  A (set by hand)" in shown
    assert SchoolCalendarView.load(tenant.school.pk).week_label(dt.date(2026, 12, 7)) == "B"
    with pytest.raises(CommandError, match="no week C"):
        run("week", "alpha", "2026-W50", "C")
    with pytest.raises(CommandError, match="No school"):
        run("show", "nowhere")
