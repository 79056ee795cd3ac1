"""Broker events: THE vocabulary between publishers and gateways, typed.

Every publisher (the web side through ``hallboard.realtime.publish``, the
gateway's staff frames) builds one of these frozen dataclasses and sends
``encode(ts)``; every gateway turns what a broker hands it back into one with
``parse``, and the node (``core.node``) dispatches on the class. Nothing else
reads or writes the wire format.

On the wire an event is compact JSON with its kind in ``"e"`` and the
publisher's ``time.time()`` in ``"ts"`` (gateways measure push latency from it):

- ``invalidate``: ``school``, ``rev`` → ``school:<id>``
- ``alert``: ``school``, ``alert`` (object or null: what the school's screens must
  show now), ``cleared`` (the id of the alert that just ended, or null) → ``school:<id>``
- ``command``: ``screen``, ``id``, ``name``, ``payload`` (object) → ``screen:<id>``
- ``close``: ``screen``, ``code`` (a ``CloseCode``: token rotated, ...) → ``screen:<id>``
- ``flags``: no fields; push flags changed, every gateway re-checks → ``control``
- ``frames``: ``frames`` (objects), written to staff sockets as they are →
  ``dash:<school>`` or ``user:<id>``

``parse`` never lets bad input through and never raises anything but
``EventError`` (``unknown`` kind, or ``malformed``: not JSON, not an object,
a field missing or of the wrong type); the gateway counts it by reason
(``hallboard_gateway_events_ignored_total``), logs one line and goes on.
The old single staff frame (``"e": "frame"``, published before staff frames
took one path) is still read, as ``StaffFrames`` of one frame, so a rolling
upgrade loses nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from hallboard.realtime.core import topics
from hallboard.realtime.core.close_codes import CloseCode

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


#: Why ``parse`` refused an event (the metric's label).
REASONS = ("unknown", "malformed")


class EventError(Exception):
    """An event the node cannot act on; ``reason`` is ``"unknown"`` or ``"malformed"``."""

    def __init__(self, reason: str, kind: str, detail: str) -> None:
        super().__init__(f"{reason} event {kind!r}: {detail}")
        self.reason = reason
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Invalidate:
    """A school's content changed: it is now at revision ``rev``."""

    kind: ClassVar[str] = "invalidate"
    school: int
    rev: int

    @property
    def topic(self) -> str:
        return topics.school(self.school)

    def fields(self) -> dict[str, Any]:
        return {"school": self.school, "rev": self.rev}


@dataclass(frozen=True, slots=True)
class AlertChanged:
    """What a school's screens must show now (``alert``), and the alert that just ended."""

    kind: ClassVar[str] = "alert"
    school: int
    alert: dict[str, Any] | None
    cleared: int | None = None

    @property
    def topic(self) -> str:
        return topics.school(self.school)

    def fields(self) -> dict[str, Any]:
        return {"school": self.school, "alert": self.alert, "cleared": self.cleared}


@dataclass(frozen=True, slots=True)
class Command:
    """A command for one screen (reload, identify, message)."""

    kind: ClassVar[str] = "command"
    screen: int
    id: int
    name: str
    payload: dict[str, Any]

    @property
    def topic(self) -> str:
        return topics.screen(self.screen)

    def fields(self) -> dict[str, Any]:
        return {"screen": self.screen, "id": self.id, "name": self.name, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class CloseScreen:
    """Close one screen's sockets with ``code`` (its token was rotated or revoked, ...)."""

    kind: ClassVar[str] = "close"
    screen: int
    code: CloseCode

    @property
    def topic(self) -> str:
        return topics.screen(self.screen)

    def fields(self) -> dict[str, Any]:
        return {"screen": self.screen, "code": int(self.code)}


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    """Push flags changed somewhere: every gateway re-checks its screens (4409)."""

    kind: ClassVar[str] = "flags"

    @property
    def topic(self) -> str:
        return topics.CONTROL

    def fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class StaffFrames:
    """Frames for the staff sockets listening to ``topic`` (a school's dashboards or one
    user's), written to them as they are. The one path of every staff frame, whoever
    publishes it (the web side, the gateway)."""

    kind: ClassVar[str] = "frames"
    topic: str
    frames: tuple[dict[str, Any], ...]

    @classmethod
    def dashboard(cls, school_id: int, *frames: dict[str, Any]) -> StaffFrames:
        return cls(topics.dashboard(school_id), frames)

    @classmethod
    def user(cls, user_id: int, *frames: dict[str, Any]) -> StaffFrames:
        return cls(topics.user(user_id), frames)

    def fields(self) -> dict[str, Any]:
        return {"frames": list(self.frames)}


Event = Invalidate | AlertChanged | Command | CloseScreen | FlagsChanged | StaffFrames

#: Every kind on the wire.
KINDS: tuple[str, ...] = tuple(
    c.kind for c in (Invalidate, AlertChanged, Command, CloseScreen, FlagsChanged, StaffFrames)
)


def encode(event: Event, ts: float) -> bytes:
    """The event on the wire, stamped with the publisher's ``time.time()``."""
    if type(event) is Invalidate and type(ts) is float and math.isfinite(ts):
        # The most frequent event (one per school of an edit), written directly: what
        # the JSON encoder makes of it (a test holds the two equal).
        return b'{"e":"invalidate","school":%d,"rev":%d,"ts":%r}' % (event.school, event.rev, ts)
    return _dumps({"e": event.kind, **event.fields(), "ts": ts}).encode()


class Received(NamedTuple):
    """A parsed event and when it was published (``ts``, None if it carried none)."""

    event: Event
    ts: float | None


def parse(topic: str, data: bytes | str) -> Received:
    """The event in ``data`` received on ``topic``, or ``EventError``."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise EventError("malformed", "?", "not JSON") from None
    if not isinstance(doc, dict):
        raise EventError("malformed", "?", "not an object")
    kind = doc.get("e")
    if not isinstance(kind, str):
        raise EventError("malformed", "?", "no kind")
    reader = _READERS.get(kind)
    if reader is None:
        raise EventError("unknown", kind[:16], "no such kind")
    try:
        event = reader(topic, doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError("malformed", kind, f"{type(exc).__name__}: {exc}"[:200]) from None
    ts = doc.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        ts = None
    return Received(event, None if ts is None else float(ts))


def _id(doc: dict[str, Any], key: str) -> int:
    value = doc[key]
    if type(value) is not int or value < 0:  # not a bool either
        raise ValueError(f"{key} is not an id")
    return value


def _object(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{key} is not an object")
    return value


def _invalidate(topic: str, doc: dict[str, Any]) -> Invalidate:
    return Invalidate(_id(doc, "school"), _id(doc, "rev"))


def _alert(topic: str, doc: dict[str, Any]) -> AlertChanged:
    alert = doc.get("alert")
    cleared = doc.get("cleared")
    return AlertChanged(
        _id(doc, "school"),
        None if alert is None else _object(alert, "alert"),
        None if cleared is None else _id(doc, "cleared"),
    )


def _command(topic: str, doc: dict[str, Any]) -> Command:
    name = doc["name"]
    if not isinstance(name, str):
        raise TypeError("name is not a string")
    return Command(_id(doc, "screen"), _id(doc, "id"), name, _object(doc["payload"], "payload"))


def _close(topic: str, doc: dict[str, Any]) -> CloseScreen:
    return CloseScreen(_id(doc, "screen"), CloseCode(_id(doc, "code")))


def _flags(topic: str, doc: dict[str, Any]) -> FlagsChanged:
    return FlagsChanged()


def _frames(topic: str, doc: dict[str, Any]) -> StaffFrames:
    frames = doc["frames"]
    if not isinstance(frames, list):
        raise TypeError("frames is not a list")
    return StaffFrames(topic, tuple(_object(f, "frame") for f in frames))


def _frame(topic: str, doc: dict[str, Any]) -> StaffFrames:
    return StaffFrames(topic, (_object(doc["frame"], "frame"),))


_READERS: dict[str, Callable[[str, dict[str, Any]], Event]] = {
    Invalidate.kind: _invalidate,
    AlertChanged.kind: _alert,
    Command.kind: _command,
    CloseScreen.kind: _close,
    FlagsChanged.kind: _flags,
    StaffFrames.kind: _frames,
    "frame": _frame,  # before staff frames took one path (rolling upgrades)
}
