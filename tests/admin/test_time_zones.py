"""Times in the admin are typed and read in the school's zone (hallboard.schools.zones)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from hallboard.alerts.models import Alert, AlertAuditEntry
from hallboard.schools.models import School
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_school, make_screen, make_user, signed_in

UTC = dt.UTC


@pytest.fixture
def london(tenant: Tenant) -> School:
    return make_school(tenant.organisation, "thames", tz="Europe/London")


def add_announcement(client: Client, school: School, date: str, time: str) -> Announcement:
    response = client.post(
        "/admin/timetable/announcement/add/",
        {
            "school": school.pk,
            "title": "Choir practice",
            "body": "",
            "priority": 1,
            "starts_at_0": date,
            "starts_at_1": time,
            "ends_at_0": "",
            "ends_at_1": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Announcement.objects.get(school=school, title="Choir practice")


def widget_time(page: str, name: str) -> str:
    found = re.search(rf'name="{name}_1"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}_1"', page
    )
    assert found, f"no {name} time widget"
    return found.group(1)


def test_berlin_secretary_types_2235_and_reads_2235(tenant: Tenant) -> None:
    """22:35 typed by a Berlin office member in winter is stored as 21:35Z and shown as 22:35."""
    client = signed_in(make_user("berlin-office", "office", school=tenant.school))
    announcement = add_announcement(client, tenant.school, "2026-11-23", "22:35")

    assert announcement.starts_at == dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    page = client.get(f"/admin/timetable/announcement/{announcement.pk}/change/")
    html = page.content.decode()
    assert widget_time(html, "starts_at") == "22:35:00"
    assert "Europe/Berlin" in html  # the zone is named on the page and by the field
    listing = client.get("/admin/timetable/announcement/").content.decode()
    assert "10:35 p.m." in listing  # en: "Nov. 23, 2026, 10:35 p.m."
    assert "9:35 p.m." not in listing


def test_summer_time_is_two_hours_ahead(tenant: Tenant) -> None:
    """22:35 in Berlin in July is 20:35Z (CEST)."""
    client = signed_in(make_user("berlin-office", "office", school=tenant.school))
    announcement = add_announcement(client, tenant.school, "2026-07-01", "22:35")
    assert announcement.starts_at == dt.datetime(2026, 7, 1, 20, 35, tzinfo=UTC)


def test_london_secretary_types_2235_and_reads_2235(tenant: Tenant, london: School) -> None:
    """The same form in a London school: 22:35 in winter is 22:35Z."""
    client = signed_in(make_user("london-office", "office", school=london))
    announcement = add_announcement(client, london, "2026-11-23", "22:35")

    assert announcement.starts_at == dt.datetime(2026, 11, 23, 22, 35, tzinfo=UTC)
    html = client.get(f"/admin/timetable/announcement/{announcement.pk}/change/").content.decode()
    assert widget_time(html, "starts_at") == "22:35:00"
    assert "Europe/London" in html


def test_a_new_rows_times_are_read_in_the_zone_of_the_school_chosen(
    tenant: Tenant, london: School
) -> None:
    """A user of schools in two zones adds for the London school: 22:35 London is 22:35Z."""
    client = signed_in(make_user("district", superuser=True))
    assert "time zone of the school you choose" in (
        client.get("/admin/timetable/announcement/add/").content.decode()
    )
    berlin = add_announcement(client, tenant.school, "2026-11-23", "22:35")
    berlin.title = "Berlin choir"
    berlin.save()
    thames = add_announcement(client, london, "2026-11-23", "22:35")

    assert berlin.starts_at == dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    assert thames.starts_at == dt.datetime(2026, 11, 23, 22, 35, tzinfo=UTC)


def test_a_list_spanning_zones_names_each_rows_zone(tenant: Tenant, london: School) -> None:
    """Rows of schools in two zones: each time in its school's zone, with the zone's name."""
    at = dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    Announcement.objects.create(school=tenant.school, title="In Berlin", starts_at=at)
    Announcement.objects.create(school=london, title="In London", starts_at=at)
    client = signed_in(make_user("district", superuser=True))
    html = client.get("/admin/timetable/announcement/").content.decode()
    assert "10:35 p.m. CET" in html
    assert "9:35 p.m. GMT" in html


def test_a_list_of_one_zone_needs_no_zone_names(tenant: Tenant) -> None:
    """A user whose schools share a zone reads plain local times."""
    at = dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    Announcement.objects.create(school=tenant.school, title="In Berlin", starts_at=at)
    client = signed_in(make_user("berlin-office", "office", school=tenant.school))
    html = client.get("/admin/timetable/announcement/").content.decode()
    assert "10:35 p.m." in html
    assert "CET" not in html


def test_screens_last_heartbeat_is_in_the_schools_zone(tenant: Tenant) -> None:
    """The screens list shows the last heartbeat in school-local time."""
    screen, _ = make_screen(tenant.school)
    screen.last_heartbeat_at = dt.datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    screen.save(update_fields=["last_heartbeat_at"])
    client = signed_in(make_user("berlin-admin", "admin", school=tenant.school))
    html = client.get("/admin/screens/screen/").content.decode()
    assert "7:05 a.m." in html
    html = client.get(f"/admin/screens/screen/{screen.pk}/change/").content.decode()
    assert "7:05 a.m." in html


def test_alert_audit_trail_is_in_the_schools_zone(tenant: Tenant) -> None:
    """The alert page's audit trail and the audit log list read in Berlin time."""
    at = dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    alert = Alert.objects.create(
        organisation=tenant.organisation, school=tenant.school, headline="Drill", starts_at=at
    )
    AlertAuditEntry.objects.create(
        alert=alert,
        organisation=tenant.organisation,
        school=tenant.school,
        action=AlertAuditEntry.Action.TRIGGER,
        at=at,
        actor="berlin-safety",
        source=AlertAuditEntry.Source.ADMIN,
        headline="Drill",
        severity=alert.severity,
        scope="school",
        screens_in_scope=0,
        screens_online=0,
    )
    client = signed_in(make_user("berlin-safety", "safety", school=tenant.school))
    html = client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()
    assert "22:35" in html
    assert "21:35" not in html
    listing = client.get("/admin/alerts/alertauditentry/").content.decode()
    assert "10:35 p.m." in listing


def test_a_time_the_clocks_skip_is_refused(tenant: Tenant) -> None:
    """02:30 on the spring change does not exist in Berlin: a form error, nothing stored."""
    client = signed_in(make_user("berlin-office", "office", school=tenant.school))
    response = client.post(
        "/admin/timetable/announcement/add/",
        {
            "school": tenant.school.pk,
            "title": "Never",
            "priority": 1,
            "starts_at_0": "2026-03-29",
            "starts_at_1": "02:30",
        },
    )
    assert response.status_code == 200
    assert not Announcement.objects.filter(title="Never").exists()
