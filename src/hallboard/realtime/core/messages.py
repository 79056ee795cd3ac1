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
Anything else, malformed JSON, a non-object, a value outside the database's
limits (``validation``, shared with the HTTP endpoints) or a frame over
``MAX_FRAME_BYTES`` is a ``ProtocolError`` carrying the close code.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from hallboard.realtime.core import validation
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.validation import (
    Ack,
    AlertAck,
    ClientMessage,
    Heartbeat,
    Ping,
)

__all__ = ["Ack", "AlertAck", "ClientMessage", "Heartbeat", "Ping"]

#: The largest frame (and message: fragments together) a client may send.
MAX_FRAME_BYTES = validation.MAX_MESSAGE_BYTES
#: Control frames (ping, pong) a client may send: a burst, then a rate per second. Browsers
#: send none (they only answer the server's pings); libraries ping every 20 s or so.
CONTROL_BURST = 10.0
CONTROL_RATE = 1.0
#: Text messages a client may send: a burst, then a rate per second (a display sends a
#: heartbeat every 30 s and answers the odd command).
MESSAGE_BURST = 10.0
MESSAGE_RATE = 2.0
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


def command(command_id: int, name: str, payload: dict[str, Any] | None = None) -> str:
    """A command for a display: its payload's fields beside ``id`` and ``name`` (the page
    reads ``seconds`` and ``text`` there), whether pushed or sent after ``hello``."""
    return encode({"type": "command", "id": command_id, "name": name, **(payload or {})})


def invalidate(rev: int) -> str:
    """``{"type":"invalidate","rev":<rev>}``: what ``encode`` makes of it, written directly
    (the most frequent frame of all; a test holds the two equal)."""
    return f'{{"type":"invalidate","rev":{rev:d}}}'


PONG = encode({"type": "pong"})


class ProtocolError(Exception):
    """A client message that closes the connection with ``code``."""

    def __init__(self, code: CloseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse(frame: str | bytes) -> ClientMessage:
    """Parse one client frame, or raise ``ProtocolError`` with the close code to use.

    The checks are ``validation``'s, the same as the HTTP endpoints': a message
    that is too big closes with 1009, anything else refused with 1008.
    """
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(CloseCode.MESSAGE_TOO_BIG, f"frame over {MAX_FRAME_BYTES} bytes")
    if isinstance(frame, bytes):
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "binary frames are not accepted")
    try:
        return validation.client_message(validation.loads(frame))
    except validation.InvalidMessage as exc:
        code = CloseCode.MESSAGE_TOO_BIG if exc.too_big else CloseCode.POLICY_VIOLATION
        raise ProtocolError(code, exc.detail) from None


def parse_staff(frame: str | bytes) -> Ping:
    """Parse one frame from a staff (dashboard) socket: only ``ping`` is allowed."""
    message = parse(frame)
    if not isinstance(message, Ping):
        raise ProtocolError(CloseCode.POLICY_VIOLATION, "staff sockets may only ping")
    return message


class InboundLimit:
    """Token bucket for client messages: ``burst`` at once, ``rate`` per second after.

    A display sends a heartbeat every 30 s and the odd ping; a client over the
    limit is misbehaving and is closed with 1008. Rate and burst belong to the
    class (``ControlLimit`` for control frames), so a bucket is two numbers; the
    node's ``Peer`` is one (a connection's state and its bucket in one object).
    """

    __slots__ = ("tokens", "updated")

    rate: ClassVar[float] = MESSAGE_RATE
    burst: ClassVar[float] = MESSAGE_BURST

    def __init__(self, now: float) -> None:
        self.tokens = self.burst
        self.updated = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ControlLimit(InboundLimit):
    """Control frames (ping, pong) a peer may send, counted before authentication too."""

    __slots__ = ()

    rate = CONTROL_RATE
    burst = CONTROL_BURST
