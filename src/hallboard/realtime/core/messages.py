"""Messages on the display socket: server frames out, client messages in.

Server → display (compact JSON, encoded once per publish and shared by every
connection it goes to):

- ``{"type": "hello", "rev": N, "screen": id, "heartbeat_s": 30, "alert": {...} | null}``
  on accept (the alert the screen must show, if any)
- ``{"type": "invalidate", "rev": N}`` the school's content changed; fetch if newer
- ``{"type": "alert", "alert": {...} | null[, "cleared": id]}`` the alert the screen
  must show now changed (an alert started, was updated or ended)
- ``{"type": "command", "id": N, "name": "reload" | "identify" | "message", ...}``
- ``{"type": "pong"}`` the answer to a ping

Display → server: only ``ping``, ``heartbeat`` and ``ack`` (of a command, or of
an alert shown or cleared). Staff (dashboard) sockets may only ``ping``.
Anything else, malformed JSON, a non-object, or a frame over ``MAX_FRAME_BYTES``
is a ``ProtocolError`` carrying the close code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hallboard.realtime.core.close_codes import CloseCode

MAX_FRAME_BYTES = 4096
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode(message: dict[str, Any]) -> str:
    """One frame's text: compact JSON."""
    return _dumps(message)


def hello(rev: int, screen_id: int, heartbeat_s: int, alert: dict[str, Any] | None = None) -> str:
    return encode(
        {
            "type": "hello",
            "rev": rev,
            "screen": screen_id,
            "heartbeat_s": heartbeat_s,
            "alert": alert,
        }
    )


def alert(payload: dict[str, Any] | None, cleared: int | None = None) -> str:
    """The alert a school's screens must show now; ``cleared``: the one that just ended."""
    message: dict[str, Any] = {"type": "alert", "alert": payload}
    if cleared is not None:
        message["cleared"] = cleared
    return encode(message)


def invalidate(rev: int) -> str:
    return encode({"type": "invalidate", "rev": rev})


PONG = encode({"type": "pong"})


class ProtocolError(Exception):
    """A client message that closes the connection with ``code``."""

    def __init__(self, code: CloseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Heartbeat:
    rev: int | None
    mode: str | None
    uptime_s: float | None
    health: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ack:
    """The display ran command ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class AlertAck:
    """The display shows alert ``alert`` (``shown``) or took it off screen (``cleared``)."""

    alert: int
    state: str


ClientMessage = Ping | Heartbeat | Ack | AlertAck


def _non_negative_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(CloseCode.POLICY_VIOLATION, f"{name} must be a non-negative integer")
    return value


def parse(frame: str | bytes) -> ClientMessage:
    """Parse one client frame, or raise ``ProtocolError`` with the close code to use."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"frame over {MAX_FRAME_BYTES} bytes")
    if isinstance(frame, bytes):
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "binary frames are not accepted")
    try:
        data = json.loads(frame)
    except ValueError:
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "malformed JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "a message is a JSON object")
    kind = data.get("type")
    if kind == "ping":
        return Ping()
    if kind == "heartbeat":
        mode = data.get("mode")
        if mode is not None and mode not in ("ws", "poll"):
            raise ProtocolError(CloseCode.POLICY_VIOLATION, 'mode must be "ws" or "poll"')
        uptime = data.get("uptime_s")
        if uptime is not None and (
            not isinstance(uptime, int | float) or isinstance(uptime, bool) or uptime < 0
        ):
            raise ProtocolError(CloseCode.POLICY_VIOLATION, "uptime_s must be a number >= 0")
        health = data.get("health", {})
        if not isinstance(health, dict):
            raise ProtocolError(CloseCode.POLICY_VIOLATION, "health must be an object")
        return Heartbeat(_non_negative_int(data.get("rev"), "rev"), mode, uptime, health)
    if kind == "ack":
        alert_id = _non_negative_int(data.get("alert"), "alert")
        if alert_id is not None:
            state = data.get("state")
            if state not in ("shown", "cleared"):
                raise ProtocolError(
                    CloseCode.POLICY_VIOLATION, 'state must be "shown" or "cleared"'
                )
            return AlertAck(alert_id, state)
        ack_id = _non_negative_int(data.get("id"), "id")
        if ack_id is None:
            raise ProtocolError(CloseCode.POLICY_VIOLATION, "ack needs an id or an alert")
        return Ack(ack_id)
    raise ProtocolError(CloseCode.POLICY_VIOLATION, f"message type {kind!r} is not allowed")


def parse_staff(frame: str | bytes) -> Ping:
    """Parse one frame from a staff (dashboard) socket: only ``ping`` is allowed."""
    message = parse(frame)
    if not isinstance(message, Ping):
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "staff sockets may only ping")
    return message


class InboundLimit:
    """Token bucket for client messages: ``burst`` at once, ``rate`` per second after.

    A display sends a heartbeat every 30 s and the odd ping; a client over the
    limit is misbehaving and is closed with 1008.
    """

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, now: float, rate: float = 2.0, burst: float = 10.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
