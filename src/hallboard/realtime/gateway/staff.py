"""The staff socket, ``/ws/staff/?ticket=...``: live dashboards listening to schools' frames.

Kept apart from the display path: ``server.py`` routes a request for
``GatewayOptions.staff_path`` here and marks the socket ``Kind.STAFF``, so
display-only work (push flags, heartbeats, acknowledgements) leaves it alone.
Staff sockets share the gateway's hub, broker subscriptions, back-pressure and
slow-client policy, and count against ``WS_MAX_CONNECTIONS``.

The protocol (docs/dashboard.md):

- The ticket (``hallboard.staff.tickets``) is checked without the database:
  missing, malformed, tampered with, older than 60 s, issued to another origin
  than the socket's ``Origin`` or used before → close **4401**; the page
  fetches a new ticket and reconnects. Draining → 1001, at capacity → 1013;
  an address with too many failed attempts (``hallboard.throttle``) → 1013.
- Accepted: the socket listens to ``user:<uid>`` and ``dash:<sid>`` for each
  school of the ticket (topics built here from the verified ticket, never
  from anything the client sends) and gets
  ``{"type": "hello", "user": uid, "schools": [sids]}``; then every staff
  frame published on those topics, as published.
- The client may send only ``{"type": "ping"}`` (answered with pong); anything
  else, or too many messages, closes with 1008; a frame over 4 KiB with 1009.
- After ``staff_max_age`` (15 minutes) the server closes with **1001**: the
  page reconnects with a fresh ticket, so a role removed meanwhile takes effect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from django.conf import settings

from hallboard import throttle
from hallboard.realtime.core import messages, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import InboundLimit
from hallboard.realtime.gateway.connection import Kind, Phase, Socket, encode_frame
from hallboard.realtime.gateway.handshake import Request
from hallboard.staff import tickets

if TYPE_CHECKING:
    from hallboard.realtime.gateway.server import Gateway

logger = logging.getLogger("hallboard.realtime.gateway.staff")

PATH = "/ws/staff/"
#: Seconds a staff socket stays open before it must reconnect with a fresh ticket.
MAX_AGE = 15 * 60.0
BAD_TICKET_REASON = "invalid or expired ticket"
THROTTLED_REASON = "too many failed attempts; try again later"
RENEW_REASON = "reconnect with a fresh ticket"


def hello(ticket: tickets.StaffTicket) -> str:
    schools = sorted(ticket.school_ids)
    return messages.encode({"type": "hello", "user": ticket.user_id, "schools": schools})


def subscriptions(ticket: tickets.StaffTicket) -> list[str]:
    return [topics.user(ticket.user_id)] + [
        topics.dashboard(sid) for sid in sorted(ticket.school_ids)
    ]


def admit(gw: Gateway, sock: Socket, request: Request, handshake: bytes) -> None:
    """A staff socket's handshake arrived: refuse it, or subscribe it and say hello."""
    address = throttle.socket_address(sock.peer(), request.headers.get("x-forwarded-for"))
    ticket = tickets.verify(request.query.get("ticket", ""), request.headers.get("origin", ""))
    if gw.draining:
        gw.refuse(sock, handshake, CloseCode.GOING_AWAY)
    elif throttle.blocked(throttle.Kind.SOCKET, address) is not None:
        gw.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER, THROTTLED_REASON)
    elif ticket is None:
        throttle.failed(throttle.Kind.SOCKET, address)
        gw.refuse(sock, handshake, CloseCode.INVALID_TOKEN, BAD_TICKET_REASON)
    elif gw.at_capacity():
        gw.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER)
    else:
        sock.kind = Kind.STAFF
        sock.user_id = ticket.user_id
        sock.inbound = InboundLimit(gw.clock())
        gw.hold(sock, subscriptions(ticket))
        gw.spawn(_open(gw, sock, handshake, ticket, address))


async def _open(
    gw: Gateway, sock: Socket, handshake: bytes, ticket: tickets.StaffTicket, address: str
) -> None:
    # Single use: a ticket opens one socket (in a thread when that asks Redis).
    if settings.REDIS_URL:
        loop = asyncio.get_running_loop()
        fresh = await loop.run_in_executor(gw.executor, tickets.claim, ticket)
    else:
        fresh = tickets.claim(ticket)
    if not fresh:
        throttle.failed(throttle.Kind.SOCKET, address)
        gw.refuse(sock, handshake, CloseCode.INVALID_TOKEN, BAD_TICKET_REASON)
        return
    await gw.subscribe_wanted()
    if sock.phase == Phase.PENDING:
        gw.open(sock, handshake, [encode_frame(hello(ticket))])


def text_received(gw: Gateway, sock: Socket, text: str) -> None:
    try:
        messages.parse_staff(text)
    except messages.ProtocolError as exc:
        logger.info("staff socket of user %s closed: %s", sock.user_id, exc.detail)
        gw.close(sock, exc.code)
        return
    gw.pong(sock)


def expire(gw: Gateway, sock: Socket, now: float) -> None:
    """Close a staff socket older than ``staff_max_age`` with 1001 (renew the ticket)."""
    if sock.phase == Phase.OPEN and now - sock.opened_at > gw.options.staff_max_age:
        gw.close(sock, CloseCode.GOING_AWAY, RENEW_REASON)
