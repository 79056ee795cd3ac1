"""Management API authentication, roles and tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from hallboard.api.models import ApiKey
from hallboard.schools.models import Membership, Organisation, School
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.conftest import ApiClient, KeyFactory, Tenant, make_school, make_screen, revision_of


def test_no_credentials_is_401(tenant: Tenant) -> None:
    """A request without an API key or session is refused with 401 unauthorized."""
    response = ApiClient().get("schools")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_unknown_and_revoked_keys_are_401(tenant: Tenant) -> None:
    """A wrong key and a revoked key are both refused with 401."""
    assert ApiClient("hbk_wrong").get("schools").status_code == 401
    key, secret = ApiKey.create(name="x", organisation=tenant.organisation, role="admin")
    assert ApiClient(secret).get("schools").status_code == 200
    key.revoked_at = timezone.now()
    key.save()
    assert ApiClient(secret).get("schools").status_code == 401


def test_x_api_key_header_works(tenant: Tenant) -> None:
    """The X-API-Key header authenticates like the Bearer header."""
    _, secret = ApiKey.create(name="x", organisation=tenant.organisation, role="viewer")
    response = Client().get("/api/v1/schools", headers={"X-API-Key": secret})
    assert response.status_code == 200


def test_key_use_is_recorded(tenant: Tenant) -> None:
    """Using a key records when it was last used."""
    key, secret = ApiKey.create(name="x", organisation=tenant.organisation, role="viewer")
    ApiClient(secret).get("schools")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_school_key_sees_only_its_school(tenant: Tenant, api_as: KeyFactory) -> None:
    """A key scoped to school alpha lists alpha only and gets 404 for everything of beta."""
    client = api_as("admin")
    assert [s["slug"] for s in client.get("schools").json()] == ["alpha"]
    beta_screen, _ = make_screen(tenant.other_school)
    beta_note = Announcement.objects.create(school=tenant.other_school, title="beta")
    for path in [
        "schools/beta/announcements",
        f"schools/beta/announcements/{beta_note.pk}",
        "schools/beta/substitutions",
        "schools/beta/alerts",
        "schools/beta/screens",
        f"schools/beta/screens/{beta_screen.pk}",
        "schools/beta/periods",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    # Another school's object through our own school's URL is not found either.
    assert client.get(f"schools/alpha/announcements/{beta_note.pk}").status_code == 404
    assert client.post(f"schools/alpha/screens/{beta_screen.pk}/rotate-token").status_code == 404
    assert client.delete(f"schools/alpha/announcements/{beta_note.pk}").status_code == 404
    assert Announcement.objects.filter(pk=beta_note.pk).exists()


def test_organisation_key_sees_its_schools_only(tenant: Tenant, api_as: KeyFactory) -> None:
    """An organisation key covers its schools but not another organisation's."""
    other_org = Organisation.objects.create(slug="south", name="South")
    make_school(other_org, "gamma")
    client = api_as("viewer", school=None)
    assert sorted(s["slug"] for s in client.get("schools").json()) == ["alpha", "beta"]
    assert client.get("schools/gamma/announcements").status_code == 404


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"announce", "timetable", "alert", "screens"}),
        ("office", {"announce"}),
        ("timetabler", {"timetable"}),
        ("safety", {"alert"}),
        ("viewer", set()),
    ],
)
def test_rights_by_role(tenant: Tenant, api_as: KeyFactory, role: str, allowed: set[str]) -> None:
    """Each role may write exactly what the rights table says; the rest is 403 forbidden."""
    client = api_as(role)
    attempts = {
        "announce": lambda: client.post("schools/alpha/announcements", {"title": "Hi"}),
        "timetable": lambda: client.post(
            "schools/alpha/substitutions",
            {"date": "2026-11-23", "period": 1, "class": "7a", "kind": "cancelled"},
        ),
        "alert": lambda: client.post("schools/alpha/alerts", {"headline": "Lockdown"}),
        "screens": lambda: client.post("schools/alpha/screens", {"name": "Hall"}),
    }
    for right, attempt in attempts.items():
        response = attempt()
        if right in allowed:
            assert response.status_code == 201, (right, response.content)
        else:
            assert response.status_code == 403, (right, response.content)
            assert response.json()["error"] == "forbidden"
    # Every role may read.
    assert client.get("schools/alpha/announcements").status_code == 200


def test_staff_session_works_and_needs_csrf(tenant: Tenant) -> None:
    """A signed-in member uses the API through the session; writes need the CSRF token."""
    user = get_user_model().objects.create_user("office", password="pw-long-enough")
    Membership.objects.create(user=user, school=tenant.school, role="office")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert [s["slug"] for s in client.get("/api/v1/schools").json()] == ["alpha"]
    refused = client.post(
        "/api/v1/schools/alpha/announcements", {"title": "x"}, content_type="application/json"
    )
    assert refused.status_code in (401, 403)
    client.get("/admin/login/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/v1/schools/alpha/announcements",
        {"title": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201, accepted.content


def test_openapi_and_docs_are_served(tenant: Tenant) -> None:
    """The OpenAPI document and the interactive docs are served without a CDN."""
    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/schools/{slug}/screens/{pk}/commands" in paths
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content


def test_screen_list_needs_the_screens_right(tenant: Tenant, api_as: KeyFactory) -> None:
    """Screens (with binding state) are visible to admins only."""
    make_screen(tenant.school)
    assert api_as("office").get("schools/alpha/screens").status_code == 403
    listed = api_as("admin").get("schools/alpha/screens").json()
    assert [s["name"] for s in listed] == ["Hall"]
    assert listed[0]["status"] == "offline"
    current = revision_of(tenant.school)
    Screen.objects.update(
        last_heartbeat_at=timezone.now() - dt.timedelta(seconds=5),
        revision_shown=current - 1,
        token_issued_at=timezone.now() - dt.timedelta(minutes=1),  # heard since it got its token
    )
    # Behind, but the current revision is seconds old: within the grace period.
    assert api_as("admin").get("schools/alpha/screens").json()[0]["status"] == "online"
    School.objects.filter(pk=tenant.school.pk).update(
        revision_changed_at=timezone.now() - dt.timedelta(minutes=5)
    )
    row = api_as("admin").get("schools/alpha/screens").json()[0]
    assert row["status"] == "stale"
    assert row["status_reason"].startswith(f"shows revision {current - 1}, current is {current}")
    Screen.objects.update(revision_shown=current)
    assert api_as("admin").get("schools/alpha/screens").json()[0]["status"] == "online"
