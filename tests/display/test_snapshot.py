"""The snapshot: today's content for the screen's view, with a strong ETag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

from hallboard.alerts.models import Alert
from hallboard.realtime.core import close_codes
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement, Lesson, Substitution
from tests.conftest import Tenant, make_lesson, make_screen, revision_of
from tests.display.conftest import ScreenClient

UTC = dt.UTC
# Monday 2026-11-23, 10:00 in Berlin.
MONDAY_10_BERLIN = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def add_lessons(school: School) -> None:
    for cls in school.classes.all():
        make_lesson(school, cls.name, 1, 1, teachers="MUE")
        make_lesson(school, cls.name, 2, 2)  # Tuesday: must not show on Monday


def test_snapshot_shows_todays_content(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """The snapshot carries meta, school, screen, periods, today's lessons and substitutions."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    add_lessons(school)
    lesson_7a = Lesson.objects.get(school=school, weekday=1, classes__name="7a")
    Substitution.objects.create(
        school=school,
        date=dt.date(2026, 11, 23),
        lesson=lesson_7a,
        kind=Substitution.Kind.NOTE,
        note="Bring your calculator",
    )
    Substitution.objects.create(  # a week later: not shown
        school=school,
        date=dt.date(2026, 11, 30),
        lesson=lesson_7a,
        kind=Substitution.Kind.CANCELLED,
    )
    _, token = make_screen(school)
    response = ScreenClient(token).get("snapshot")
    assert response.status_code == 200
    body = response.json()
    meta = body["meta"]
    assert meta["rev"] == revision_of(school)
    assert meta["date"] == "2026-11-23"
    assert meta["ws_path"] == "/ws/display/"
    assert (meta["poll_min_seconds"], meta["poll_max_seconds"]) == (8, 45)
    assert meta["server_time"] == "2026-11-23T09:00:00Z"
    assert meta["school_time"].startswith("2026-11-23T10:00:00+01:00")
    assert meta["valid_until"] == "2026-11-23T13:00:00Z"  # 14:00 Berlin: the next day appears
    assert body["next"] is None
    assert body["school"] == {
        "slug": "alpha",
        "name": "Alpha",
        "timezone": "Europe/Berlin",
        "language": "en",
    }
    assert [p["number"] for p in body["periods"]] == [1, 2]
    assert {(x["class"], x["period"], x["teacher"]) for x in body["lessons"]} == {
        ("7a", 1, "MUE"),
        ("8b", 1, "MUE"),
    }
    assert [(s["class"], s["kind"], s["note"]) for s in body["substitutions"]] == [
        ("7a", "note", "Bring your calculator")
    ]
    assert meta["schema"] == 2
    assert meta["close_codes"] == close_codes.policy()  # what to do on each close code
    assert meta["week_label"] is None  # no rotation
    assert body["day"]["date"] == "2026-11-23"
    assert [(s["classes"], s["change"] and s["change"]["kind"]) for s in body["day"]["slots"]] == [
        (["7a"], "note"),
        (["8b"], None),
    ]
    assert body["alert"] is None
    assert response["ETag"].startswith('"')


def test_grades_view_and_hidden_teachers(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """A grades view shows only those grades' classes, and hides teacher names if asked."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    add_lessons(school)
    _, token = make_screen(school, view=Screen.View.GRADES, grades=[8], hide_teacher_names=True)
    body = ScreenClient(token).get("snapshot").json()
    assert [(x["class"], x["teacher"]) for x in body["lessons"]] == [("8b", None)]
    assert [(s["classes"], s["now"]["teachers"]) for s in body["day"]["slots"]] == [(["8b"], [])]
    assert body["screen"]["hide_teacher_names"] is True


def test_classes_view(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """A classes view shows only the selected classes."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    add_lessons(school)
    screen, token = make_screen(school, view=Screen.View.CLASSES)
    screen.classes.set([school.classes.get(name="7a")])
    body = ScreenClient(token).get("snapshot").json()
    assert [x["class"] for x in body["lessons"]] == ["7a"]
    assert [s["classes"] for s in body["day"]["slots"]] == [["7a"]]


def test_announcements_follow_their_window(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """Only announcements active now are shown; valid_until is the next start or end."""
    now = MONDAY_10_BERLIN
    freeze(now)
    school = tenant.school
    Announcement.objects.create(
        school=school, title="Now", starts_at=now - dt.timedelta(hours=1), priority=1
    )
    Announcement.objects.create(
        school=school, title="Urgent", starts_at=now - dt.timedelta(minutes=1), priority=2
    )
    Announcement.objects.create(school=school, title="Later", starts_at=now + dt.timedelta(hours=2))
    Announcement.objects.create(
        school=school,
        title="Over",
        starts_at=now - dt.timedelta(hours=3),
        ends_at=now - dt.timedelta(hours=1),
    )
    _, token = make_screen(school)
    client = ScreenClient(token)
    body = client.get("snapshot").json()
    assert [a["title"] for a in body["announcements"]] == ["Urgent", "Now"]
    assert body["meta"]["valid_until"] == "2026-11-23T11:00:00Z"

    # Two hours later the 'Later' announcement shows, and the ETag has changed.
    etag = client.get("snapshot")["ETag"]
    freeze(now + dt.timedelta(hours=2))
    later = client.get("snapshot", {"If-None-Match": etag})
    assert later.status_code == 200
    assert "Later" in [a["title"] for a in later.json()["announcements"]]


def test_organisation_alert_shows_on_every_school(
    tenant: Tenant, freeze: Callable[..., None]
) -> None:
    """An organisation-wide alert is in the snapshot of every school; all-clear removes it."""
    freeze(MONDAY_10_BERLIN)
    alert = Alert.objects.create(
        organisation=tenant.organisation,
        headline="Storm warning",
        severity=Alert.Severity.SEVERE,
        starts_at=MONDAY_10_BERLIN - dt.timedelta(minutes=5),
    )
    Alert.objects.create(
        organisation=tenant.organisation,
        school=tenant.other_school,
        headline="Fire drill",
        severity=Alert.Severity.EXTREME,
        starts_at=MONDAY_10_BERLIN - dt.timedelta(minutes=5),
    )
    _, token_a = make_screen(tenant.school)
    _, token_b = make_screen(tenant.other_school)
    assert ScreenClient(token_a).get("snapshot").json()["alert"]["headline"] == "Storm warning"
    alert_b = ScreenClient(token_b).get("snapshot").json()["alert"]
    assert alert_b["headline"] == "Fire drill"  # the more severe one wins
    alert.cleared_at = MONDAY_10_BERLIN
    alert.save()
    assert ScreenClient(token_a).get("snapshot").json()["alert"] is None


def test_snapshot_is_built_in_few_queries(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """The snapshot's query count does not grow with the number of lessons and changes."""
    freeze(MONDAY_10_BERLIN)
    school = tenant.school
    add_lessons(school)
    _, token = make_screen(school, next_day=Screen.NextDay.ALWAYS)
    client = ScreenClient(token)
    client.get("status")  # binds the device

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("snapshot").status_code == 200
        return len(context)

    def add_changed_lessons(name: str) -> None:
        monday = make_lesson(school, name, 1, 2, teachers="MUE", rooms="R1")
        make_lesson(school, name, 2, 1, teachers="MUE", rooms="R1")  # the next school day
        Substitution.objects.create(
            school=school, date=dt.date(2026, 11, 23), lesson=monday, kind="cancelled"
        )

    add_changed_lessons("9a")
    few = queries()
    for n in range(10):
        add_changed_lessons(f"10{n}")
    assert queries() == few
    assert few <= 27  # with the screen's nightly reload schedule


def test_other_schools_content_never_appears(tenant: Tenant, freeze: Callable[..., None]) -> None:
    """A screen of school A never sees school B's lessons or announcements."""
    freeze(MONDAY_10_BERLIN)
    add_lessons(tenant.other_school)
    Announcement.objects.create(school=tenant.other_school, title="Beta only")
    _, token = make_screen(tenant.school)
    body = ScreenClient(token).get("snapshot").json()
    assert body["lessons"] == []
    assert body["day"]["slots"] == []
    assert body["announcements"] == []
