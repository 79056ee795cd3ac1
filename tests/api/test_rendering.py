"""The management API speaks the school's time: ISO 8601 with the school's offset out,
times without an offset read as the school's local time in (hallboard.api.rendering)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test import Client

from hallboard.alerts.models import Alert
from hallboard.schools.models import School
from hallboard.timetable.models import Announcement
from tests.conftest import KeyFactory, Tenant, make_school

UTC = dt.UTC
CAP_SAMPLES = Path(__file__).parents[1] / "alerts" / "cap_samples"


@pytest.fixture
def london(tenant: Tenant) -> School:
    return make_school(tenant.organisation, "thames", tz="Europe/London")


def test_a_time_without_offset_is_the_schools_local_time(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """22:35 sent to a Berlin school is stored as 21:35Z and answered as 22:35+01:00."""
    office = api_as("office")
    response = office.post(
        "schools/alpha/announcements", {"title": "Choir", "starts_at": "2026-11-23T22:35:00"}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["starts_at"] == "2026-11-23T22:35:00+01:00"
    stored = Announcement.objects.get(title="Choir")
    assert stored.starts_at == dt.datetime(2026, 11, 23, 21, 35, tzinfo=UTC)
    listed = office.get("schools/alpha/announcements").json()
    assert listed[0]["starts_at"] == "2026-11-23T22:35:00+01:00"


def test_a_time_with_offset_is_taken_as_given(tenant: Tenant, api_as: KeyFactory) -> None:
    """22:35Z sent to a Berlin school is 22:35Z, answered as 23:35+01:00."""
    office = api_as("office")
    response = office.post(
        "schools/alpha/announcements",
        {"title": "Choir", "starts_at": "2026-11-23T22:35:00Z", "ends_at": None},
    )
    assert response.json()["starts_at"] == "2026-11-23T23:35:00+01:00"
    assert Announcement.objects.get(title="Choir").starts_at == dt.datetime(
        2026, 11, 23, 22, 35, tzinfo=UTC
    )


def test_a_london_school_reads_and_answers_in_london_time(
    tenant: Tenant, london: School, api_as: KeyFactory
) -> None:
    """The same request to a London school: 22:35 local is 22:35Z, in winter and summer."""
    office = api_as("office", school=london)
    winter = office.post(
        "schools/thames/announcements", {"title": "Winter", "starts_at": "2026-11-23T22:35:00"}
    )
    summer = office.post(
        "schools/thames/announcements", {"title": "Summer", "starts_at": "2026-07-01T22:35:00"}
    )
    assert winter.json()["starts_at"] == "2026-11-23T22:35:00Z"
    assert summer.json()["starts_at"] == "2026-07-01T22:35:00+01:00"
    assert Announcement.objects.get(title="Summer").starts_at == dt.datetime(
        2026, 7, 1, 21, 35, tzinfo=UTC
    )


def test_patch_reads_a_time_without_offset_in_the_schools_zone(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """PATCH ends_at 23:30 (no offset) in Berlin is 22:30Z."""
    office = api_as("office")
    created = office.post("schools/alpha/announcements", {"title": "Choir"}).json()
    response = office.patch(
        f"schools/alpha/announcements/{created['id']}", {"ends_at": "2099-11-23T23:30:00"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["ends_at"] == "2099-11-23T23:30:00+01:00"
    assert Announcement.objects.get(pk=created["id"]).ends_at == dt.datetime(
        2099, 11, 23, 22, 30, tzinfo=UTC
    )


def test_a_time_the_clocks_skip_is_refused(tenant: Tenant, api_as: KeyFactory) -> None:
    """02:30 on the night of the spring change does not exist in Berlin: 422 naming it."""
    response = api_as("office").post(
        "schools/alpha/announcements", {"title": "Never", "starts_at": "2026-03-29T02:30:00"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"][0]["loc"] == ["body", "starts_at"]
    assert "Europe/Berlin" in body["detail"][0]["msg"]
    assert not Announcement.objects.filter(title="Never").exists()


def test_alert_times_and_the_audit_log_are_in_the_schools_zone(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """An alert's expiry typed without offset is Berlin time; its audit entry reads in Berlin."""
    safety = api_as("safety")
    response = safety.post(
        "schools/alpha/alerts",
        {"headline": "Drill", "starts_at": "2026-11-23T09:00:00", "expires_at": "2099-01-01T10:00"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["starts_at"] == "2026-11-23T09:00:00+01:00"
    assert body["expires_at"] == "2099-01-01T10:00:00+01:00"
    assert Alert.objects.get(pk=body["id"]).expires_at == dt.datetime(2099, 1, 1, 9, tzinfo=UTC)
    audit = safety.get("schools/alpha/alerts/audit").json()
    assert audit[0]["at"].endswith("+01:00")


def test_the_cap_echo_is_in_the_schools_zone(
    tenant: Tenant, london: School, api_as: KeyFactory
) -> None:
    """A CAP message sent at 09:41+01:00, echoed by a London school, reads 08:41Z."""
    body = (CAP_SAMPLES / "hallboard_school_lockdown.xml").read_bytes()
    safety = api_as("safety", school=london)
    response = safety.client.post(
        "/api/v1/schools/thames/alerts/cap",
        data=body,
        content_type="application/cap+xml",
        headers=safety.headers,
    )
    assert response.status_code == 201, response.json()
    assert response.json()["sent"] == "2026-11-23T08:41:00Z"


def test_a_zone_does_not_outlive_its_request(
    tenant: Tenant, london: School, api_as: KeyFactory
) -> None:
    """A Berlin answer, then a London one in the same thread: each in its own zone."""
    berlin = api_as("office")
    thames = api_as("office", school=london)
    berlin.post("schools/alpha/announcements", {"title": "B", "starts_at": "2026-11-23T12:00:00"})
    thames.post("schools/thames/announcements", {"title": "L", "starts_at": "2026-11-23T12:00:00"})
    assert berlin.get("schools/alpha/announcements").json()[0]["starts_at"].endswith("+01:00")
    assert thames.get("schools/thames/announcements").json()[0]["starts_at"].endswith("Z")


def test_the_api_docs_show_times_with_offset(db: None) -> None:
    """OpenAPI describes how times are read and gives an example with offset."""
    schema = Client().get("/api/v1/openapi.json").json()
    announcement = schema["components"]["schemas"]["AnnouncementIn"]["properties"]["starts_at"]
    assert "2026-11-23T22:35:00+01:00" in str(announcement)
    assert "local time" in announcement["description"]


def test_schools_name_their_zone_and_language(tenant: Tenant, api_as: KeyFactory) -> None:
    """GET /schools tells each school's time zone and its screens' language."""
    School.objects.filter(pk=tenant.school.pk).update(language="de")
    rows = {s["slug"]: s for s in api_as("viewer", school=None).get("schools").json()}
    assert (rows["alpha"]["timezone"], rows["alpha"]["language"]) == ("Europe/Berlin", "de")
    assert rows["beta"]["language"] == "en"
