"""The calendar through the API: rotation, week labels by hand, closures, iCal, public holidays."""

from __future__ import annotations

from hallboard.timetable.models import Closure
from tests.conftest import KeyFactory, Tenant, make_lesson, revision_of

WINTER = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:w\r\n"
    "DTSTAMP:20260101T000000Z\r\nSUMMARY:Winter break\r\nDTSTART;VALUE=DATE:20261221\r\n"
    "DTEND;VALUE=DATE:20270102\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_rotation_holiday_and_a_week_set_by_hand(tenant: Tenant, api_as: KeyFactory) -> None:
    """Set A/B from week 45, add a holiday in week 48: week 49 is B; set it to A by hand and
    week 50 follows as B. Each change bumps the revision."""
    make_lesson(tenant.school, "7a", 1, 1)
    client = api_as("timetabler")
    rev = revision_of(tenant.school)
    put = client.put("schools/alpha/calendar", {"week_cycle": "a, b", "anchor": "2026-11-02"})
    assert put.status_code == 200, put.content
    assert put.json()["week_cycle"] == ["A", "B"]
    added = client.post(
        "schools/alpha/calendar/closures",
        {"name": "Break", "starts_on": "2026-11-23", "ends_on": "2026-11-27"},
    )
    assert added.status_code == 201, added.content
    weeks = client.get("schools/alpha/calendar", **{"from": "2026-11-16", "to": "2026-12-07"})
    assert [(w["week"], w["label"]) for w in weeks.json()["weeks"]] == [
        ("2026-W47", "A"),
        ("2026-W48", None),
        ("2026-W49", "B"),
        ("2026-W50", "A"),
    ]
    set_week = client.put("schools/alpha/calendar/weeks/2026-W49", {"label": "A"})
    assert set_week.json() == {
        "week": "2026-W49",
        "monday": "2026-11-30",
        "label": "A",
        "school_week": True,
        "set_by_hand": True,
    }
    after = client.get("schools/alpha/calendar", **{"from": "2026-12-07", "to": "2026-12-07"})
    assert after.json()["weeks"][0]["label"] == "B"
    assert revision_of(tenant.school) == rev + 3
    unknown = client.put("schools/alpha/calendar/weeks/2026-W50", {"label": "C"})
    assert unknown.status_code == 422
    assert client.delete("schools/alpha/calendar/weeks/2026-W49").status_code == 204


def test_ical_and_public_holidays(tenant: Tenant, api_as: KeyFactory) -> None:
    """iCal text becomes closures (all-day end exclusive); public holidays come by region;
    bad input is 422 calendar_import_failed."""
    client = api_as("timetabler")
    imported = client.post("schools/alpha/calendar/ical", {"ics": WINTER})
    assert imported.status_code == 200, imported.content
    assert [(c["name"], c["starts_on"], c["ends_on"]) for c in imported.json()["closures"]] == [
        ("Winter break", "2026-12-21", "2027-01-01")
    ]
    public = client.post(
        "schools/alpha/calendar/public-holidays", {"region": "DE-BE", "years": [2026]}
    )
    assert public.status_code == 200, public.content
    assert "2026-10-03" in {c["starts_on"] for c in public.json()["closures"]}
    assert Closure.objects.filter(school=tenant.school, kind="public_holiday").exists()
    broken = client.post("schools/alpha/calendar/ical", {"ics": "not a calendar"})
    assert (broken.status_code, broken.json()["error"]) == (422, "calendar_import_failed")
    nowhere = client.post("schools/alpha/calendar/public-holidays", {"region": "XX", "years": [1]})
    assert nowhere.status_code == 422
    local = client.post("schools/alpha/calendar/ical", {"url": "file:///etc/passwd"})
    assert local.status_code == 422


def test_reading_needs_view_and_changing_needs_timetable(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """An office key may read the calendar but not change it."""
    client = api_as("office")
    assert client.get("schools/alpha/calendar").status_code == 200
    refused = client.post(
        "schools/alpha/calendar/closures",
        {"name": "x", "starts_on": "2026-11-23", "ends_on": "2026-11-23"},
    )
    assert refused.status_code == 403


def test_screen_options_through_the_api(tenant: Tenant, api_as: KeyFactory) -> None:
    """Large text, next-day preview and past periods are screen settings in the API, and
    reach the screen's snapshot."""
    from tests.display.conftest import ScreenClient

    client = api_as("admin")
    made = client.post(
        "schools/alpha/screens",
        {"name": "Foyer", "large_text": True, "next_day": "always", "hide_past_periods": False},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["large_text"], body["next_day"], body["hide_past_periods"]) == (
        True,
        "always",
        False,
    )
    screen = ScreenClient(body["token"]).get("snapshot").json()["screen"]
    assert (screen["large_text"], screen["next_day"], screen["hide_past_periods"]) == (
        True,
        "always",
        False,
    )
    refused = client.patch(f"schools/alpha/screens/{body['id']}", {"next_day": "sometimes"})
    assert refused.status_code == 422
