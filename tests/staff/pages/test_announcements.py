"""The announcements page: quick add in school time, targets, edit, end now, who may."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hallboard.alerts.models import AnnouncementTargets
from hallboard.display.snapshot import build
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, make_user, revision_of, signed_in

ROLES_WITHOUT_ANNOUNCE = ["timetabler", "safety", "viewer"]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def post(client: Client, url: str, data: Any) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def office(tenant: Tenant) -> Client:
    return signed_in(make_user("alpha-office", "office", school=tenant.school))


def test_defaults_are_now_until_the_end_of_the_school_s_day(tenant: Tenant, office: Client) -> None:
    """In the school's zone (Sydney here, far from the server's UTC)."""
    tenant.school.timezone = "Australia/Sydney"
    tenant.school.save()
    listing = office.get("/staff/announcements/alpha/list").json()
    local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("Australia/Sydney"))
    start = dt.datetime.strptime(listing["defaults"]["starts_at"], "%Y-%m-%dT%H:%M")
    end = dt.datetime.strptime(listing["defaults"]["ends_at"], "%Y-%m-%dT%H:%M")
    assert abs(start - local.replace(tzinfo=None, second=0, microsecond=0)) <= dt.timedelta(
        minutes=1
    )
    assert (end.date(), end.time()) == (local.date(), dt.time(23, 59))


def test_quick_add_reads_times_in_the_school_zone_and_bumps_the_revision(
    tenant: Tenant, office: Client
) -> None:
    """07:45 typed for a Berlin school is 07:45 in Berlin; the screens' revision moves."""
    before = revision_of(tenant.school)
    tomorrow = timezone.localtime(timezone.now(), BERLIN).date() + dt.timedelta(days=1)
    response = post(
        office,
        "/staff/announcements/alpha/save",
        {
            "title": "Choir at 8",
            "body": "Aula",
            "starts_at": f"{tomorrow}T07:45",
            "ends_at": f"{tomorrow}T12:00",
            "priority": 2,
            "screens": None,
        },
    )
    assert response.status_code == 201, response.content
    a = Announcement.objects.get()
    assert a.starts_at == dt.datetime.combine(tomorrow, dt.time(7, 45), tzinfo=BERLIN)
    assert (a.title, a.body, a.priority, a.school) == ("Choir at 8", "Aula", 2, tenant.school)
    assert revision_of(tenant.school) > before
    [listed] = response.json()["announcements"]
    assert (listed["starts_local"], listed["active"], listed["screens"]) == (
        f"{tomorrow}T07:45",
        False,
        None,
    )


def test_targeted_announcements_show_only_on_their_screens(tenant: Tenant, office: Client) -> None:
    """Chosen screens get it in their snapshot, the others not; switching back to every
    screen shows it everywhere."""
    hall, _ = make_screen(tenant.school, name="Hall")
    gym, _ = make_screen(tenant.school, name="Gym")
    now_local = timezone.localtime(timezone.now(), BERLIN)
    data = {
        "title": "Gym closed",
        "starts_at": (now_local - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now_local + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "screens": [gym.pk],
    }
    assert post(office, "/staff/announcements/alpha/save", data).status_code == 201
    a = Announcement.objects.get()

    def titles(screen: Any) -> list[str]:
        screen.refresh_from_db()
        return [x["title"] for x in build(screen, timezone.now())[0]["announcements"]]

    assert titles(gym) == ["Gym closed"]
    assert titles(hall) == []
    before = revision_of(tenant.school)
    everywhere = {**data, "id": a.pk, "screens": None}
    response = post(office, "/staff/announcements/alpha/save", everywhere)
    assert response.status_code == 200
    assert revision_of(tenant.school) > before
    assert not AnnouncementTargets.objects.exists()
    assert titles(hall) == ["Gym closed"]


def test_end_now_ends_an_active_one_and_removes_an_upcoming_one(
    tenant: Tenant, office: Client
) -> None:
    """End now: an active announcement ends at once (kept on record), an upcoming one goes."""
    now = timezone.now()
    active = Announcement.objects.create(school=tenant.school, title="On", starts_at=now)
    upcoming = Announcement.objects.create(
        school=tenant.school, title="Later", starts_at=now + dt.timedelta(hours=2)
    )
    listing = post(office, f"/staff/announcements/alpha/{active.pk}/end", {}).json()
    active.refresh_from_db()
    assert active.ends_at is not None
    assert active.ends_at <= timezone.now()
    assert [a["title"] for a in listing["announcements"]] == ["Later"]
    post(office, f"/staff/announcements/alpha/{upcoming.pk}/end", {})
    assert not Announcement.objects.filter(pk=upcoming.pk).exists()


@pytest.mark.parametrize("role", ROLES_WITHOUT_ANNOUNCE)
def test_roles_without_the_announce_right_are_refused(tenant: Tenant, role: str) -> None:
    """Timetabler, safety officer and viewer: page 403, endpoints 403 in JSON, nothing saved."""
    client = signed_in(make_user(f"alpha-{role}", role, school=tenant.school))
    assert client.get("/staff/announcements/alpha/").status_code == 403
    response = post(client, "/staff/announcements/alpha/save", {"title": "x"})
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert not Announcement.objects.exists()


def test_another_school_s_announcements_and_screens_are_never_reachable(
    tenant: Tenant, office: Client
) -> None:
    """Beta's page is 404; beta's announcement cannot be edited or ended through alpha;
    beta's screen cannot be a target of alpha's announcement."""
    theirs = Announcement.objects.create(school=tenant.other_school, title="Beta's")
    beta_screen, _ = make_screen(tenant.other_school, name="Beta hall")
    assert office.get("/staff/announcements/beta/").status_code == 404
    assert office.get("/staff/announcements/beta/list").status_code == 404
    response = post(office, f"/staff/announcements/alpha/{theirs.pk}/end", {})
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    start = timezone.localtime(timezone.now(), BERLIN).strftime("%Y-%m-%dT%H:%M")
    response = post(
        office,
        "/staff/announcements/alpha/save",
        {"id": theirs.pk, "title": "Mine now", "starts_at": start},
    )
    assert response.status_code == 404
    response = post(
        office,
        "/staff/announcements/alpha/save",
        {"title": "x", "starts_at": start, "screens": [beta_screen.pk]},
    )
    assert (response.status_code, response.json()["error"]) == (400, "unknown_screen")
    theirs.refresh_from_db()
    assert theirs.title == "Beta's"
    assert theirs.ends_at is None
    assert list(Announcement.objects.values_list("title", flat=True)) == ["Beta's"]


def test_bad_input_is_refused_in_json(tenant: Tenant, office: Client) -> None:
    """Empty title, unparseable or nonexistent local times, end before start, bad priority
    or screens: 400 with a code; nothing saved."""
    url = "/staff/announcements/alpha/save"
    start = "2026-06-01T08:00"
    cases = [
        {"title": "", "starts_at": start},
        {"title": "x", "starts_at": "tomorrow"},
        {"title": "x", "starts_at": "2026-03-29T02:30"},  # the clocks skip it in Berlin
        {"title": "x", "starts_at": start, "ends_at": "2026-06-01T07:00"},
        {"title": "x", "starts_at": start, "priority": 7},
        {"title": "x", "starts_at": start, "screens": []},
        {"title": "x", "starts_at": start, "screens": ["1"]},
        {"title": ["x"], "starts_at": start},
    ]
    for data in cases:
        response = post(office, url, data)
        assert response.status_code == 400, (data, response.content)
        assert response.json()["error"] == "invalid"
    assert not Announcement.objects.exists()
