"""Display authentication: tokens, device keys, binding, and their JSON errors."""

from __future__ import annotations

import pytest
from django.test import Client

from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient

ENDPOINTS = ["snapshot", "status"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_token_is_401_invalid_token(tenant: Tenant, endpoint: str) -> None:
    """A request without a token is refused with 401 invalid_token."""
    response = Client().get(f"/api/display/{endpoint}/", {"dk": "device-0001"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_token_is_401_invalid_token(tenant: Tenant, endpoint: str) -> None:
    """A token that matches no screen is refused with 401 invalid_token."""
    response = ScreenClient("hbs_not-a-real-token").get(endpoint)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "detail": response.json()["detail"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_device_key_is_400(tenant: Tenant, endpoint: str) -> None:
    """A request with a token but no device key is refused with 400 missing_device_key."""
    _, token = make_screen(tenant.school)
    response = Client().get(f"/api/display/{endpoint}/", {"token": token})
    assert response.status_code == 400
    assert response.json()["error"] == "missing_device_key"


def test_malformed_device_key_is_400(tenant: Tenant) -> None:
    """A device key with characters outside [A-Za-z0-9_-] is refused with 400."""
    _, token = make_screen(tenant.school)
    response = ScreenClient(token, "bad key!").get("status")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_device_key"


def test_headers_work_like_query_parameters(tenant: Tenant) -> None:
    """Authorization: Bearer and X-Device-Key authenticate like ?token=&dk=."""
    _, token = make_screen(tenant.school)
    response = Client().get(
        "/api/display/status/",
        headers={"Authorization": f"Bearer {token}", "X-Device-Key": "device-0001"},
    )
    assert response.status_code == 200
    assert response.json()["rev"] >= 1


def test_first_device_binds_and_second_is_refused(tenant: Tenant) -> None:
    """The first device key binds the screen; another device gets 403 screen_bound."""
    screen, token = make_screen(tenant.school)
    assert ScreenClient(token, "first-device").get("status").status_code == 200
    screen.refresh_from_db()
    assert screen.device_key == "first-device"
    assert screen.bound_at is not None

    refused = ScreenClient(token, "second-device").get("snapshot")
    assert refused.status_code == 403
    assert refused.json()["error"] == "screen_bound"
    assert ScreenClient(token, "first-device").get("snapshot").status_code == 200


def test_reset_binding_lets_a_new_device_bind(tenant: Tenant) -> None:
    """After an admin resets the binding, the next device to ask binds the screen."""
    screen, token = make_screen(tenant.school)
    ScreenClient(token, "old-device").get("status")
    screen.reset_binding()
    assert ScreenClient(token, "new-device").get("status").status_code == 200
    assert ScreenClient(token, "old-device").get("status").status_code == 403


def test_multi_device_per_screen_override(tenant: Tenant) -> None:
    """A screen that allows several devices serves them all."""
    _, token = make_screen(tenant.school, allow_multi_device=True)
    assert ScreenClient(token, "device-aaaa").get("status").status_code == 200
    assert ScreenClient(token, "device-bbbb").get("status").status_code == 200


def test_multi_device_global_default(tenant: Tenant, settings: object) -> None:
    """DISPLAY_ALLOW_MULTI_DEVICE=true lets any device use screens without an override."""
    settings.DISPLAY_ALLOW_MULTI_DEVICE = True  # type: ignore[attr-defined]
    _, token = make_screen(tenant.school)
    assert ScreenClient(token, "device-aaaa").get("status").status_code == 200
    assert ScreenClient(token, "device-bbbb").get("status").status_code == 200
    screen_refusing, token2 = make_screen(tenant.school, name="Strict", allow_multi_device=False)
    assert ScreenClient(token2, "device-aaaa").get("status").status_code == 200
    assert ScreenClient(token2, "device-bbbb").get("status").status_code == 403
    assert screen_refusing.pk


def test_token_is_stored_only_as_a_hash(tenant: Tenant) -> None:
    """The raw token appears in no column of the screen's row; its SHA-256 does."""
    screen, token = make_screen(tenant.school)
    row = Screen.objects.filter(pk=screen.pk).values().get()
    assert token not in {str(v) for v in row.values()}
    assert row["token_hash"] == hash_token(token)
    assert len(token) >= 4 + 22  # prefix + at least 128 bits in base64url


def test_rotated_token_stops_working_and_new_one_works(tenant: Tenant) -> None:
    """Rotating a token refuses the old one with 401 and accepts the new one."""
    screen, old = make_screen(tenant.school)
    new = screen.issue_token()
    assert ScreenClient(old).get("status").status_code == 401
    assert ScreenClient(new).get("status").status_code == 200


def test_revoked_token_is_401(tenant: Tenant) -> None:
    """A revoked token is refused with 401 invalid_token."""
    screen, token = make_screen(tenant.school)
    screen.revoke_token()
    response = ScreenClient(token).get("snapshot")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_wrong_method_is_refused(tenant: Tenant) -> None:
    """Snapshot and status answer GET only; heartbeat answers POST only."""
    _, token = make_screen(tenant.school)
    client = Client()
    assert client.post(f"/api/display/snapshot/?token={token}&dk=device-0001").status_code == 405
    assert client.get(f"/api/display/heartbeat/?token={token}&dk=device-0001").status_code == 405
