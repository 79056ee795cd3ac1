"""Pairing endpoints (``hallboard.display.pairing_views``): a code on the display, a claim by an
admin, the token picked up exactly once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import defusedxml.ElementTree
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from hallboard.schools.models import Membership
from hallboard.screens.models import PairingCode, Screen
from hallboard.screens.tokens import hash_token
from tests.conftest import KeyFactory, Tenant, make_screen
from tests.display.conftest import ScreenClient


def start(dk: str = "pairing-device-1", client: Client | None = None) -> Any:
    return (client or Client()).post(
        "/api/display/pair/", json.dumps({"dk": dk}), content_type="application/json"
    )


def pick_up(code: str, secret: str) -> Any:
    return Client().get(f"/api/display/pair/{code}/", headers={"X-Pairing-Secret": secret})


def test_a_display_gets_a_code_a_secret_and_a_qr_code(tenant: Tenant) -> None:
    """Starting pairing answers 201 with a six-character code, a secret and an SVG QR code."""
    response = start()
    assert response.status_code == 201
    body = response.json()
    assert len(body["code"]) == 6
    assert body["claim_url"].endswith(f"/admin/screens/screen/pair/?code={body['code']}")
    svg = defusedxml.ElementTree.fromstring(body["qr_svg"].encode())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg) > 0  # it draws something
    stored = PairingCode.objects.get(code=body["code"])
    assert stored.secret_hash == hash_token(body["secret"])  # the secret is not stored
    assert stored.device_key == "pairing-device-1"


def test_pairing_needs_a_device_key(tenant: Tenant) -> None:
    """Without a device key pairing is refused with 400 missing_device_key."""
    response = Client().post("/api/display/pair/", "{}", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "missing_device_key"


def test_starting_pairing_is_rate_limited(tenant: Tenant) -> None:
    """A device asking for codes over and over gets 429 with Retry-After."""
    codes = [start("greedy-device-1").status_code for _ in range(11)]
    assert codes[:10] == [201] * 10
    assert codes[10] == 429


def test_claim_then_the_token_is_picked_up_exactly_once(tenant: Tenant, api_as: KeyFactory) -> None:
    """After an admin claims the code, the display gets a working token once, bound to it."""
    screen, old_token = make_screen(tenant.school, name="Library")
    body = start("library-pi-01").json()
    assert pick_up(body["code"], body["secret"]).json()["status"] == "waiting"

    claimed = api_as("admin").post(
        f"schools/alpha/screens/{screen.pk}/pair", {"code": body["code"].lower()}
    )
    assert claimed.status_code == 200, claimed.content

    picked = pick_up(body["code"], body["secret"])
    assert picked.json()["status"] == "paired"
    token = picked.json()["token"]
    assert Screen.objects.get(pk=screen.pk).token_hash == hash_token(token)
    assert ScreenClient(token, "library-pi-01").get("status").status_code == 200
    assert ScreenClient(token, "another-device").get("status").status_code == 403
    assert ScreenClient(old_token, "library-pi-01").get("status").status_code == 401

    again = pick_up(body["code"], body["secret"])
    assert again.status_code == 410
    assert again.json()["error"] == "pairing_gone"


def test_wrong_secret_learns_nothing(tenant: Tenant, api_as: KeyFactory) -> None:
    """Polling a claimed code with the wrong secret is 404 and delivers no token."""
    screen, _ = make_screen(tenant.school)
    body = start().json()
    api_as("admin").post(f"schools/alpha/screens/{screen.pk}/pair", {"code": body["code"]})
    assert pick_up(body["code"], "not-the-secret").status_code == 404
    assert pick_up(body["code"], body["secret"]).json()["status"] == "paired"


def test_expired_codes_cannot_be_claimed_or_picked_up(tenant: Tenant, api_as: KeyFactory) -> None:
    """An expired code is refused to the claimer (404) and to the display (410)."""
    screen, _ = make_screen(tenant.school)
    body = start().json()
    PairingCode.objects.filter(code=body["code"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    claim = api_as("admin").post(f"schools/alpha/screens/{screen.pk}/pair", {"code": body["code"]})
    assert claim.status_code == 404
    assert claim.json()["error"] == "pairing_unknown"
    assert pick_up(body["code"], body["secret"]).status_code == 410


def test_claims_are_rate_limited_per_person(tenant: Tenant, api_as: KeyFactory) -> None:
    """Guessing codes is stopped: the eleventh claim in a minute is 429."""
    screen, _ = make_screen(tenant.school)
    client = api_as("admin")
    statuses = [
        client.post(f"schools/alpha/screens/{screen.pk}/pair", {"code": f"ZZZZ{n:02d}"}).status_code
        for n in range(11)
    ]
    assert statuses[:10] == [404] * 10
    assert statuses[10] == 429


def test_only_screen_admins_claim_and_only_their_screens(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """An office key may not pair; an admin of alpha cannot pair beta's screen."""
    beta_screen, _ = make_screen(tenant.other_school)
    alpha_screen, _ = make_screen(tenant.school)
    body = start().json()
    office = api_as("office").post(
        f"schools/alpha/screens/{alpha_screen.pk}/pair", {"code": body["code"]}
    )
    assert office.status_code == 403
    other = api_as("admin").post(
        f"schools/alpha/screens/{beta_screen.pk}/pair", {"code": body["code"]}
    )
    assert other.status_code == 404


def test_the_admin_pair_page_claims_a_code(tenant: Tenant) -> None:
    """The admin page linked by the QR code claims the code for a screen of the user's school."""
    user = get_user_model().objects.create_user("it", password="a-long-password", is_staff=True)
    Membership.objects.create(user=user, school=tenant.school, role="admin")
    client = Client()
    client.force_login(user)
    screen, _ = make_screen(tenant.school, name="Gym")
    make_screen(tenant.other_school, name="Beta gym")
    body = start().json()
    page = client.get(f"/admin/screens/screen/pair/?code={body['code']}")
    assert page.status_code == 200
    offered = [s.name for s in page.context["form"].fields["screen"].queryset]
    assert offered == ["Gym"]
    done = client.post("/admin/screens/screen/pair/", {"code": body["code"], "screen": screen.pk})
    assert done.status_code == 302
    assert PairingCode.objects.get(code=body["code"]).screen_id == screen.pk


def test_display_page_is_served_with_a_strict_policy(tenant: Tenant) -> None:
    """/display/ serves the page with a Content-Security-Policy that allows only this site."""
    response = Client().get("/display/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert response["Referrer-Policy"] == "no-referrer"
    assert b"display/display.js" in response.content


def test_pairing_refuses_bad_bodies_with_a_json_400(tenant: Tenant) -> None:
    """A device key that is not a string, deep nesting, NaN, a NUL, an oversized body:
    each a 400 JSON error, never a 500."""
    client = Client(raise_request_exception=False)
    bodies = [
        json.dumps({"dk": 5}),
        json.dumps({"dk": ["device-0001"]}),
        json.dumps({"dk": {"a": 1}}),
        json.dumps({"dk": True}),
        "[" * 100_000 + "]" * 100_000,
        '{"dk": NaN}',
        json.dumps({"dk": "device\x000001"}),
        json.dumps({"dk": "device-0001", "pad": "x" * 2000}),
    ]
    for body in bodies:
        response = client.post("/api/display/pair/", data=body, content_type="application/json")
        assert response.status_code == 400, body[:40]
        assert response.json()["error"] in ("invalid_body", "invalid_device_key"), body[:40]


def test_a_nul_in_a_pairing_code_is_a_json_400(tenant: Tenant) -> None:
    """``GET /api/display/pair/%00/``: refused before it reaches the database."""
    response = Client(raise_request_exception=False).get("/api/display/pair/%00/")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_the_device_key_may_come_in_a_header(tenant: Tenant) -> None:
    """With no ``dk`` in the body, the ``X-Device-Key`` header is the device key."""
    response = Client().post(
        "/api/display/pair/",
        "",
        content_type="application/json",
        headers={"X-Device-Key": "header-device-1"},
    )
    assert response.status_code == 201
    assert PairingCode.objects.get(code=response.json()["code"]).device_key == "header-device-1"


def test_a_code_gone_or_expired_is_410_and_the_secret_may_be_a_query_value(
    tenant: Tenant, api_as: KeyFactory
) -> None:
    """Picking up twice, or an expired unclaimed code, is 410 with its code; the secret may be
    sent as ``?secret=`` too."""
    screen, _ = make_screen(tenant.school)
    body = start().json()
    claimed = api_as("admin").post(
        f"schools/alpha/screens/{screen.pk}/pair", {"code": body["code"]}
    )
    assert claimed.status_code == 200
    first = Client().get(f"/api/display/pair/{body['code']}/", {"secret": body["secret"]})
    assert first.status_code == 200
    assert first.json()["status"] == "paired"
    assert first["Cache-Control"] == "no-store"
    again = pick_up(body["code"], body["secret"])
    assert (again.status_code, again.json()["error"]) == (410, "pairing_gone")
    late = start("pairing-device-2").json()
    PairingCode.objects.filter(code=late["code"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    expired = pick_up(late["code"], late["secret"])
    assert (expired.status_code, expired.json()["error"]) == (410, "pairing_expired")
