"""WebSocket close codes of the display protocol and their retry policy: THE reference.

Each code says what the display should do next (``retry``):

- ``Retry.NEVER``: do not reconnect with these credentials; keep polling where
  polling still works. The codes whose HTTP twin stops the screen (``halt``:
  4401 like ``401``, 4403 like ``403``) show that on screen, as the polling
  answer would; 4400 (the page built a URL without token or device key, or
  with a malformed key) stops push until the credentials change, and polling
  reports the problem (``400``).
- ``Retry.BACKOFF``: reconnect with exponential backoff and full jitter
  (``BACKOFF_SECONDS``: the n-th attempt waits a random time between the
  lower bound and ``min(upper, lower * 2**n)``).
- ``Retry.JITTER``: the server is going away on purpose; reconnect after a
  short random delay (``JITTER_SECONDS``), then back off as usual.
- ``Retry.SLOW``: push is off for this screen; keep polling and try push again
  rarely (a random time within ``SLOW_SECONDS``).

Any other code (1006 when the network drops, an unknown one) means ``Retry.BACKOFF``.

Nothing here is copied elsewhere: the display page reads ``policy()`` from its
snapshot (``meta.close_codes``), the load generator imports this module, and
docs/protocol.md's table is ``markdown_table()`` (``tools/protocol_docs.py``;
a test fails when they disagree).

Pure: no Django, no I/O (``mypy --strict``).
"""

from __future__ import annotations

import enum
from typing import Any, Final


class Retry(enum.Enum):
    NEVER = "never"
    BACKOFF = "backoff"
    JITTER = "jitter"
    SLOW = "slow"


#: Reconnect delays in seconds, (lowest, highest), for each kind of retry.
BACKOFF_SECONDS: Final = (1.0, 60.0)
JITTER_SECONDS: Final = (0.5, 5.0)
SLOW_SECONDS: Final = (150.0, 450.0)
#: What a display does on a code it does not know (or 1006: the connection dropped).
DEFAULT_RETRY: Final = Retry.BACKOFF


class CloseCode(enum.IntEnum):
    """Why the server closed a display's socket."""

    #: The server is shutting down or restarting (drained in batches, with jitter).
    GOING_AWAY = 1001
    #: Policy violation: a message that is not allowed, malformed JSON, or too many messages.
    POLICY_VIOLATION = 1008
    #: A message over the size limit (4 KiB).
    MESSAGE_TOO_BIG = 1009
    #: The process holds its maximum number of connections (WS_MAX_CONNECTIONS).
    TRY_AGAIN_LATER = 1013
    #: Token or device key missing from the URL, or the device key malformed.
    MISSING_PARAMETERS = 4400
    #: Unknown, rotated or revoked token.
    INVALID_TOKEN = 4401
    #: The screen is bound to another device.
    SCREEN_BOUND = 4403
    #: The client could not keep up: its send buffer stayed full too long.
    SLOW_CLIENT = 4408
    #: Push is disabled for this screen (flags); poll only.
    PUSH_DISABLED = 4409

    @property
    def retry(self) -> Retry:
        return _RETRY[self]

    @property
    def reason(self) -> str:
        return _REASON[self]

    @property
    def halt(self) -> str | None:
        """The screen state the display shows (as for the HTTP twin of the code), if any."""
        return _HALT.get(self)

    @property
    def meaning(self) -> str:
        """When the server sends it (docs/protocol.md's table)."""
        return _MEANING[self]


_RETRY: Final[dict[CloseCode, Retry]] = {
    CloseCode.GOING_AWAY: Retry.JITTER,
    CloseCode.POLICY_VIOLATION: Retry.BACKOFF,
    CloseCode.MESSAGE_TOO_BIG: Retry.BACKOFF,
    CloseCode.TRY_AGAIN_LATER: Retry.BACKOFF,
    CloseCode.MISSING_PARAMETERS: Retry.NEVER,
    CloseCode.INVALID_TOKEN: Retry.NEVER,
    CloseCode.SCREEN_BOUND: Retry.NEVER,
    CloseCode.SLOW_CLIENT: Retry.BACKOFF,
    CloseCode.PUSH_DISABLED: Retry.SLOW,
}

#: The page's screen states for a refusal, the same as for ``401`` and ``403`` over HTTP.
_HALT: Final[dict[CloseCode, str]] = {
    CloseCode.INVALID_TOKEN: "unpaired",
    CloseCode.SCREEN_BOUND: "bound",
}

_REASON: Final[dict[CloseCode, str]] = {
    CloseCode.GOING_AWAY: "server going away",
    CloseCode.POLICY_VIOLATION: "policy violation",
    CloseCode.MESSAGE_TOO_BIG: "message too big",
    CloseCode.TRY_AGAIN_LATER: "server at capacity",
    CloseCode.MISSING_PARAMETERS: "missing token or device key",
    CloseCode.INVALID_TOKEN: "invalid or revoked token",
    CloseCode.SCREEN_BOUND: "screen bound to another device",
    CloseCode.SLOW_CLIENT: "slow client",
    CloseCode.PUSH_DISABLED: "push disabled for this screen",
}

_MEANING: Final[dict[CloseCode, str]] = {
    CloseCode.GOING_AWAY: "server going away (restart, drained in batches with jitter)",
    CloseCode.POLICY_VIOLATION: (
        "policy violation: a message type that is not allowed, malformed JSON, a value outside"
        " the database's limits (the validator shared with the HTTP endpoints), binary frame,"
        " too many messages or control frames"
    ),
    CloseCode.MESSAGE_TOO_BIG: (
        "message over 4 KiB (all its fragments together), or a heartbeat's `uptime_s` and"
        " `health` over 2 KiB"
    ),
    CloseCode.TRY_AGAIN_LATER: (
        "gateway at capacity (`WS_MAX_CONNECTIONS`), database unavailable, the database"
        " refused this socket's rows, or this address presented too many wrong tokens"
        ' (`AUTH_FAILURE_RATE`, reason "too many failed attempts; try again later")'
    ),
    CloseCode.MISSING_PARAMETERS: "token or device key missing, or the device key malformed",
    CloseCode.INVALID_TOKEN: (
        "unknown, rotated or revoked token, or one no screen can have (not visible ASCII,"
        " over 256 characters)"
    ),
    CloseCode.SCREEN_BOUND: "screen bound to another device",
    CloseCode.SLOW_CLIENT: "slow client: its send buffer stayed full too long",
    CloseCode.PUSH_DISABLED: "push disabled for this screen (push flags)",
}

_HALT_WORDS: Final[dict[str, str]] = {
    "unpaired": "show the screen as not paired (as for `401`)",
    "bound": "show the screen as bound to another device (as for `403`)",
}


def _seconds(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g}\N{EN DASH}{bounds[1]:g} s"


def advice(code: CloseCode) -> str:
    """What the display does on ``code``, in words (docs/protocol.md's table)."""
    if code.retry is Retry.NEVER:
        if code.halt is not None:
            return f"not retry; {_HALT_WORDS[code.halt]}; keep polling"
        return "not retry with these credentials; keep polling (it answers `400`: fix the URL)"
    if code.retry is Retry.JITTER:
        return (
            f"reconnect after a random {_seconds(JITTER_SECONDS)}, then back off as usual;"
            " keep polling"
        )
    if code.retry is Retry.SLOW:
        return f"keep polling; try push again after a random {_seconds(SLOW_SECONDS)}"
    return advice_default()


def retry_for(code: int | None) -> Retry:
    """The rule for ``code``: its own, or ``DEFAULT_RETRY`` for a code this module does not
    know and for ``None`` (no close frame: 1006, or a connection that failed before it opened)."""
    if code is None:
        return DEFAULT_RETRY
    try:
        return CloseCode(code).retry
    except ValueError:
        return DEFAULT_RETRY


def reconnect_bounds(rule: Retry, attempt: int) -> tuple[float, float] | None:
    """(lowest, highest) seconds to wait before reconnecting under ``rule``; None for NEVER.

    ``attempt`` counts the backoffs in a row (1 for the first; a display resets it when a
    socket opens, and on ``JITTER``): ``BACKOFF`` waits a random time between the lower
    bound and ``min(upper, lower * 2**attempt)`` (full jitter, never below the lower bound),
    as the display page does.
    """
    if rule is Retry.NEVER:
        return None
    if rule is Retry.JITTER:
        return JITTER_SECONDS
    if rule is Retry.SLOW:
        return SLOW_SECONDS
    low, high = BACKOFF_SECONDS
    return low, min(high, low * 2 ** max(attempt, 1))


def policy() -> dict[str, Any]:
    """The retry policy as JSON, for the display page (snapshot ``meta.close_codes``)."""
    codes: dict[str, dict[str, str]] = {}
    for code in CloseCode:
        entry = {"retry": code.retry.value}
        if code.halt is not None:
            entry["halt"] = code.halt
        codes[str(int(code))] = entry
    return {
        "codes": codes,
        "default": DEFAULT_RETRY.value,
        "backoff_seconds": list(BACKOFF_SECONDS),
        "jitter_seconds": list(JITTER_SECONDS),
        "slow_seconds": list(SLOW_SECONDS),
    }


def markdown_table() -> str:
    """docs/protocol.md's close-code table (written by ``tools/protocol_docs.py``)."""
    rows = [
        "| code | meaning | retry | the display should |",
        "|---|---|---|---|",
    ]
    for code in CloseCode:
        rows.append(f"| {int(code)} | {code.meaning} | `{code.retry.value}` | {advice(code)} |")
    rows.append(
        f"| any other (1006: the connection dropped) | | `{DEFAULT_RETRY.value}` |"
        f" {advice_default()} |"
    )
    return "\n".join(rows)


def advice_default() -> str:
    return f"reconnect with backoff ({_seconds(BACKOFF_SECONDS)}, full jitter); keep polling"
