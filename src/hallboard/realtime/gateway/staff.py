"""The staff socket, ``/ws/staff/?ticket=...``: live dashboards listening to schools' frames.

Kept apart from the display path: ``server.py`` routes a request for
``GatewayOptions.staff_path`` to ``admission.py``, whose staff admission uses
what is here (the ticket, the hello), and the node (``core.node``) marks the connection
``Kind.STAFF``, so display-only work (push flags, heartbeats,
acknowledgements) leaves it alone.
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
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from hallboard.realtime.core import messages
from hallboard.realtime.core.node import RENEW_REASON
from hallboard.realtime.gateway.handshake import Request
from hallboard.staff import tickets

__all__ = ["BAD_TICKET_REASON", "MAX_AGE", "PATH", "RENEW_REASON", "THROTTLED_REASON"]

PATH = "/ws/staff/"
#: Seconds a staff socket stays open before it must reconnect with a fresh ticket.
MAX_AGE = 15 * 60.0
BAD_TICKET_REASON = "invalid or expired ticket"
THROTTLED_REASON = "too many failed attempts; try again later"


def hello(ticket: tickets.StaffTicket) -> str:
    schools = sorted(ticket.school_ids)
    return messages.encode({"type": "hello", "user": ticket.user_id, "schools": schools})


def verify(request: Request) -> tickets.StaffTicket | None:
    """The request's ticket, if it is valid for the socket's ``Origin`` (not yet claimed)."""
    return tickets.verify(request.query.get("ticket", ""), request.headers.get("origin", ""))


async def claim(executor: ThreadPoolExecutor, ticket: tickets.StaffTicket) -> bool:
    """Single use: a ticket opens one socket (in a thread when that asks Redis)."""
    if settings.REDIS_URL:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, tickets.claim, ticket)
    return tickets.claim(ticket)
