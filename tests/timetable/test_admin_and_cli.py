"""The admin refuses a second change of a lesson; ``hallboard calendar`` manages the calendar."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.models import Closure, Substitution
from tests.conftest import Tenant, make_lesson, make_user, signed_in


def test_admin_refuses_a_second_change_of_a_lesson_and_date(tenant: Tenant) -> None:
    """Adding a substitute where a cancellation exists is a form error naming the first."""
    lesson = make_lesson(tenant.school, "7a", 1, 1, teachers="MUE")
    first = Substitution.objects.create(
        school=tenant.school, date=dt.date(2026, 11, 23), lesson=lesson, kind="cancelled"
    )
    client = signed_in(make_user("tt", "timetabler", school=tenant.school))
    response = client.post(
        "/admin/timetable/substitution/add/",
        {
            "school": tenant.school.pk,
            "date": "2026-11-23",
            "kind": "substitute",
            "lesson": lesson.pk,
            "source": "manual",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert f"(#{first.pk})" in response.content.decode()
    assert Substitution.objects.count() == 1

    extra = client.post(
        "/admin/timetable/substitution/add/",
        {"school": tenant.school.pk, "date": "2026-11-23", "kind": "extra", "source": "manual"},
    )
    assert "Name the classes, or the regular lesson." in extra.content.decode()


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


def test_admin_imports_holidays_from_a_file_and_a_region(tenant: Tenant) -> None:
    """The admin's import page reads an uploaded .ics file and a region's public holidays into
    the user's school; another school cannot be chosen."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(make_user("tt", "timetabler", school=tenant.school))
    page = client.get("/admin/timetable/closure/import/")
    assert page.status_code == 200
    assert "Beta" not in page.content.decode()  # the other school is not offered
    ics = SimpleUploadedFile(
        "ferien.ics",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n"
        b"DTSTAMP:20260101T000000Z\r\nSUMMARY:Winterferien\r\nDTSTART;VALUE=DATE:20261221\r\n"
        b"DTEND;VALUE=DATE:20270102\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    done = client.post(
        "/admin/timetable/closure/import/",
        {"ical": "1", "school": tenant.school.pk, "file": ics, "kind": "holiday"},
    )
    assert done.status_code == 302
    assert Closure.objects.get(school=tenant.school).ends_on == dt.date(2027, 1, 1)
    public = client.post(
        "/admin/timetable/closure/import/",
        {"holidays": "1", "school": tenant.school.pk, "region": "DE-BE", "years": "2026"},
    )
    assert public.status_code == 302
    assert Closure.objects.filter(school=tenant.school, kind="public_holiday").count() > 5
    wrong = client.post(
        "/admin/timetable/closure/import/",
        {"holidays": "1", "school": tenant.other_school.pk, "region": "DE-BE", "years": "2026"},
    )
    assert wrong.status_code == 200  # the form again: not a school of this user
    assert not Closure.objects.filter(school=tenant.other_school).exists()
