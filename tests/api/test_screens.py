"""What the live dashboard reads and does through the management API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from hallboard.api.models import ApiKey
from hallboard.screens.models import Command, Screen
from tests.conftest import (
    ApiClient,
    KeyFactory,
    Tenant,
    make_screen,
    make_user,
    signed_in,
)
from tests.display.conftest import ScreenClient


@pytest.fixture(autouse=True)
def generous_rate_limit(settings: Any) -> None:
    settings.DISPLAY_RATE_LIMIT = "10000/second"


@pytest.fixture
def screens(tenant: Tenant, south: Tenant) -> dict[str, Screen]:
    """One screen in each of alpha, beta (north) and gamma (south)."""
    return {
        slug: make_screen(school, name=f"{slug} hall")[0]
        for slug, school in (
            ("alpha", tenant.school),
            ("beta", tenant.other_school),
            ("gamma", south.school),
        )
    }


def session(user: Any) -> ApiClient:
    return ApiClient(client=signed_in(user))


def names(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()}


def test_the_organisation_list_has_every_screen_of_the_schools_one_looks_after(
    tenant: Tenant, screens: dict[str, Screen]
) -> None:
    """An organisation admin gets alpha's and beta's screens, each naming its school."""
    client = session(make_user("district-it", "admin", organisation=tenant.organisation))
    response = client.get("organisations/north/screens")
    assert names(response) == {"alpha hall", "beta hall"}
    assert {row["school"] for row in response.json()} == {"alpha", "beta"}


def test_a_school_admin_gets_only_their_school_in_the_organisation_list(
    tenant: Tenant, screens: dict[str, Screen]
) -> None:
    """Admin of alpha, viewer of beta: the organisation list has alpha's screens only."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    tenant.other_school.memberships.create(user=user, role="viewer")
    assert names(session(user).get("organisations/north/screens")) == {"alpha hall"}


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("office", 403), ("safety", 403)])
def test_roles_without_the_screens_right_are_refused(
    tenant: Tenant, screens: dict[str, Screen], role: str, status: int
) -> None:
    """Only the screens right (admins) reads screens, per school or per organisation."""
    client = session(make_user(f"n-{role}", role, organisation=tenant.organisation))
    assert client.get("organisations/north/screens").status_code == status
    assert client.get("schools/alpha/screens").status_code == status
    assert client.post("schools/alpha/commands", {"name": "reload"}).status_code == status


def test_another_organisation_is_not_found(
    tenant: Tenant, south: Tenant, screens: dict[str, Screen]
) -> None:
    """South's screens and organisation are 404 for north's admin, as is an unknown one."""
    client = session(make_user("district-it", "admin", organisation=tenant.organisation))
    for path in ("organisations/south/screens", "organisations/nowhere/screens"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    assert client.post("schools/gamma/commands", {"name": "reload"}).status_code == 404
    assert not Command.objects.filter(screen=screens["gamma"]).exists()


def test_api_keys_see_the_organisation_list_within_their_scope(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory
) -> None:
    """An organisation-wide admin key gets north's screens; a school key only its school's."""
    assert names(api_as("admin", school=None).get("organisations/north/screens")) == {
        "alpha hall",
        "beta hall",
    }
    assert names(api_as("admin").get("organisations/north/screens")) == {"alpha hall"}


def test_a_row_carries_everything_the_dashboard_shows(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory
) -> None:
    """Status and reason, mode, heartbeat, revisions, client figures, binding, last command."""
    screen = screens["alpha"]
    token = screen.issue_token()
    ScreenClient(token).heartbeat(
        {"rev": 1, "mode": "poll", "uptime_s": 42, "health": {"viewport": "1920x1080"}}
    )
    client = api_as("admin")
    command = client.post(f"schools/alpha/screens/{screen.pk}/commands", {"name": "reload"})
    assert command.status_code == 201
    row = client.get(f"schools/alpha/screens/{screen.pk}").json()
    assert row["school"] == "alpha"
    assert row["status"] in ("online", "stale")
    assert row["status_reason"]
    assert row["connection_mode"] == "poll"
    assert row["last_heartbeat_at"] is not None
    assert row["revision_shown"] == 1
    assert row["school_revision"] >= 1
    assert row["client_info"] == {"uptime_s": 42, "health": {"viewport": "1920x1080"}}
    assert row["bound"] is True
    assert row["has_token"] is True
    assert row["last_command"] == {**command.json(), "status": "pending"}
    assert row["last_command"]["screen"] == screen.pk
    listed = {r["id"]: r for r in client.get("schools/alpha/screens").json()}
    assert listed[screen.pk]["last_command"]["id"] == command.json()["id"]


def test_the_last_command_is_the_newest_and_shows_its_progress(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory
) -> None:
    """The row's last_command is the newest command, delivered/acknowledged as it goes."""
    screen = screens["alpha"]
    Command.objects.create(screen=screen, name="reload")
    newest = Command.objects.create(screen=screen, name="identify", payload={"seconds": 5})
    Command.objects.filter(pk=newest.pk).update(
        status=Command.Status.ACKNOWLEDGED,
        delivered_at=timezone.now(),
        acknowledged_at=timezone.now(),
    )
    rows = api_as("admin").get("schools/alpha/screens").json()
    (row,) = rows
    assert row["last_command"]["id"] == newest.pk
    assert row["last_command"]["status"] == "acknowledged"
    assert row["last_command"]["acknowledged_at"] is not None


def test_a_pending_command_past_its_lifetime_is_reported_expired(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory
) -> None:
    """A command still pending after 10 minutes will not be delivered: it says expired."""
    screen = screens["alpha"]
    old = Command.objects.create(screen=screen, name="reload")
    Command.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(minutes=11))
    (row,) = api_as("admin").get("schools/alpha/screens").json()
    assert row["last_command"]["status"] == "expired"


def test_the_screen_list_costs_the_same_queries_for_many_screens(
    tenant: Tenant, api_as: KeyFactory, django_assert_max_num_queries: Any
) -> None:
    """Listing screens with their last commands does not query once per screen."""
    client = api_as("admin", school=None)
    for n in range(12):
        screen, _ = make_screen(tenant.school if n % 2 else tenant.other_school, name=f"S{n}")
        Command.objects.create(screen=screen, name="reload")
    with django_assert_max_num_queries(10):
        assert len(client.get("organisations/north/screens").json()) == 12
    with django_assert_max_num_queries(10):
        assert len(client.get("schools/alpha/screens").json()) == 6


def test_a_command_to_every_screen_of_a_school(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory
) -> None:
    """POST /schools/alpha/commands: one command per alpha screen that has a token."""
    second, _ = make_screen(tenant.school, name="Library")
    revoked, _ = make_screen(tenant.school, name="Old")
    revoked.revoke_token()
    response = api_as("admin").post(
        "schools/alpha/commands",
        {"name": "message", "payload": {"text": " Assembly ", "seconds": 30}},
    )
    assert response.status_code == 201
    sent = response.json()
    assert {c["screen"] for c in sent} == {screens["alpha"].pk, second.pk}
    assert all(c["status"] == "pending" for c in sent)
    assert all(c["payload"] == {"text": "Assembly", "seconds": 30} for c in sent)
    assert Command.objects.filter(screen__school=tenant.school).count() == 2
    assert not Command.objects.exclude(screen__school=tenant.school).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "message", "payload": {"seconds": 30}},
        {"name": "identify", "payload": {"seconds": 0}},
        {"name": "reload", "payload": {"x": 1}},
        {"name": "explode"},
    ],
)
def test_a_bad_school_command_is_refused_and_nothing_is_sent(
    tenant: Tenant, screens: dict[str, Screen], api_as: KeyFactory, body: dict[str, Any]
) -> None:
    """An invalid command is a 422 naming the problem; no screen gets anything."""
    response = api_as("admin").post("schools/alpha/commands", body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert not Command.objects.exists()


def test_an_organisation_key_of_another_organisation_reaches_nothing(
    tenant: Tenant, south: Tenant, screens: dict[str, Screen]
) -> None:
    """South's organisation-wide admin key: north's lists and commands are 404."""
    _, secret = ApiKey.create(name="s", organisation=south.organisation, role="admin")
    client = ApiClient(secret)
    assert client.get("organisations/north/screens").status_code == 404
    assert client.post("schools/alpha/commands", {"name": "reload"}).status_code == 404
    assert names(client.get("organisations/south/screens")) == {"gamma hall"}
