"""Heartbeats record what a screen shows, without bumping the school's revision."""

from __future__ import annotations

import pytest

from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen, revision_of
from tests.display.conftest import ScreenClient


def test_heartbeat_records_state_and_answers_204(tenant: Tenant) -> None:
    """A heartbeat stores revision shown, mode, uptime and health; the revision stays."""
    screen, token = make_screen(tenant.school)
    before = revision_of(tenant.school)
    response = ScreenClient(token).heartbeat(
        {"rev": 7, "mode": "poll", "uptime_s": 3600.5, "health": {"memory_mb": 120}}
    )
    assert response.status_code == 204
    screen.refresh_from_db()
    assert screen.revision_shown == 7
    assert screen.connection_mode == Screen.Mode.POLL
    assert screen.last_heartbeat_at is not None
    assert screen.client_info == {"uptime_s": 3600.5, "health": {"memory_mb": 120}}
    assert revision_of(tenant.school) == before


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        ({"rev": -1}, "rev"),
        ({"rev": "7"}, "rev"),
        ({"mode": "carrier-pigeon"}, "mode"),
        ({"uptime_s": "long"}, "uptime_s"),
        ({"health": [1]}, "health"),
        ({"health": {"x": "y" * 3000}}, "health"),
        (b"{" + b" " * 5000 + b"}", "4096"),
    ],
)
def test_bad_heartbeat_is_400_and_changes_nothing(
    tenant: Tenant, body: object, fragment: str
) -> None:
    """A malformed heartbeat is refused with 400 invalid_body naming the problem."""
    screen, token = make_screen(tenant.school)
    response = ScreenClient(token).heartbeat(body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_body"
    assert fragment in response.json()["detail"]
    screen.refresh_from_db()
    assert screen.last_heartbeat_at is None


def test_heartbeat_needs_a_valid_token(tenant: Tenant) -> None:
    """A heartbeat with an unknown token is refused with 401."""
    response = ScreenClient("hbs_unknown").heartbeat({"rev": 1})
    assert response.status_code == 401


def test_the_validator_knows_the_modes_a_screen_stores() -> None:
    """The client-message validator's modes are Screen.Mode's (besides "unknown")."""
    from hallboard.realtime.core.validation import MODES
    from hallboard.screens.models import Screen

    assert set(MODES) == set(Screen.Mode.values) - {Screen.Mode.UNKNOWN}
