"""The staff socket, ``/ws/staff/?ticket=...``: live dashboards listening to schools' frames.

Kept apart from the display path: ``server.py`` routes a request for
``GatewayOptions.staff_path`` here and marks staff sockets (``user_id``) so
display-only work (push flags) leaves them alone. Staff sockets share the
gateway's hub, broker subscriptions, back-pressure and slow-client policy.

The protocol (docs/dashboard.md):

- The ticket (``hallboard.staff.tickets``) is checked without the database:
  missing, malformed, tampered with or older than 60 s → close **4401**; the
  page fetches a new ticket and reconnects. Draining → 1001, at capacity → 1013.
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
import json
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from hallboard.realtime.core import messages, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import InboundLimit
from hallboard.staff import tickets

if TYPE_CHECKING:
    from hallboard.realtime.gateway.server import DisplayConnection, Gateway

logger = logging.getLogger("hallboard.realtime.gateway.staff")

PATH = "/ws/staff/"
#: Seconds a staff socket stays open before it must reconnect with a fresh ticket.
MAX_AGE = 15 * 60.0
BAD_TICKET_REASON = "invalid or expired ticket"
RENEW_REASON = "reconnect with a fresh ticket"


def path_of(request: Any) -> str:
    return urllib.parse.urlsplit(request.path).path.rstrip("/") if request else ""


def is_staff(request: Any, staff_path: str) -> bool:
    return path_of(request) == staff_path.rstrip("/")


def hello(ticket: tickets.StaffTicket) -> str:
    schools = sorted(ticket.school_ids)
    return messages.encode({"type": "hello", "user": ticket.user_id, "schools": schools})


def subscriptions(ticket: tickets.StaffTicket) -> list[str]:
    return [topics.user(ticket.user_id)] + [
        topics.dashboard(sid) for sid in sorted(ticket.school_ids)
    ]


def is_ping(frame: str | bytes) -> bool:
    if isinstance(frame, bytes):
        return False
    try:
        data = json.loads(frame)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "ping"


async def _refuse(gw: Gateway, conn: DisplayConnection, code: int, reason: str) -> None:
    gw.refused[code] += 1
    logger.info("staff socket refused: %s (%d)", reason, code)
    await conn.close(code, reason)


async def serve(gw: Gateway, conn: DisplayConnection) -> None:
    """Handle one staff socket from its handshake to its close."""
    request = conn.request
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query) if request else {}
    ticket = tickets.verify((query.get("ticket") or [""])[0])
    if gw._draining:
        await _refuse(gw, conn, CloseCode.GOING_AWAY, CloseCode.GOING_AWAY.reason)
        return
    if ticket is None:
        await _refuse(gw, conn, CloseCode.INVALID_TOKEN, BAD_TICKET_REASON)
        return
    if len(gw.hub) >= gw.options.max_connections:
        await _refuse(gw, conn, CloseCode.TRY_AGAIN_LATER, CloseCode.TRY_AGAIN_LATER.reason)
        return
    conn.gateway = gw  # back-pressure reports go to the hub, as for displays
    conn.user_id = ticket.user_id
    conn.inbound = InboundLimit(gw.clock())
    first = gw.hub.add(conn, subscriptions(ticket))
    try:
        for topic in first:
            await gw.broker.subscribe(topic)
        await conn.send(hello(ticket))
        try:
            async with asyncio.timeout(gw.options.staff_max_age):
                await _receive(gw, conn)
        except TimeoutError:
            gw.closed_by_server[CloseCode.GOING_AWAY] += 1
            await conn.close(CloseCode.GOING_AWAY, RENEW_REASON)
    except ConnectionClosed:
        pass
    finally:
        for topic in gw.hub.remove(conn):
            await gw.broker.unsubscribe(topic)


async def _receive(gw: Gateway, conn: DisplayConnection) -> None:
    assert conn.inbound is not None
    async for frame in conn:
        if not conn.inbound.allow(gw.clock()) or not is_ping(frame):
            logger.info("staff socket of user %s closed: only pings are allowed", conn.user_id)
            gw.closed_by_server[CloseCode.POLICY_VIOLATION] += 1
            await conn.close(CloseCode.POLICY_VIOLATION, "staff sockets may only ping")
            return
        await conn.send(messages.PONG)
