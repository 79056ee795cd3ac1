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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core import signing

from hallboard.schools.access import Right, for_user

SALT = "hallboard.staff-socket"
MAX_AGE = 60  # seconds
#: A ticket longer than this is not one of ours (and would not fit a request line).
MAX_LENGTH = 6000


@dataclass(frozen=True)
class StaffTicket:
    user_id: int
    school_ids: frozenset[int]


def school_ids_for(user: Any, within: Iterable[int] | None = None) -> list[int]:
    """The schools a ticket for ``user`` covers: those where they hold the screens right.

    ``within`` narrows it to the schools a page shows (a district operator's
    page about one school need not hear about every other school).
    """
    schools = for_user(user).schools(Right.SCREENS)
    if within is not None:
        schools = schools.filter(pk__in=list(within))
    return sorted(schools.values_list("pk", flat=True))


def issue(user: Any, within: Iterable[int] | None = None) -> str:
    """A ticket for ``user`` (see ``school_ids_for``), valid for ``MAX_AGE`` seconds."""
    payload = {"u": int(user.pk), "s": school_ids_for(user, within)}
    return signing.dumps(payload, salt=SALT, compress=True)


def verify(ticket: str) -> StaffTicket | None:
    """The ticket's content, or None if it is malformed, tampered with or expired."""
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
    return StaffTicket(user_id, frozenset(school_ids))


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
