"""Staff pages and the ticket endpoint: who may open what, and what the page is given."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
from django.test import Client

from hallboard.schools.models import Membership
from hallboard.staff import tickets
from tests.conftest import Tenant, make_user, signed_in

ROLES_WITHOUT_SCREENS = ["office", "timetabler", "safety", "viewer"]


def config_of(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    found = re.search(
        r'<script id="dashboard-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "the page carries its configuration"
    return dict(json.loads(found.group(1)))


def test_signed_out_visitors_are_sent_to_sign_in(tenant: Tenant) -> None:
    """Pages redirect to the admin login; the ticket endpoint answers 401 in JSON."""
    client = Client()
    for path in ("/staff/", "/staff/schools/alpha/", "/staff/organisations/north/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/?next=")
    response = client.get("/staff/ws-ticket/")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_a_school_admin_opens_their_schools_page(tenant: Tenant) -> None:
    """The page loads its rows from the school's screens endpoint and asks a ticket for it."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    response = client.get("/staff/schools/alpha/")
    assert response.status_code == 200
    config = config_of(response)
    assert [s["slug"] for s in config["schools"]] == ["alpha"]
    assert config["list_url"] == "/api/v1/schools/alpha/screens"
    assert config["ticket_url"] == "/staff/ws-ticket/?school=alpha"
    assert config["csrf"]
    assert config["refresh_s"] == 30


@pytest.mark.parametrize("role", ROLES_WITHOUT_SCREENS)
def test_roles_without_the_screens_right_get_403(tenant: Tenant, role: str) -> None:
    """A member who may see the school but not its screens is refused (403)."""
    client = signed_in(make_user(f"alpha-{role}", role, school=tenant.school))
    assert client.get("/staff/schools/alpha/").status_code == 403
    assert client.get("/staff/organisations/north/").status_code == 403
    response = client.get("/staff/ws-ticket/")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_another_tenants_pages_are_not_found(tenant: Tenant, south: Tenant) -> None:
    """North's organisation admin gets 404 for south's schools and organisation, and a
    ticket that never covers them."""
    client = signed_in(make_user("district-it", "admin", organisation=tenant.organisation))
    assert client.get("/staff/schools/gamma/").status_code == 404
    assert client.get("/staff/organisations/south/").status_code == 404
    assert client.get("/staff/schools/nowhere/").status_code == 404
    assert client.get("/staff/ws-ticket/?organisation=south").status_code == 403
    url = client.get("/staff/ws-ticket/").json()["url"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    ticket = tickets.verify(query["ticket"][0], "http://testserver")  # the page's origin
    assert ticket is not None
    assert ticket.school_ids == {tenant.school.pk, tenant.other_school.pk}


def test_an_organisation_page_lists_the_schools_one_looks_after(tenant: Tenant) -> None:
    """Organisation admin: both schools. Admin of alpha only: alpha only."""
    district = signed_in(make_user("district-it", "admin", organisation=tenant.organisation))
    config = config_of(district.get("/staff/organisations/north/"))
    assert [s["slug"] for s in config["schools"]] == ["alpha", "beta"]
    assert config["list_url"] == "/api/v1/organisations/north/screens"
    assert config["ticket_url"] == "/staff/ws-ticket/?organisation=north"
    assert district.get("/staff/schools/beta/").status_code == 200

    user = make_user("alpha-admin", "admin", school=tenant.school)
    Membership.objects.create(user=user, school=tenant.other_school, role="viewer")
    config = config_of(signed_in(user).get("/staff/organisations/north/"))
    assert [s["slug"] for s in config["schools"]] == ["alpha"]


def test_superusers_open_any_dashboard(tenant: Tenant, south: Tenant) -> None:
    """Operators see every school's and organisation's page."""
    client = signed_in(make_user("root", superuser=True))
    assert client.get("/staff/schools/gamma/").status_code == 200
    assert client.get("/staff/organisations/north/").status_code == 200


def test_the_page_runs_under_a_strict_content_security_policy(tenant: Tenant) -> None:
    """Only our own scripts and styles; no inline script; nothing from elsewhere."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    response = client.get("/staff/schools/alpha/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert not re.search(r"(src|href)=\"https?://", html)
    assert " style=" not in html


def test_the_ticket_is_for_the_page_s_schools_and_points_at_the_gateway(
    tenant: Tenant, settings: Any
) -> None:
    """?school= narrows the ticket; the URL is the gateway's staff socket; never cached."""
    settings.GATEWAY_PORT = 8123
    client = signed_in(make_user("district-it", "admin", organisation=tenant.organisation))
    response = client.get("/staff/ws-ticket/?school=beta")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["expires_in"] == 60
    parts = urllib.parse.urlsplit(body["url"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "ws://testserver:8123/ws/staff/"
    ticket = tickets.verify(urllib.parse.parse_qs(parts.query)["ticket"][0], "http://testserver")
    assert ticket is not None
    assert ticket.school_ids == {tenant.other_school.pk}
    assert client.post("/staff/ws-ticket/").status_code == 405


def test_the_ticket_url_follows_the_configured_push_address(tenant: Tenant, settings: Any) -> None:
    """Behind a proxy: beside DISPLAY_WS_URL, or exactly STAFF_WS_URL when set."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    settings.DISPLAY_WS_URL = "wss://displays.example.org/ws/display/"
    url = client.get("/staff/ws-ticket/").json()["url"]
    assert url.startswith("wss://displays.example.org/ws/staff/?ticket=")
    settings.STAFF_WS_URL = "wss://admin.example.org/realtime/staff/"
    url = client.get("/staff/ws-ticket/").json()["url"]
    assert url.startswith("wss://admin.example.org/realtime/staff/?ticket=")


def test_the_index_lists_dashboards_and_goes_straight_to_a_single_school(tenant: Tenant) -> None:
    """Several schools: a directory with the organisation page; one school: its page."""
    district = signed_in(make_user("district-it", "admin", organisation=tenant.organisation))
    html = district.get("/staff/").content.decode()
    assert 'href="/staff/organisations/north/"' in html
    assert 'href="/staff/schools/alpha/"' in html
    assert 'href="/staff/schools/beta/"' in html
    single = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    response = single.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/schools/alpha/"
    viewer = signed_in(make_user("viewer", "viewer", school=tenant.school))
    assert "no school" in viewer.get("/staff/").content.decode()


def test_the_admin_links_to_the_dashboard(tenant: Tenant) -> None:
    """The admin index and the screen list link to the dashboards of one's schools."""
    client = signed_in(make_user("district-it", "admin", organisation=tenant.organisation))
    index = client.get("/admin/").content.decode()
    assert "Live screens dashboard" in index
    assert 'href="/staff/organisations/north/"' in index
    assert 'href="/staff/schools/alpha/"' in index
    screens = client.get("/admin/screens/screen/").content.decode()
    assert 'href="/staff/"' in screens
    viewer = signed_in(make_user("viewer", "viewer", school=tenant.school))
    assert "Live screens dashboard" not in viewer.get("/admin/").content.decode()
