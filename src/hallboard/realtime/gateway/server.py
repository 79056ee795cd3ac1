"""The gateway: the asyncio glue around the node.

The node (``hallboard.realtime.core.node``) decides what each socket is sent,
when, and when one is closed; it does no I/O. This module feeds it — broker
events, admitted sockets, client messages, back-pressure, the time — and
carries out the actions it answers with. Around that, only what needs the
outside world:

- the listener and its sockets (``connection.Socket``, one per TCP connection),
  and the routing of a request: plain HTTP (``probes``), a display's or a staff
  page's upgrade, the refusals that need no database;
- the batched work behind callbacks (``batches``): token lookups, the writes of
  what sockets report, the staff frames published;
- the broker (subscriptions the node asks for, a resync after an outage), the
  timers (the node's ``next_wakeup``; once a second, what only sockets know:
  handshakes and closing handshakes that take too long), the drain at shutdown,
  and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError

from hallboard import throttle
from hallboard.display.auth import DEVICE_KEY
from hallboard.observability import fleet, metrics
from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import events, node, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.hub import Hub
from hallboard.realtime.core.node import Kind, Node
from hallboard.realtime.gateway import batches, db, probes, staff
from hallboard.realtime.gateway.connection import Phase, Socket, encode_frame
from hallboard.realtime.gateway.handshake import (
    HandshakeError,
    Request,
    check_upgrade,
    switching_protocols,
)
from hallboard.realtime.gateway.meters import Meters
from hallboard.realtime.gateway.options import GatewayOptions
from hallboard.staff import tickets

if TYPE_CHECKING:
    from hallboard.server.gctune import Freezer

__all__ = ["DRAIN_JITTER", "Gateway", "GatewayOptions"]

logger = logging.getLogger("hallboard.realtime.gateway")

#: A drain's pause between two batches is drain_interval times a factor drawn from here
#: (hallboard.server.drain derives how long a drain takes from it).
DRAIN_JITTER = (0.5, 1.5)


Pending = batches.Pending[Socket]


class Gateway:
    def __init__(
        self,
        broker: Broker,
        options: GatewayOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        freezer: Freezer | None = None,
    ) -> None:
        self.options = o = options or GatewayOptions()
        #: Freezes the objects of accumulated sockets for the collector (serving only).
        self.freezer = freezer
        self.broker = broker
        self.clock = clock
        self.node: Node[Socket] = Node(o.node())
        self.executor = ThreadPoolExecutor(o.db_threads, thread_name_prefix="gw-db")
        #: Refused connects by close code; accepted sockets; server closes by code (metrics).
        self.refused: Counter[int] = Counter()
        self.accepted = 0
        self.closed_by_server: Counter[int] = Counter()
        self._sockets: set[Socket] = set()
        #: Sockets not (or no longer) open: their timeouts are checked every second.
        self._unsettled: set[Socket] = set()
        self._server: asyncio.Server | None = None
        self._draining = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._timers: list[asyncio.Task[None]] = []
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: float | None = None
        self._subscribing = asyncio.Lock()
        self.auth = batches.Authenticator[Socket](
            self.executor,
            self.spawn,
            self._admit,
            self._abandon,
            batch=o.auth_batch,
            concurrency=o.auth_concurrency,
        )
        self.staff_frames = batches.StaffFrames(broker.publish, self.spawn)
        self.writer = batches.Writer(
            self.executor,
            self.spawn,
            self.staff_frames,
            self.rejected,
            close_timeout=o.close_timeout,
            clock=clock,
        )
        self.meters = Meters(broker)

    @property
    def hub(self) -> Hub[Socket]:
        return self.node.hub

    @property
    def limits(self) -> GatewayOptions:
        return self.options

    @property
    def db_errors(self) -> int:
        return self.auth.errors + self.writer.errors

    # --- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.broker.start(self.on_broker_message, self.resync)
        await self.broker.subscribe(topics.CONTROL)
        o = self.options
        self._server = await loop.create_server(
            lambda: Socket(self),
            o.host,
            o.port,
            backlog=2048,
            reuse_address=True,
            reuse_port=o.reuse_port or None,
        )
        self.meters.broker(self.broker)
        self._timers = [
            asyncio.create_task(fleet.report_forever(), name="gateway-fleet-report"),
            asyncio.create_task(self._every(1.0, self.sweep), name="gateway-sweep"),
        ]
        logger.info("gateway listening on %s:%s%s", o.host, self.port, o.path)

    def sockets(self) -> frozenset[Socket]:
        """Every TCP connection the gateway holds now, in any phase."""
        return frozenset(self._sockets)

    @property
    def port(self) -> int:
        if self._server is None:
            return self.options.port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def draining(self) -> bool:
        return self._draining

    async def shutdown(self) -> None:
        """Close every socket with 1001 in batches with jitter, then stop.

        Closing all at once would send every display back at the same moment;
        batches spread the reconnects over the other replicas.
        """
        self._draining = True
        self.staff_frames.stopped = self.writer.stopped = True
        if self._server is not None:
            self._server.close()
        socks = [s for s in self._sockets if s.phase == Phase.OPEN]
        random.shuffle(socks)
        batch = self.options.drain_batch
        for start in range(0, len(socks), batch):
            for sock in socks[start : start + batch]:
                self.close(sock, CloseCode.GOING_AWAY)
            if start + batch < len(socks):
                interval = self.options.drain_interval
                await asyncio.sleep(interval * random.uniform(*DRAIN_JITTER))  # noqa: S311
        # Give the last batch a moment to complete its closing handshakes.
        deadline = self.clock() + self.options.close_timeout
        while any(s.phase < Phase.CLOSED for s in self._sockets) and self.clock() < deadline:
            await asyncio.sleep(0.02)
        for sock in list(self._sockets):
            sock.abort()
        for timer in self._timers:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if self._wake is not None:
            self._wake.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        # A connection the listener accepted just before it closed is made only now:
        # drop it too, or its transport outlives the loop unclosed.
        await asyncio.sleep(0)
        for sock in list(self._sockets):
            sock.abort()
        await self.writer.flush()
        await self.broker.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _every(self, interval: float, step: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                step()
            except Exception:
                logger.exception("gateway timer step failed")

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    # --- carrying out what the node says -----------------------------------------------
    def _do(self) -> int:
        """Carry out the node's actions; how many frames were written."""
        written = 0
        for action in self.node.actions():
            if isinstance(action, node.Send):
                written += self._send(action)
            elif isinstance(action, node.Close):
                self._close_for_node(action)
            elif isinstance(action, node.Store):
                self.writer.add(action.item)
            elif isinstance(action, node.Dash):
                self.staff_frames.dashboard(action.school, action.frame)
            elif isinstance(action, node.Ping):
                action.conn.ping()
            elif isinstance(action, node.Drop):
                action.conn.drop(action.reason)
            else:
                self.spawn(self._check_push(action.screens))
        self._arm_wake()
        return written

    def _send(self, action: node.Send[Socket]) -> int:
        written = 0
        if action.conns:
            frame = encode_frame(action.text)
            for sock in action.conns:
                written += sock.write(frame)
        if action.then is not None and written:
            self.writer.add(action.then)
        mtype = action.mtype
        if mtype is None:
            return written
        failed = len(action.conns) - written + action.dropped
        if written:
            self.meters.delivered(mtype, written)
        if failed:
            self.meters.failed(mtype, failed)
        return written

    def _close_for_node(self, action: node.Close[Socket]) -> None:
        sock, code = action.conn, action.code
        if code == CloseCode.SLOW_CLIENT:
            logger.warning("%r is a slow client; closing", sock)
            metrics.gateway_slow_client_disconnects_total.inc()
        elif action.detail is not None:
            logger.info("%r closed: %s", sock, action.detail)
        self.close(sock, code, action.reason)

    def _arm_wake(self) -> None:
        at = self.node.next_wakeup()
        if at is None or (self._wake_at is not None and self._wake_at <= at):
            return
        if self._wake is not None:
            self._wake.cancel()
        self._wake_at = at
        self._wake = asyncio.get_running_loop().call_later(max(0.0, at - self.clock()), self._woken)

    def _woken(self) -> None:
        self._wake = self._wake_at = None
        self.tick()

    def tick(self) -> None:
        """Run what the node has due now (the wake timer does; so may a test that advanced
        an injected clock)."""
        self.node.tick(self.clock())
        self._do()

    # --- sockets: called by connection.Socket (its Owner) ----------------------------------
    def socket_made(self, sock: Socket) -> None:
        self._sockets.add(sock)
        self._unsettled.add(sock)

    def seen(self, sock: Socket) -> None:
        self.node.seen(sock, self.clock())

    def congested(self, sock: Socket) -> None:
        self.node.congested(sock, self.clock())
        self._arm_wake()

    def drained(self, sock: Socket) -> None:
        self.node.drained(sock)
        self._do()

    def text_received(self, sock: Socket, data: bytes) -> None:
        self.node.receive_message(sock, data, self.clock())
        self._do()

    def socket_closing(self, sock: Socket) -> None:
        """The closing handshake started (either side): it must end within close_timeout."""
        self._unsettled.add(sock)
        self.node.closing(sock)

    def socket_lost(self, sock: Socket) -> None:
        self._sockets.discard(sock)
        self._unsettled.discard(sock)
        if sock.live:
            self.meters.open[sock.kind].dec()
        self.node.lost(sock, sock.close_code)
        self._do()

    def close(self, sock: Socket, code: CloseCode, reason: str | None = None) -> None:
        if sock.close(int(code), reason or code.reason):
            self.count_close(int(code))

    def count_close(self, code: int) -> None:
        """An open socket closed by the server with ``code`` (policy, slow, revoked...)."""
        self.closed_by_server[code] += 1
        metrics.gateway_closed_total.labels(code=str(code)).inc()

    def rejected(self, kind: str, what: str, error: str) -> None:
        """The database refused one row of a batch; the rest of the batch was written."""
        metrics.gateway_rows_rejected_total.labels(kind=kind).inc()
        logger.warning("database refused %s; the rest of its batch was written: %s", what, error)

    # --- requests ---------------------------------------------------------------------------
    def request_received(self, sock: Socket, request: Request) -> None:
        o = self.options
        path = request.path.rstrip("/")
        if path not in (o.path.rstrip("/"), o.staff_path.rstrip("/")):
            probes.answer(
                sock, request, path, executor=self.executor, broker=self.broker, spawn=self.spawn
            )
            return
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
        if self._draining:
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

    def _opened(self, sock: Socket, handshake: bytes, frames: list[str]) -> None:
        """Complete the handshake with ``frames`` (hello first), counted as open."""
        sock.open(handshake, [encode_frame(f) for f in frames])
        self._unsettled.discard(sock)
        sock.live = True
        if self.freezer is not None:
            self.freezer.admitted(1, self.clock())
        self.meters.open[sock.kind].inc()
        self.meters.accepted[sock.kind].inc()
        self.meters.delivered("hello", 1)

    # --- staff sockets ----------------------------------------------------------------------
    def _admit_staff(self, sock: Socket, request: Request, handshake: bytes, address: str) -> None:
        """A staff socket's handshake arrived: refuse it, or subscribe it and say hello."""
        ticket = staff.verify(request)
        if self._draining:
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
            self.spawn(self._open_staff(sock, handshake, ticket, address))

    async def _open_staff(
        self, sock: Socket, handshake: bytes, ticket: tickets.StaffTicket, address: str
    ) -> None:
        if not await staff.claim(self.executor, ticket):
            throttle.failed(throttle.Kind.SOCKET, address)
            self.refuse(sock, handshake, CloseCode.INVALID_TOKEN, staff.BAD_TICKET_REASON)
            return
        await self.subscribe_wanted()
        if sock.phase == Phase.PENDING:
            self._opened(sock, handshake, [staff.hello(ticket)])
            self.node.open_staff(sock, self.clock())
            self._do()

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
                    self.rejected("auth", f"a display socket ({pending.address})", result.rejected)
                elif result.code == CloseCode.INVALID_TOKEN:
                    throttle.failed(throttle.Kind.SOCKET, pending.address)
                self.refuse(sock, pending.handshake, result.code, log=False)
                refused[result.code] += 1
                self.node.refused(result.school_id, result.screen_id, result.code)
                continue
            if self.node.admit_display(sock, result.screen_id, result.school_id, now):
                new_schools.add(result.school_id)
            admitted.append((pending, result))
        self._do()
        for code, count in refused.items():  # one line per code, however big the storm
            logger.info("%d display socket(s) refused: %s (%d)", count, code.reason, code)
        if not admitted:
            return
        await self.subscribe_wanted()
        # Changes committed between the token lookup and the subscription reached no one
        # here (a school's edit or alert, a screen's command): read them again now that
        # we listen.
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
        for pending, result in admitted:
            self._open(pending, result, commands.get(result.screen_id, ()))

    def _open(
        self, pending: Pending, result: db.Accepted, later: Iterable[dict[str, Any]] = ()
    ) -> None:
        """Open an admitted display with its lookup's commands and those found ``later``."""
        sock = pending.sock
        if sock.phase != Phase.PENDING:
            return  # closed meanwhile; socket_lost took it out of the node
        known = {c["id"] for c in result.commands}
        commands = [*result.commands, *(c for c in later if c["id"] not in known)]
        frames = self.node.open_display(
            sock, result.rev, result.alert, commands, self.clock(), dt.datetime.now(dt.UTC)
        )
        self._opened(sock, pending.handshake, frames)
        self.accepted += 1
        self.writer.connected(result.screen_id)  # marked in the next write batch (db.py)
        sent = len(frames) - 1  # after the hello
        if sent:
            self.meters.delivered("command", sent)
        self._do()

    # --- the broker ---------------------------------------------------------------------------
    async def subscribe_wanted(self) -> None:
        """Subscribe every topic the node wants (one broker command for all of them)."""
        async with self._subscribing:
            wanted = self.node.take_subscribe()
            if wanted:
                await self.broker.subscribe(*wanted)

    async def _unsubscribe_unwanted(self) -> None:
        async with self._subscribing:
            unwanted = self.node.take_unsubscribe()
            if unwanted:
                await self.broker.unsubscribe(*unwanted)

    def on_broker_message(self, topic: str, data: bytes) -> None:
        try:
            received = events.parse(topic, data)
        except events.EventError as exc:
            self.meters.ignored[exc.reason].inc()
            logger.warning(
                "ignored an %s event %r on %s: %s", exc.reason, exc.kind, topic, exc.detail
            )
            return
        event = received.event
        self.meters.received(event.kind)
        coalesced = self.node.coalesced
        self.node.receive_event(event, self.clock())
        if self.node.coalesced != coalesced:
            metrics.gateway_coalesced_total.inc()
        written = self._do()
        if written and received.ts is not None:
            # Clamped: the publisher may run on another host with another clock.
            metrics.push_latency_seconds.observe(max(0.0, time.time() - received.ts))

    async def _check_push(self, screens: frozenset[int]) -> None:
        states = await db.run_db(self.executor, db.push_states, screens)
        self.node.push_states(screens, states)
        self._do()

    async def resync(self) -> None:
        """After a broker outage: tell every local screen its school's current revision.

        Rate-limited in batches of schools so a large gateway does not make every
        display fetch its snapshot in the same instant.
        """
        school_ids = self.node.schools()
        revs, alerts = await db.run_db(self.executor, db.current_state, school_ids)
        for start in range(0, len(school_ids), 50):
            for school_id in school_ids[start : start + 50]:
                rev = revs.get(school_id)
                if rev is not None:
                    self.node.resync(school_id, rev, alerts.get(school_id))
            self._do()
            await asyncio.sleep(0.05)

    # --- once a second: what only sockets know ----------------------------------------------
    def sweep(self) -> None:
        """Handshakes and closing handshakes that take too long are dropped (both deadlines
        are fixed: nothing the peer sends moves them); topics nobody listens to any more are
        unsubscribed; the collector and the broker's figures are looked after. (The timer
        calls it once a second; so may a test that advanced an injected clock.)"""
        o = self.options
        now = self.clock()
        if self.freezer is not None and self.freezer.tick(now):
            logger.info("gc: objects of %d sockets frozen", len(self.node))
        for sock in list(self._unsettled):
            # PENDING sockets wait for their batch (it always ends, if only with 1013).
            if sock.phase == Phase.CLOSING:
                assert sock.closing_at is not None
                if now - sock.closing_at > o.close_timeout:
                    sock.drop("close_timeout")
            elif sock.phase == Phase.HANDSHAKE and now - sock.opened_at > o.open_timeout:
                sock.drop("open_timeout")
        if self.node.unwanted():
            self.spawn(self._unsubscribe_unwanted())
        self.meters.broker(self.broker)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("gateway task failed", exc_info=task.exception())
