"""WebSocket close codes of the display protocol: THE reference.

Each code says what the display should do next (``retry``):

- ``Retry.NEVER``: do not reconnect with these credentials (go back to pairing,
  or show the problem on screen); keep polling where polling still works.
- ``Retry.BACKOFF``: reconnect with exponential backoff and full jitter (1-60 s).
- ``Retry.JITTER``: the server is going away on purpose; reconnect after a
  short random delay (0-5 s), then back off as usual.
- ``Retry.SLOW``: push is off for this screen; keep polling and try push again
  rarely (every few minutes).
"""

from __future__ import annotations

import enum


class Retry(enum.Enum):
    NEVER = "never"
    BACKOFF = "backoff"
    JITTER = "jitter"
    SLOW = "slow"


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
    #: Token or device key missing from the URL.
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


_RETRY: dict[CloseCode, Retry] = {
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

_REASON: dict[CloseCode, str] = {
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
