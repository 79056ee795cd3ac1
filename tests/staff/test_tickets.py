"""Staff socket tickets: who and which schools, signed, for sixty seconds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import signing

from hallboard.schools.models import Membership
from hallboard.staff import tickets
from hallboard.staff.tickets import StaffTicket
from tests.conftest import Tenant, make_user

ORIGIN = "https://hallboard.example"


def test_a_ticket_names_the_user_and_the_schools_with_the_screens_right(
    tenant: Tenant, south: Tenant
) -> None:
    """An organisation admin's ticket covers both of north's schools and none of south's."""
    user = make_user("district-it", "admin", organisation=tenant.organisation)
    ticket = tickets.verify(tickets.issue(user, origin=ORIGIN), ORIGIN)
    assert ticket == StaffTicket(user.pk, frozenset({tenant.school.pk, tenant.other_school.pk}))


def test_schools_without_the_screens_right_are_left_out(tenant: Tenant) -> None:
    """Viewer in beta, admin in alpha: the ticket covers alpha only."""
    user = make_user("mixed", "admin", school=tenant.school)
    Membership.objects.create(user=user, school=tenant.other_school, role="viewer")
    ticket = tickets.verify(tickets.issue(user, origin=ORIGIN), ORIGIN)
    assert ticket is not None
    assert ticket.school_ids == frozenset({tenant.school.pk})


def test_within_narrows_and_never_widens(tenant: Tenant, south: Tenant) -> None:
    """Asking for more schools than the user's rights gives only those they hold."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    asked = [tenant.school.pk, tenant.other_school.pk, south.school.pk]
    ticket = tickets.verify(tickets.issue(user, within=asked, origin=ORIGIN), ORIGIN)
    assert ticket is not None
    assert ticket.school_ids == frozenset({tenant.school.pk})
    narrowed = tickets.verify(
        tickets.issue(user, within=[tenant.other_school.pk], origin=ORIGIN), ORIGIN
    )
    assert narrowed is not None
    assert narrowed.school_ids == frozenset()


def test_a_ticket_expires_after_sixty_seconds(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid at 59 s, refused at 61 s."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    issued_at = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: issued_at)
    ticket = tickets.issue(user, origin=ORIGIN)
    monkeypatch.setattr(signing.time, "time", lambda: issued_at + 59)
    assert tickets.verify(ticket, ORIGIN) is not None
    monkeypatch.setattr(signing.time, "time", lambda: issued_at + 61)
    assert tickets.verify(ticket, ORIGIN) is None


def _tampered(ticket: str) -> str:
    payload, _, rest = ticket.partition(":")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return f"{flipped}:{rest}"


def test_a_tampered_ticket_is_refused(tenant: Tenant) -> None:
    """Changing any part of the ticket makes it invalid."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    ticket = tickets.issue(user, origin=ORIGIN)
    assert tickets.verify(_tampered(ticket), ORIGIN) is None
    assert tickets.verify(ticket[:-1] + ("x" if ticket[-1] != "x" else "y"), ORIGIN) is None


def test_tickets_forged_with_another_salt_or_key_are_refused(tenant: Tenant, settings: Any) -> None:
    """Only a ticket signed with our secret key and the staff-socket salt is accepted."""
    payload = {"u": 1, "s": [tenant.school.pk], "o": ORIGIN, "n": "nonce"}
    assert tickets.verify(signing.dumps(payload, salt="another.purpose"), ORIGIN) is None
    forged = signing.dumps(payload, key="not-our-secret", salt=tickets.SALT)
    assert tickets.verify(forged, ORIGIN) is None
    assert tickets.verify(signing.dumps(payload, salt=tickets.SALT), ORIGIN) is not None


@pytest.mark.parametrize(
    "payload",
    [
        [1, [1]],
        {"u": "1", "s": [1]},
        {"u": True, "s": [1]},
        {"u": 0, "s": [1]},
        {"u": 1, "s": "1"},
        {"u": 1, "s": [1, -2]},
        {"u": 1, "s": [1.5]},
        {"u": 1},
        {"u": 1, "s": [1], "o": ORIGIN},
        {"u": 1, "s": [1], "o": ORIGIN, "n": ""},
        {"u": 1, "s": [1], "n": "nonce"},
    ],
)
def test_a_correctly_signed_ticket_of_the_wrong_shape_is_refused(payload: Any) -> None:
    """Even signed with our key, a payload that is not {u: id, s: [ids], o: origin, n: nonce}
    is refused."""
    if isinstance(payload, dict) and "o" not in payload and "n" not in payload:
        payload = {**payload, "o": ORIGIN, "n": "nonce"}
    assert tickets.verify(signing.dumps(payload, salt=tickets.SALT), ORIGIN) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a:b:c", "x" * (tickets.MAX_LENGTH + 1)])
def test_garbage_is_refused(garbage: str) -> None:
    """Empty, malformed and oversized tickets are refused without error."""
    assert tickets.verify(garbage, ORIGIN) is None


def test_a_ticket_is_bound_to_the_origin_it_was_issued_to(tenant: Tenant) -> None:
    """A ticket issued to the staff page's origin is refused for any other origin (another
    site's page, another scheme or port) and when the socket sends no Origin."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    ticket = tickets.issue(user, origin=ORIGIN)
    assert tickets.verify(ticket, ORIGIN) is not None
    assert tickets.verify(ticket, ORIGIN.upper()) is not None  # origins compare case-blind
    for other in ("https://evil.example", "http://hallboard.example", ORIGIN + ":8443", ""):
        assert tickets.verify(ticket, other) is None, other


def test_a_ticket_can_be_claimed_once(tenant: Tenant) -> None:
    """Single use: the first claim succeeds, every later one fails; another ticket is fresh."""
    user = make_user("alpha-admin", "admin", school=tenant.school)
    first = tickets.verify(tickets.issue(user, origin=ORIGIN), ORIGIN)
    second = tickets.verify(tickets.issue(user, origin=ORIGIN), ORIGIN)
    assert first is not None
    assert second is not None
    assert tickets.claim(first) is True
    assert tickets.claim(first) is False
    assert tickets.claim(second) is True


def test_a_ticket_used_on_one_gateway_is_refused_by_another(
    tenant: Tenant, settings: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Redis the nonce is shared: a ticket claimed by one process (its memory forgotten
    here) is still refused."""
    settings.REDIS_URL = redis_url
    user = make_user("alpha-admin", "admin", school=tenant.school)
    ticket = tickets.verify(tickets.issue(user, origin=ORIGIN), ORIGIN)
    assert ticket is not None
    assert tickets.claim(ticket) is True
    monkeypatch.setattr(tickets, "_used", {})  # as if another gateway process asked
    assert tickets.claim(ticket) is False
