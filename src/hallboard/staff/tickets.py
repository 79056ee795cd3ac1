"""Tickets for the staff socket: who may watch which schools' dashboards, for a minute.

The gateway has no session and asks the database nothing about staff: the
web app, which knows the signed-in user, issues a ticket naming the user and
the schools where they hold the screens right *now* (``hallboard.schools.access``),
signed with the secret key (``django.core.signing``, salt
``"hallboard.staff-socket"``). The gateway verifies the signature and age
(``MAX_AGE``, 60 s) and subscribes the socket to exactly those schools.
Nothing in a ticket comes from the client.

Because rights are read at issue time, the gateway closes staff sockets after
a while (15 minutes, 1001): the page asks for a new ticket, so a role removed
meanwhile takes effect.

A ticket is bound to the origin of the page it was issued to (``scheme://host``
of the request for it): the gateway refuses it unless the socket's ``Origin``
header is the same, so a ticket read from a log or a proxy cannot be used by
another site's page. And it opens one socket only: ``claim`` records its
nonce until it expires (in Redis with ``REDIS_URL``, so across gateways; in
this process otherwise, and while Redis fails), and a second use is refused.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing

from hallboard import redisconn
from hallboard.schools.access import Right, for_user

SALT = "hallboard.staff-socket"
MAX_AGE = 60  # seconds
#: A ticket longer than this is not one of ours (and would not fit a request line).
MAX_LENGTH = 6000


@dataclass(frozen=True)
class StaffTicket:
    user_id: int
    school_ids: frozenset[int]
    nonce: str = field(default="", compare=False)  # what makes it single-use


def origin_of(request: Any) -> str:
    """The origin (``scheme://host[:port]``) of the page that asks for a ticket."""
    return f"{request.scheme}://{request.get_host()}".lower()


def school_ids_for(user: Any, within: Iterable[int] | None = None) -> list[int]:
    """The schools a ticket for ``user`` covers: those where they hold the screens right.

    ``within`` narrows it to the schools a page shows (a district operator's
    page about one school need not hear about every other school).
    """
    schools = for_user(user).schools(Right.SCREENS)
    if within is not None:
        schools = schools.filter(pk__in=list(within))
    return sorted(schools.values_list("pk", flat=True))


def issue(user: Any, within: Iterable[int] | None = None, *, origin: str) -> str:
    """A single-use ticket for ``user`` (see ``school_ids_for``) to open from ``origin``,
    valid for ``MAX_AGE`` seconds."""
    payload = {
        "u": int(user.pk),
        "s": school_ids_for(user, within),
        "o": origin.lower(),
        "n": secrets.token_urlsafe(12),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def verify(ticket: str, origin: str) -> StaffTicket | None:
    """The ticket's content, or None if it is malformed, tampered with, expired, or
    issued for another origin than the socket's ``Origin`` header."""
    if not ticket or len(ticket) > MAX_LENGTH:
        return None
    try:
        data = signing.loads(ticket, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    user_id, school_ids = data.get("u"), data.get("s")
    if not isinstance(user_id, int) or not _is_id(user_id) or not isinstance(school_ids, list):
        return None
    if not all(_is_id(sid) for sid in school_ids):
        return None
    nonce = data.get("n")
    if not isinstance(nonce, str) or not nonce or data.get("o") != (origin or "").lower():
        return None
    return StaffTicket(user_id, frozenset(school_ids), nonce)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# --- single use --------------------------------------------------------------------

#: Nonces used in this process, with when they may be forgotten (monotonic clock).
_used: dict[str, float] = {}
_used_lock = threading.Lock()


def _claim_here(nonce: str) -> bool:
    now = time.monotonic()
    with _used_lock:
        if len(_used) > 10_000:
            for old in [n for n, until in _used.items() if until <= now]:
                del _used[old]
        if _used.get(nonce, 0.0) > now:
            return False
        _used[nonce] = now + MAX_AGE + 1
        return True


def claim(ticket: StaffTicket) -> bool:
    """Record the ticket as used; False if it was used before (refuse the socket).

    With ``REDIS_URL`` the nonce is set in Redis (``SET NX``, expiring with the
    ticket) so a ticket opens one socket across every gateway; a Redis call is
    bounded and skipped while Redis fails (``hallboard.redisconn``), and this
    process's memory decides then. Call it off the event loop when Redis is used.
    """
    if not ticket.nonce:
        return False
    if not settings.REDIS_URL:
        return _claim_here(ticket.nonce)
    client = redisconn.client(settings.REDIS_URL)

    def in_redis() -> bool:
        first = bool(client.set(f"hallboard:ticket:{ticket.nonce}", b"1", nx=True, ex=MAX_AGE + 1))
        return _claim_here(ticket.nonce) and first

    return bool(redisconn.BREAKER.call(in_redis, lambda: _claim_here(ticket.nonce)))
