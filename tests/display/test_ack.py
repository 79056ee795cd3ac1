"""``POST /api/display/ack/``: a polling screen acknowledges an alert shown, or its end."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from hallboard.alerts.models import Alert, AlertReceipt
from hallboard.schools.models import Organisation
from tests.conftest import Tenant, make_screen, revision_of, sample
from tests.display.conftest import ScreenClient


def alert_for(tenant: Tenant, **fields: Any) -> Alert:
    fields.setdefault("school", tenant.school)
    return Alert.objects.create(organisation=tenant.organisation, headline="Fire", **fields)


def test_ack_stores_the_receipt_and_answers_204(tenant: Tenant) -> None:
    """Shown, then cleared: one receipt via HTTP with both times; repeats are fine; the
    school's revision does not move; the answers are counted."""
    screen, token = make_screen(tenant.school)
    alert = alert_for(tenant)
    client = ScreenClient(token)
    before = revision_of(tenant.school)
    counted = sample("hallboard_display_requests_total", endpoint="ack", code="204")
    assert client.ack({"alert": alert.pk, "state": "shown"}).status_code == 204
    assert client.ack({"alert": alert.pk, "state": "shown"}).status_code == 204
    receipt = AlertReceipt.objects.get(alert=alert, screen=screen)
    assert receipt.shown_at is not None
    assert receipt.cleared_at is None
    assert receipt.via == "http"
    assert client.ack({"alert": alert.pk, "state": "cleared"}).status_code == 204
    receipt.refresh_from_db()
    assert receipt.cleared_at is not None
    assert revision_of(tenant.school) == before
    assert sample("hallboard_display_requests_total", endpoint="ack", code="204") == counted + 3


def test_an_organisation_alert_may_be_acknowledged(tenant: Tenant) -> None:
    """A screen of beta acknowledges the organisation's alert."""
    screen, token = make_screen(tenant.other_school)
    alert = alert_for(tenant, school=None)
    assert ScreenClient(token).ack({"alert": alert.pk, "state": "shown"}).status_code == 204
    assert AlertReceipt.objects.filter(alert=alert, screen=screen).exists()


def test_alerts_outside_the_screens_scope_are_unknown(tenant: Tenant) -> None:
    """Another school's alert, another organisation's, or no alert at all: 404 unknown_alert."""
    _, token = make_screen(tenant.school)
    south = Organisation.objects.create(slug="south", name="South")
    for alert_id in (
        alert_for(tenant, school=tenant.other_school).pk,
        Alert.objects.create(organisation=south, headline="South").pk,
        999_999,
    ):
        response = ScreenClient(token).ack({"alert": alert_id, "state": "shown"})
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_alert"
    assert not AlertReceipt.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1]",
        b"",
        {"alert": "1", "state": "shown"},
        {"alert": True, "state": "shown"},
        {"alert": 0, "state": "shown"},
        {"state": "shown"},
        {"alert": 1, "state": "seen"},
        {"alert": 1},
        {"alert": 1, "state": "shown", "pad": "x" * 5000},
    ],
)
def test_bad_bodies_are_400_invalid_body(tenant: Tenant, body: Any) -> None:
    """Anything but {"alert": <id>, "state": "shown" | "cleared"} is refused and stores nothing."""
    _, token = make_screen(tenant.school)
    alert_for(tenant)
    response = ScreenClient(token).ack(body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_body"
    assert not AlertReceipt.objects.exists()


def test_ack_is_authenticated_and_rate_limited_like_the_others(
    tenant: Tenant, settings: Any
) -> None:
    """No token 401, unknown token 401, GET 405, and the shared per-device rate limit."""
    alert = alert_for(tenant)
    body = {"alert": alert.pk, "state": "shown"}
    assert (
        Client().post("/api/display/ack/", body, content_type="application/json").status_code == 401
    )
    assert ScreenClient("hbs_unknown").ack(body).status_code == 401
    _, token = make_screen(tenant.school)
    assert ScreenClient(token).get("ack").status_code == 405
    settings.DISPLAY_RATE_LIMIT = "2/minute"
    client = ScreenClient(token)
    assert client.get("status").status_code == 200
    assert client.ack(body).status_code == 204
    refused = client.ack(body)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
