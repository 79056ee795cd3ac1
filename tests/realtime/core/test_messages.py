"""Client messages: only ping, heartbeat and ack; everything else closes with a code."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallboard.realtime.core import messages
from hallboard.realtime.core.close_codes import CloseCode, Retry
from hallboard.realtime.core.messages import (
    Ack,
    ControlLimit,
    Heartbeat,
    InboundLimit,
    Ping,
    ProtocolError,
)


def test_allowed_messages_parse() -> None:
    """ping, heartbeat and ack are accepted and typed."""
    assert messages.parse('{"type":"ping"}') == Ping()
    assert messages.parse(
        '{"type":"heartbeat","rev":4,"mode":"ws","uptime_s":12.5,"health":{"fps":60}}'
    ) == Heartbeat(rev=4, mode="ws", uptime_s=12.5, health={"fps": 60})
    assert messages.parse('{"type":"ack","id":7}') == Ack(7)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", CloseCode.POLICY_VIOLATION),
        ("[1,2]", CloseCode.POLICY_VIOLATION),
        ('{"type":"publish","topic":"school:2"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"subscribe"}', CloseCode.POLICY_VIOLATION),
        ('{"no":"type"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"ack"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"ack","id":-1}', CloseCode.POLICY_VIOLATION),
        ('{"type":"heartbeat","rev":"3"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"heartbeat","mode":"pigeon"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"heartbeat","uptime_s":true}', CloseCode.POLICY_VIOLATION),
        ('{"type":"heartbeat","health":[]}', CloseCode.POLICY_VIOLATION),
        (b'{"type":"ping"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"ping","pad":"' + "x" * 5000 + '"}', CloseCode.MESSAGE_TOO_BIG),
    ],
)
def test_bad_messages_close_with_the_policy_code(frame: str | bytes, code: CloseCode) -> None:
    """Malformed, unknown, binary or oversized messages raise ProtocolError with the code."""
    with pytest.raises(ProtocolError) as raised:
        messages.parse(frame)
    assert raised.value.code is code


def test_server_frames_are_compact_json() -> None:
    """Frames are compact JSON with a type."""
    assert messages.invalidate(3) == '{"type":"invalidate","rev":3}'
    assert json.loads(messages.hello(rev=2, screen_id=5, heartbeat_s=30)) == {
        "type": "hello",
        "rev": 2,
        "screen": 5,
        "heartbeat_s": 30,
        "alert": None,
    }
    assert json.loads(messages.alert(None, cleared=4)) == {
        "type": "alert",
        "alert": None,
        "cleared": 4,
    }
    assert json.loads(messages.alert({"id": 4})) == {"type": "alert", "alert": {"id": 4}}
    assert json.loads(messages.PONG) == {"type": "pong"}


class ThreeAtOnce(InboundLimit):
    __slots__ = ()
    rate = 2.0
    burst = 3.0


def test_inbound_limit_allows_a_burst_then_the_rate() -> None:
    """A client may send `burst` messages at once, then `rate` per second."""
    limit = ThreeAtOnce(now=0.0)
    # t=0  three at once are fine, the fourth is not
    assert [limit.allow(0.0) for _ in range(4)] == [True, True, True, False]
    # t=0.5  one token has refilled
    assert limit.allow(0.5) is True
    assert limit.allow(0.5) is False


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        (CloseCode.MISSING_PARAMETERS, Retry.NEVER),
        (CloseCode.INVALID_TOKEN, Retry.NEVER),
        (CloseCode.SCREEN_BOUND, Retry.NEVER),
        (CloseCode.PUSH_DISABLED, Retry.SLOW),
        (CloseCode.TRY_AGAIN_LATER, Retry.BACKOFF),
        (CloseCode.GOING_AWAY, Retry.JITTER),
        (CloseCode.POLICY_VIOLATION, Retry.BACKOFF),
        (CloseCode.MESSAGE_TOO_BIG, Retry.BACKOFF),
        (CloseCode.SLOW_CLIENT, Retry.BACKOFF),
    ],
)
def test_every_close_code_says_whether_to_retry(code: CloseCode, retry: Retry) -> None:
    """Each documented close code carries its retry policy and a reason."""
    assert code.retry is retry
    assert code.reason


def test_alert_acks_name_the_alert_and_what_happened() -> None:
    """An ack of an alert says whether the screen showed it or took it off screen."""
    assert messages.parse('{"type":"ack","alert":7,"state":"shown"}') == messages.AlertAck(
        7, "shown"
    )
    assert messages.parse('{"type":"ack","alert":7,"state":"cleared"}') == messages.AlertAck(
        7, "cleared"
    )
    for bad in ('{"type":"ack","alert":7}', '{"type":"ack","alert":7,"state":"seen"}'):
        with pytest.raises(ProtocolError) as raised:
            messages.parse(bad)
        assert raised.value.code is CloseCode.POLICY_VIOLATION


def test_staff_sockets_may_only_ping() -> None:
    """A dashboard socket may ping; anything a display may send is refused with 1008."""
    assert messages.parse_staff('{"type":"ping"}') == messages.Ping()
    with pytest.raises(ProtocolError) as raised:
        messages.parse_staff('{"type":"heartbeat"}')
    assert raised.value.code is CloseCode.POLICY_VIOLATION


def test_the_buckets_take_their_limits_from_the_contract() -> None:
    """A client's text messages and its control frames are limited by the figures the
    protocol documents (``MESSAGE_*`` and ``CONTROL_*``), each bucket starting full."""
    text, control = InboundLimit(now=0.0), ControlLimit(now=0.0)
    assert sum(text.allow(0.0) for _ in range(50)) == messages.MESSAGE_BURST
    assert sum(control.allow(0.0) for _ in range(50)) == messages.CONTROL_BURST
    assert sum(text.allow(10.0) for _ in range(50)) == min(
        messages.MESSAGE_BURST, 10 * messages.MESSAGE_RATE
    )
    assert sum(control.allow(5.0) for _ in range(50)) == min(
        messages.CONTROL_BURST, 5 * messages.CONTROL_RATE
    )


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_invalidate_is_what_encode_makes_of_it(rev: int) -> None:
    """The invalidation frame, written directly, is byte for byte the compact JSON
    ``encode`` makes of ``{"type": "invalidate", "rev": rev}``."""
    assert messages.invalidate(rev) == messages.encode({"type": "invalidate", "rev": rev})
