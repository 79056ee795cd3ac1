"""The timetable admin: a second change of a lesson is refused; holidays are imported into
the user's school only (``hallboard calendar`` is in management/commands/test_calendar.py)."""

from __future__ import annotations

import datetime as dt

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
