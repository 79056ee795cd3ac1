"""Heartbeats and alert acks: the HTTP endpoints and the socket accept and refuse the same
messages, with the same words (one validator: hallboard.realtime.core.validation)."""

from __future__ import annotations

import pytest

from hallboard.realtime.core import messages, validation
from hallboard.realtime.core.close_codes import CloseCode
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient

HEALTH_OVER_2_KIB = '"health": {"note": "' + "x" * validation.MAX_CLIENT_INFO_BYTES + '"}'
HEALTH_AT_THE_LIMIT = '"uptime_s": 1, "health": {"n": "' + "x" * 1990 + '"}'

# The inside of a JSON object: the HTTP body is {inner}, the socket's message
# {"type": ..., inner}.
HEARTBEATS = [
    "",
    '"rev": 0, "mode": "ws", "uptime_s": 12.5, "health": {"errors": 0}',
    '"rev": -1',
    '"rev": 9223372036854775808',
    '"rev": 1.5',
    '"rev": true',
    '"mode": "sse"',
    '"uptime_s": -1',
    '"uptime_s": NaN',
    '"uptime_s": 1e999',
    '"health": []',
    '"health": {"a": "nul\\u0000"}',
    '"health": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}',
    HEALTH_OVER_2_KIB,
    HEALTH_AT_THE_LIMIT,
]
ACKS = [
    '"alert": 1, "state": "shown"',
    '"alert": 1, "state": "cleared"',
    '"alert": 0, "state": "shown"',
    '"alert": -1, "state": "shown"',
    '"alert": "1", "state": "shown"',
    '"alert": true, "state": "shown"',
    '"alert": 9223372036854775808, "state": "shown"',
    '"alert": 1, "state": "seen"',
    '"alert": 1',
    '"state": "shown", "alert": 9223372036854775807',
]


def socket_verdict(kind: str, inner: str) -> str | None:
    """None when the socket accepts the message, else why it refuses it."""
    frame = f'{{"type": "{kind}"' + (", " + inner if inner else "") + "}"
    try:
        messages.parse(frame)
    except messages.ProtocolError as exc:
        refused = exc
    else:
        return None
    assert refused.code in (CloseCode.POLICY_VIOLATION, CloseCode.MESSAGE_TOO_BIG)
    return refused.detail


def http_verdict(response: object) -> str | None:
    status = response.status_code  # type: ignore[attr-defined]
    if status == 400:
        body = response.json()  # type: ignore[attr-defined]
        assert body["error"] == "invalid_body"
        return str(body["detail"])
    assert status in (204, 404), status  # stored, or (acks) no such alert for the screen
    return None


@pytest.mark.parametrize("inner", HEARTBEATS)
def test_heartbeats_are_judged_alike(tenant: Tenant, inner: str) -> None:
    """A heartbeat body is refused over HTTP exactly when the socket refuses it, with the
    same words; the limits (client_info at 2 KiB, 64-bit integers, finite numbers, no NUL,
    depth) are the same."""
    _, token = make_screen(tenant.school)
    response = ScreenClient(token).heartbeat("{" + inner + "}")
    assert http_verdict(response) == socket_verdict("heartbeat", inner)


@pytest.mark.parametrize("inner", ACKS)
def test_alert_acks_are_judged_alike(tenant: Tenant, inner: str) -> None:
    """An alert ack is refused over HTTP exactly when the socket refuses it: alert ids from
    1 on both, the same states, the same words."""
    _, token = make_screen(tenant.school)
    response = ScreenClient(token).ack("{" + inner + "}")
    assert http_verdict(response) == socket_verdict("ack", inner)


def test_the_cases_cover_both_verdicts() -> None:
    """The lists above hold messages each side accepts and refuses (not one kind only)."""
    heartbeat = [socket_verdict("heartbeat", inner) is None for inner in HEARTBEATS]
    acks = [socket_verdict("ack", inner) is None for inner in ACKS]
    assert any(heartbeat)
    assert not all(heartbeat)
    assert any(acks)
    assert not all(acks)
