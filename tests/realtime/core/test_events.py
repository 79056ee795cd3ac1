"""Broker events: one typed vocabulary, encoded and parsed in one place, bad input refused."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallboard.realtime.core import events
from hallboard.realtime.core.close_codes import CloseCode

EVERY_KIND: list[events.Event] = [
    events.Invalidate(school=3, rev=41),
    events.AlertChanged(school=3, alert={"id": 7, "title": "Fire drill"}, cleared=None),
    events.AlertChanged(school=3, alert=None, cleared=7),
    events.Command(screen=9, id=12, name="message", payload={"text": "Hallo", "seconds": 30}),
    events.CloseScreen(screen=9, code=CloseCode.INVALID_TOKEN),
    events.FlagsChanged(),
    events.StaffFrames.dashboard(3, {"type": "screen", "screen": 9, "event": "connected"}),
    events.StaffFrames.user(5, {"type": "command", "id": 12}, {"type": "command", "id": 13}),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_survives_the_wire(event: events.Event) -> None:
    """What a publisher encodes, a gateway parses back to the same event and stamp."""
    received = events.parse(event.topic, events.encode(event, 1_700_000_000.5))
    assert received == events.Received(event, 1_700_000_000.5)


def test_events_go_on_the_topic_of_what_they_are_about() -> None:
    """Each event names its own topic: school, screen, control, dashboard or user."""
    assert [e.topic for e in EVERY_KIND] == [
        "school:3",
        "school:3",
        "school:3",
        "screen:9",
        "screen:9",
        "control",
        "dash:3",
        "user:5",
    ]
    assert set(events.KINDS) == {"invalidate", "alert", "command", "close", "flags", "frames"}


def test_the_wire_format_is_the_documented_one() -> None:
    """Compact JSON with the kind in "e" and the stamp in "ts" (what older gateways read)."""
    data = events.encode(events.Invalidate(3, 41), 12.0)
    assert data == b'{"e":"invalidate","school":3,"rev":41,"ts":12.0}'
    frames = events.encode(events.StaffFrames.dashboard(3, {"type": "revision"}), 1)
    assert json.loads(frames) == {"e": "frames", "frames": [{"type": "revision"}], "ts": 1}


def test_the_old_single_staff_frame_is_still_read() -> None:
    """A frame published as {"e": "frame"} (before one path) arrives as StaffFrames of one."""
    received = events.parse("dash:3", b'{"e":"frame","frame":{"type":"revision"},"ts":2}')
    assert received.event == events.StaffFrames("dash:3", ({"type": "revision"},))


def test_an_event_without_a_stamp_is_read_without_one() -> None:
    """ "ts" is optional on input (and a boolean is not a time): latency is then not measured."""
    assert events.parse("control", b'{"e":"flags"}').ts is None
    assert events.parse("control", b'{"e":"flags","ts":true}').ts is None


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b'{"school": 3}',
        b'{"e": 7}',
        b"[" * 100_000,
    ],
)
def test_what_is_no_event_is_malformed(data: bytes) -> None:
    """Not JSON, not an object, or no kind: refused as malformed, never another exception."""
    with pytest.raises(events.EventError) as caught:
        events.parse("school:3", data)
    assert caught.value.reason == "malformed"


def test_an_unknown_kind_is_refused_as_unknown() -> None:
    """A kind this version does not know (a newer publisher) is refused as unknown."""
    with pytest.raises(events.EventError) as caught:
        events.parse("school:3", b'{"e": "teleport", "school": 3}')
    assert (caught.value.reason, caught.value.kind) == ("unknown", "teleport")


@pytest.mark.parametrize(
    "doc",
    [
        {"e": "invalidate", "school": 3},
        {"e": "invalidate", "school": "3", "rev": 1},
        {"e": "invalidate", "school": 3, "rev": True},
        {"e": "invalidate", "school": 3, "rev": -1},
        {"e": "alert", "school": 3, "alert": "fire"},
        {"e": "alert", "school": 3, "alert": None, "cleared": "7"},
        {"e": "command", "screen": 9, "id": 1, "name": 5, "payload": {}},
        {"e": "command", "screen": 9, "id": 1, "name": "reload", "payload": []},
        {"e": "command", "screen": 9, "id": 1, "name": "reload"},
        {"e": "close", "screen": 9, "code": 1234},
        {"e": "frames", "frames": {"type": "x"}},
        {"e": "frames", "frames": [1]},
        {"e": "frame", "frame": "x"},
    ],
    ids=repr,
)
def test_a_known_kind_with_bad_fields_is_malformed(doc: dict[str, object]) -> None:
    """A field missing or of the wrong type (or a close code that does not exist) is refused
    as malformed, with the kind named."""
    with pytest.raises(events.EventError) as caught:
        events.parse("school:3", json.dumps(doc))
    assert caught.value.reason == "malformed"
    assert caught.value.kind == doc["e"]


@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 2**40),
)
def test_an_invalidation_on_the_wire_is_what_the_json_encoder_makes(
    school: int, rev: int, ts: float
) -> None:
    """An invalidation, written directly, is byte for byte the compact JSON of its fields
    (any time stamp; those JSON cannot hold exactly go through the encoder), and reads back."""
    import json

    event = events.Invalidate(school, rev)
    data = events.encode(event, ts)
    expected = json.dumps(
        {"e": "invalidate", "school": school, "rev": rev, "ts": ts},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert data == expected
    if math.isfinite(ts):
        assert events.parse(event.topic, data).event == event
