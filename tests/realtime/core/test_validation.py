"""The one validator of client messages: the database's limits, for socket and HTTP alike."""

from __future__ import annotations

import pytest

from hallboard.realtime.core import validation
from hallboard.realtime.core.validation import (
    MAX_DB_INT,
    Ack,
    AlertAck,
    Heartbeat,
    InvalidMessage,
    Ping,
)


def test_messages_within_the_limits_pass() -> None:
    """The largest values a column takes pass; what a display sends passes."""
    beat = validation.heartbeat(
        validation.loads(
            '{"rev": 9223372036854775807, "mode": "poll", "uptime_s": 0.5,'
            ' "health": {"js_heap_mb": 12, "viewport": "1920x1080", "online": true,'
            ' "nested": {"a": [1, {"b": null}]}}}'
        )
    )
    assert beat.rev == MAX_DB_INT
    assert beat.client_info["uptime_s"] == 0.5
    assert validation.client_message({"type": "ping"}) == Ping()
    assert validation.client_message({"type": "ack", "id": 1}) == Ack(1)
    assert validation.client_message(
        {"type": "ack", "alert": MAX_DB_INT, "state": "cleared"}
    ) == AlertAck(MAX_DB_INT, "cleared")
    assert validation.heartbeat({}) == Heartbeat(None, None, None, {})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"x": NaN}', "NaN"),
        ('{"x": Infinity}', "Infinity"),
        ('{"x": -Infinity}', "Infinity"),
        ('{"x": 1e999}', "finite"),
        ('{"x": 9223372036854775808}', "64 bits"),
        ('{"x": -9223372036854775809}', "64 bits"),
        ('{"x": "\\u0000"}', "NUL"),
        ('{"\\u0000": 1}', "NUL"),
        ('{"x": ["a", "b\\u0000"]}', "NUL"),
        ("[" * 2000 + "]" * 2000, "nested"),
        ('{"a": [[[[[[1]]]]]]}', "nested"),
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('"text"', "JSON object"),
    ],
)
def test_what_no_column_stores_is_refused_anywhere_in_a_message(text: str, fragment: str) -> None:
    """NaN, infinities, integers over 64 bits, NUL, deep nesting: refused wherever they are."""
    with pytest.raises(InvalidMessage) as raised:
        validation.loads(text)
    assert fragment in raised.value.detail
    assert not raised.value.too_big


def test_size_is_checked_in_bytes_before_decoding() -> None:
    """Over 4 KiB of UTF-8 (here 2,100 two-byte characters) is too big."""
    with pytest.raises(InvalidMessage) as raised:
        validation.loads('{"x": "' + "é" * 2100 + '"}')
    assert raised.value.too_big
    with pytest.raises(InvalidMessage):
        validation.loads(b"\xff\xfe{}")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"rev": -1}, "rev"),
        ({"rev": 2**63}, "rev"),
        ({"rev": True}, "rev"),
        ({"rev": 1.5}, "rev"),
        ({"mode": "pigeon"}, "mode"),
        ({"uptime_s": -1}, "uptime_s"),
        ({"uptime_s": float("nan")}, "uptime_s"),
        ({"uptime_s": float("inf")}, "uptime_s"),
        ({"uptime_s": 2.0**64}, "uptime_s"),
        ({"health": []}, "health"),
    ],
)
def test_heartbeat_fields_are_checked(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidMessage) as raised:
        validation.heartbeat(data)
    assert fragment in raised.value.detail


def test_client_info_is_capped_at_2_kib() -> None:
    """What a heartbeat stores for the dashboard is at most 2 KiB of JSON."""
    validation.heartbeat({"health": {"pad": "x" * 1900}})
    with pytest.raises(InvalidMessage) as raised:
        validation.heartbeat({"health": {"pad": "x" * 2100}})
    assert raised.value.too_big


@pytest.mark.parametrize(
    "data",
    [
        {"type": "ack", "id": 0},
        {"type": "ack", "id": 2**63},
        {"type": "ack", "alert": 0, "state": "shown"},
        {"type": "ack", "alert": -3, "state": "shown"},
        {"type": "ack", "alert": 1, "state": "seen"},
        {"type": "ack"},
        {"type": "subscribe"},
        {"type": ["x"] * 3},
    ],
)
def test_acks_name_ids_from_1_and_nothing_else_is_allowed(data: dict[str, object]) -> None:
    with pytest.raises(InvalidMessage):
        validation.client_message(data)


def test_an_alert_ack_without_an_alert_is_refused() -> None:
    """Over HTTP an ack body must name its alert: no alert (or null) is refused."""
    for body in ({"state": "shown"}, {"alert": None, "state": "shown"}):
        with pytest.raises(validation.InvalidMessage, match="alert must be the id"):
            validation.alert_ack(body)
