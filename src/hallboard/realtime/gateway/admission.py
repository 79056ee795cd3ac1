"""Who gets in: a display's or a staff page's upgrade, refused or admitted and opened.

The gateway routes an upgrade for its display or staff path here
(``Admission.upgrade``); everything until the socket is open or refused is done
here: the refusals that need no database (draining, parameters, throttle, a
malformed token, capacity), the token lookups in batches
(``batches.Authenticator``), the staff ticket's claim, the subscription of the
admitted sockets' topics, and the re-read of what changed between the lookup
and the subscription; then the node opens the socket and says its first frames.

It knows its owner only as ``Host`` (below): the gateway, which holds the
sockets and carries out the node's actions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from django.db import DatabaseError

from hallboard import throttle
from hallboard.display.auth import DEVICE_KEY
from hallboard.observability import metrics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.node import Kind, Node
from hallboard.realtime.gateway import batches, db, staff
from hallboard.realtime.gateway.connection import Phase, Socket
from hallboard.realtime.gateway.handshake import (
    HandshakeError,
    Request,
    check_upgrade,
    switching_protocols,
)
from hallboard.realtime.gateway.meters import Meters
from hallboard.realtime.gateway.options import GatewayOptions
from hallboard.staff import tickets

logger = logging.getLogger("hallboard.realtime.gateway")

Pending = batches.Pending[Socket]


class Host(Protocol):
    """What admission needs from the gateway that owns it."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    def carry_out(self) -> int: ...
    def opened(self, sock: Socket, handshake: bytes, frames: list[str]) -> None: ...
    def rejected(self, kind: str, what: str, error: str) -> None: ...


class Admission:
    """The upgrades of one gateway, from their request to their first frames (or refusal)."""

    def __init__(
        self,
        host: Host,
        node: Node[Socket],
        options: GatewayOptions,
        executor: ThreadPoolExecutor,
        meters: Meters,
        writer: batches.Writer,
        subscribe: Callable[[], Awaitable[None]],
        clock: Callable[[], float],
    ) -> None:
        self.host, self.node, self.options, self.executor = host, node, options, executor
        self.meters, self.writer, self.subscribe, self.clock = meters, writer, subscribe, clock
        #: Refused connects by close code; accepted display sockets (metrics, tests).
        self.refused: Counter[int] = Counter()
        self.accepted = 0
        #: Set by the gateway's shutdown: every new socket is refused with 1001.
        self.draining = False
        self.auth = batches.Authenticator[Socket](
            executor,
            host.spawn,
            self._admit,
            self._abandon,
            batch=options.auth_batch,
            concurrency=options.auth_concurrency,
        )

    def upgrade(self, sock: Socket, request: Request, path: str) -> None:
        """An upgrade for the display or the staff ``path`` (its trailing slash removed)."""
        o = self.options
        try:
            check_upgrade(request)
        except HandshakeError as exc:
            logger.info("HTTP request refused with %d: %s", exc.status, exc.detail)
            sock.respond(exc.status, exc.detail.encode() + b"\n")
            return
        handshake = switching_protocols(request.websocket_key)
        address = throttle.socket_address(sock.peer(), request.headers.get("x-forwarded-for"))
        if path == o.staff_path.rstrip("/"):
            self._admit_staff(sock, request, handshake, address)
            return
        token = request.query.get("token", "")
        device_key = request.query.get("dk", "")
        if self.draining:
            self.refuse(sock, handshake, CloseCode.GOING_AWAY)
        elif not token or not device_key or DEVICE_KEY.fullmatch(device_key) is None:
            self.refuse(sock, handshake, CloseCode.MISSING_PARAMETERS)
        elif throttle.blocked(throttle.Kind.SOCKET, address) is not None:
            self.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER, staff.THROTTLED_REASON)
        elif not db.token_well_formed(token):
            # Never looked up: no token has a NUL or is that long (one refusal, its own).
            self.refuse(sock, handshake, CloseCode.INVALID_TOKEN)
            throttle.failed(throttle.Kind.SOCKET, address)
        elif self.node.at_capacity():
            self.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER)
        else:
            self.node.pending += 1
            self.meters.pending.inc()
            self.auth.add(batches.Pending(sock, handshake, token, device_key, address))

    def refuse(
        self,
        sock: Socket,
        handshake: bytes,
        code: CloseCode,
        reason: str | None = None,
        *,
        log: bool = True,
    ) -> None:
        """Complete the handshake only to close with ``code``; counted, and logged unless
        the caller logs a whole batch's refusals as one line."""
        self.refused[int(code)] += 1
        metrics.gateway_refused_total.labels(code=str(int(code))).inc()
        if log:
            logger.info("%s socket refused: %s (%d)", sock.kind.name.lower(), code.reason, code)
        sock.refuse(handshake, int(code), reason or code.reason)

    # --- staff sockets ----------------------------------------------------------------------
    def _admit_staff(self, sock: Socket, request: Request, handshake: bytes, address: str) -> None:
        """A staff socket's handshake arrived: refuse it, or subscribe it and say hello."""
        ticket = staff.verify(request)
        if self.draining:
            self.refuse(sock, handshake, CloseCode.GOING_AWAY)
        elif throttle.blocked(throttle.Kind.SOCKET, address) is not None:
            self.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER, staff.THROTTLED_REASON)
        elif ticket is None:
            throttle.failed(throttle.Kind.SOCKET, address)
            self.refuse(sock, handshake, CloseCode.INVALID_TOKEN, staff.BAD_TICKET_REASON)
        elif self.node.at_capacity():
            self.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER)
        else:
            sock.kind = Kind.STAFF
            self.node.admit_staff(sock, ticket.user_id, ticket.school_ids, self.clock())
            self.host.spawn(self._open_staff(sock, handshake, ticket, address))

    async def _open_staff(
        self, sock: Socket, handshake: bytes, ticket: tickets.StaffTicket, address: str
    ) -> None:
        if not await staff.claim(self.executor, ticket):
            throttle.failed(throttle.Kind.SOCKET, address)
            self.refuse(sock, handshake, CloseCode.INVALID_TOKEN, staff.BAD_TICKET_REASON)
            return
        await self.subscribe()
        if sock.phase == Phase.PENDING:
            self.host.opened(sock, handshake, [staff.hello(ticket)])
            self.node.open_staff(sock, self.clock())
            self.host.carry_out()

    # --- display sockets: after their lookup ------------------------------------------------
    def _abandon(self, batch: list[Pending]) -> None:
        self.node.pending -= len(batch)
        self.meters.pending.dec(len(batch))

    async def _admit(self, batch: list[Pending], results: batches.Results) -> None:
        # From here the batch's sockets are in the node (or refused): no longer pending.
        self._abandon(batch)
        now = self.clock()
        admitted: list[tuple[Pending, db.Accepted]] = []
        new_schools: set[int] = set()
        refused: Counter[CloseCode] = Counter()
        for pending, result in zip(batch, results, strict=True):
            sock = pending.sock
            if sock.phase != Phase.PENDING:
                continue  # gone while we looked it up
            if isinstance(result, db.Refused):
                if result.rejected is not None:
                    self.host.rejected(
                        "auth", f"a display socket ({pending.address})", result.rejected
                    )
                elif result.code == CloseCode.INVALID_TOKEN:
                    throttle.failed(throttle.Kind.SOCKET, pending.address)
                self.refuse(sock, pending.handshake, result.code, log=False)
                refused[result.code] += 1
                self.node.refused(result.school_id, result.screen_id, result.code)
                continue
            if self.node.admit_display(sock, result.screen_id, result.school_id, now):
                new_schools.add(result.school_id)
            admitted.append((pending, result))
        self.host.carry_out()
        for code, count in refused.items():  # one line per code, however big the storm
            logger.info("%d display socket(s) refused: %s (%d)", count, code.reason, code)
        if not admitted:
            return
        await self.subscribe()
        # Changes committed between the token lookup and the subscription reached no one
        # here (a school's edit or alert): read them again now that we listen, with the
        # screens' pending commands (read only now: later ones come as events). Should the
        # database fail here, the screens open without them: they stay pending, for the
        # next connection or poll.
        screens = [result.screen_id for _, result in admitted]
        commands: dict[int, list[dict[str, Any]]] = {}
        try:
            revs, alerts, commands = await db.run_db(
                self.executor, db.after_subscribe, new_schools, screens, dt.datetime.now(dt.UTC)
            )
        except DatabaseError:
            revs, alerts = {}, {}
            logger.warning("database unavailable re-reading %d screens", len(screens))
        for school_id in new_schools:
            self.node.school_state(school_id, revs.get(school_id, 0))
            if school_id in alerts:
                self.node.school_alert(school_id, alerts[school_id])
        # The batch is opened together: one clock reading, and the node's actions (frames
        # held for a socket, its dashboard frame) carried out once, after every hello.
        now, today = self.clock(), dt.datetime.now(dt.UTC)
        for pending, result in admitted:
            self._open(pending, result, commands.get(result.screen_id, ()), now, today)
        self.host.carry_out()

    def _open(
        self,
        pending: Pending,
        result: db.Accepted,
        commands: Iterable[dict[str, Any]],
        now: float,
        today: dt.datetime,
    ) -> None:
        """Open an admitted display with its pending ``commands`` (read after subscribing)."""
        sock = pending.sock
        if sock.phase != Phase.PENDING:
            return  # closed meanwhile; socket_lost took it out of the node
        frames = self.node.open_display(sock, result.rev, result.alert, list(commands), now, today)
        self.host.opened(sock, pending.handshake, frames)
        self.accepted += 1
        self.writer.connected(result.screen_id)  # marked in the next write batch (db.py)
        sent = len(frames) - 1  # after the hello
        if sent:
            self.meters.delivered("command", sent)
