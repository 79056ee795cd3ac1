"""What a display may report (heartbeats, acknowledgements), checked to the database's
limits: THE validator of client messages, for every transport.

The display socket (``messages.parse``: a refusal closes the socket with 1008, or
1009 for size) and the HTTP endpoints ``POST /api/display/heartbeat/`` and
``POST /api/display/ack/`` (``hallboard.display.views``: a refusal answers
``400 invalid_body``) both read a message through ``loads`` and the function for
its kind, so they accept and refuse exactly the same input, with the same words.

A value that passes is one the database stores: writes are batched for many
screens at once, and a value the database refuses would cost the whole batch
(``hallboard.realtime.gateway.db`` then writes row by row, but should not have
to). The limits, each refused (never clipped):

- a message is a JSON object of at most ``MAX_MESSAGE_BYTES`` of UTF-8;
- numbers are finite: JSON has no ``NaN`` or ``Infinity``, but Python's ``json``
  reads them (and ``1e999`` as infinity), and no database column takes them;
- integers fit a signed 64-bit column (``bigint``): ``|n| <= 2**63 - 1``;
- no NUL character in any string or key: PostgreSQL's ``text`` and ``jsonb``
  cannot store it;
- nesting is at most ``MAX_DEPTH`` objects or arrays deep (the message itself is
  level 1), which also keeps ``json`` far from its recursion limit;
- ``rev`` is ``0 .. 2**63 - 1``; command and alert ids are ``1 .. 2**63 - 1``;
  ``uptime_s`` is a number ``0 .. 2**63 - 1``; ``mode`` is ``"ws"`` or ``"poll"``;
  ``state`` is ``"shown"`` or ``"cleared"``;
- what a heartbeat stores for the dashboard (``client_info``: ``uptime_s`` and
  ``health``) is at most ``MAX_CLIENT_INFO_BYTES`` as compact JSON (UTF-8, no
  spaces: what ``JSON.stringify`` makes of it in the display's browser).

Pure: no Django, no I/O (``mypy --strict``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

#: The largest message a display may send, on the socket (a frame) or over HTTP (a body).
MAX_MESSAGE_BYTES: Final = 4096
#: What a heartbeat stores as the screen's ``client_info`` (uptime and health), as JSON.
MAX_CLIENT_INFO_BYTES: Final = 2048
#: Objects and arrays nested deeper than this are refused (the message is level 1).
MAX_DEPTH: Final = 6
#: A signed 64-bit integer column (PostgreSQL ``bigint``, SQLite ``INTEGER``).
MAX_DB_INT: Final = 2**63 - 1
MIN_DB_INT: Final = -(2**63)
#: What the screen says it uses: push (``ws``) or polling (``poll``); ``Screen.Mode``'s values.
MODES: Final = ("ws", "poll")
AckState = Literal["shown", "cleared"]
#: An alert acknowledgement says the alert is on screen, or has left it.
ACK_STATES: Final[tuple[AckState, ...]] = ("shown", "cleared")


class InvalidMessage(ValueError):
    """A client message that is refused; ``detail`` says why (for the client and the log).

    ``too_big``: refused for its size (the socket closes with 1009 instead of 1008).
    """

    def __init__(self, detail: str, *, too_big: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.too_big = too_big


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Heartbeat:
    rev: int | None
    mode: str | None
    uptime_s: float | None
    health: dict[str, Any]

    @property
    def client_info(self) -> dict[str, Any]:
        """What is stored on the screen for the dashboard (checked against its size limit)."""
        return {"uptime_s": self.uptime_s, "health": self.health}


@dataclass(frozen=True, slots=True)
class Ack:
    """The display ran command ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class AlertAck:
    """The display shows alert ``alert`` (``shown``) or took it off screen (``cleared``)."""

    alert: int
    state: AckState


ClientMessage = Ping | Heartbeat | Ack | AlertAck


def _no_constant(name: str) -> Any:
    # json calls this for NaN, Infinity and -Infinity, which are not JSON.
    raise InvalidMessage(f"{name} is not a number JSON allows; send finite numbers only")


def loads(data: str | bytes) -> dict[str, Any]:
    """Decode one message: a JSON object within every limit above, or ``InvalidMessage``."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"the message is over {MAX_MESSAGE_BYTES} bytes", too_big=True)
    try:
        text = raw.decode("utf-8") if isinstance(data, bytes) else data
        decoded = json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InvalidMessage("the message is not UTF-8") from None
    except RecursionError:
        raise InvalidMessage(f"the message is nested over {MAX_DEPTH} levels deep") from None
    except InvalidMessage:
        raise
    except ValueError:
        raise InvalidMessage("the message is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise InvalidMessage("a message is a JSON object")
    _check(decoded, 1)
    return decoded


def _check(value: Any, depth: int) -> None:
    """Refuse what no column stores: NUL, non-finite numbers, huge integers, deep nesting."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidMessage("strings may not contain the NUL character")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not MIN_DB_INT <= value <= MAX_DB_INT:
            raise InvalidMessage("integers must fit in 64 bits (|n| < 2**63)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidMessage("numbers must be finite")
    else:  # an object or an array: json.loads makes nothing else
        if depth > MAX_DEPTH:
            raise InvalidMessage(f"the message is nested over {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                _check(key, depth)
                _check(item, depth + 1)
        else:
            for item in value:
                _check(item, depth + 1)


def _int(data: Mapping[str, Any], name: str, lowest: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= MAX_DB_INT:
        raise InvalidMessage(f"{name} must be an integer from {lowest} to 2**63-1")
    return value


def heartbeat(data: Mapping[str, Any]) -> Heartbeat:
    """A heartbeat's fields (all optional): ``rev``, ``mode``, ``uptime_s``, ``health``."""
    rev = _int(data, "rev", 0)
    mode = data.get("mode")
    if mode is not None and mode not in MODES:
        raise InvalidMessage('mode must be "ws" or "poll"')
    uptime = data.get("uptime_s")
    if uptime is not None and (
        not isinstance(uptime, int | float)
        or isinstance(uptime, bool)
        or not 0 <= uptime <= MAX_DB_INT
        or not math.isfinite(uptime)
    ):
        raise InvalidMessage("uptime_s must be a number of seconds from 0 to 2**63-1")
    health = data.get("health", {})
    if not isinstance(health, dict):
        raise InvalidMessage("health must be a JSON object of client figures")
    beat = Heartbeat(rev, mode, uptime, health)
    size = len(json.dumps(beat.client_info, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_CLIENT_INFO_BYTES:
        raise InvalidMessage(
            f"uptime_s and health are over {MAX_CLIENT_INFO_BYTES} bytes as JSON", too_big=True
        )
    return beat


def alert_ack(data: Mapping[str, Any]) -> AlertAck:
    """``{"alert": <id>, "state": "shown" | "cleared"}``."""
    alert = _int(data, "alert", 1)
    if alert is None:
        raise InvalidMessage("alert must be the id of the alert (an integer from 1)")
    state = data.get("state")
    if state == "shown" or state == "cleared":
        return AlertAck(alert, state)
    raise InvalidMessage('state must be "shown" or "cleared"')


def command_ack(data: Mapping[str, Any]) -> Ack:
    """``{"id": <command id>}``."""
    command = _int(data, "id", 1)
    if command is None:
        raise InvalidMessage("ack needs an id (of a command) or an alert")
    return Ack(command)


def client_message(data: Mapping[str, Any]) -> ClientMessage:
    """A socket message by its ``type``: ``ping``, ``heartbeat`` or ``ack``; nothing else."""
    kind = data.get("type")
    if kind == "ping":
        return Ping()
    if kind == "heartbeat":
        return heartbeat(data)
    if kind == "ack":
        return alert_ack(data) if data.get("alert") is not None else command_ack(data)
    shown = kind if isinstance(kind, str | None) else type(kind).__name__
    raise InvalidMessage(f"message type {str(shown)[:32]!r} is not allowed")
