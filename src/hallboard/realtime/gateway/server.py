"""The gateway: the listener, its sockets, and the node's actions carried out.

The node (``hallboard.realtime.core.node``) decides what each socket is sent,
when, and when one is closed; it does no I/O. The ``Gateway`` owns one node and
every socket (``connection.Socket``, one per TCP connection, which knows it only
as its ``Owner``); it feeds the node what sockets report and the time, and
carries out the actions the node answers with (``carry_out``). The rest is
done beside it, each by a module of its own:

- ``admission``: an upgrade, refused or looked up and opened (display or staff);
- ``subscriber``: the broker's side: topics, events in, resync after an outage;
- ``batches``: the database writes and the staff frames, behind callbacks;
- ``probes``: plain HTTP on the gateway port.

What stays here: routing a request (upgrade or plain HTTP), the wake timer (the
node's ``next_wakeup``), once a second what only sockets know (handshakes and
closing handshakes that take too long), the drain at shutdown, and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hallboard.observability import fleet, metrics
from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import node, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.hub import Hub
from hallboard.realtime.core.node import Node
from hallboard.realtime.gateway import batches, probes
from hallboard.realtime.gateway.admission import Admission
from hallboard.realtime.gateway.connection import Phase, Socket, encode_frame
from hallboard.realtime.gateway.handshake import Request
from hallboard.realtime.gateway.meters import Meters
from hallboard.realtime.gateway.options import BACKLOG, GatewayOptions
from hallboard.realtime.gateway.subscriber import Subscriber

if TYPE_CHECKING:
    from hallboard.server.gctune import Freezer

__all__ = ["DRAIN_JITTER", "Gateway", "GatewayOptions"]

logger = logging.getLogger("hallboard.realtime.gateway")

#: A drain's pause between two batches is drain_interval times a factor drawn from here
#: (hallboard.server.drain derives how long a drain takes from it).
DRAIN_JITTER = (0.5, 1.5)


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
        #: Server closes of open sockets by code (metrics).
        self.closed_by_server: Counter[int] = Counter()
        self._sockets: set[Socket] = set()
        #: Sockets not (or no longer) open: their timeouts are checked every second.
        self._unsettled: set[Socket] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._timers: list[asyncio.Task[None]] = []
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: float | None = None
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
        self.subscriber = Subscriber(
            broker, self.node, self.executor, self.meters, self.carry_out, clock
        )
        self.admission = Admission(
            self,
            self.node,
            o,
            self.executor,
            self.meters,
            self.writer,
            self.subscriber.subscribe_wanted,
            clock,
        )

    @property
    def hub(self) -> Hub[Socket]:
        return self.node.hub

    @property
    def limits(self) -> GatewayOptions:
        return self.options

    @property
    def db_errors(self) -> int:
        return self.admission.auth.errors + self.writer.errors

    @property
    def refused(self) -> Counter[int]:
        """Refused connects by close code (metrics)."""
        return self.admission.refused

    @property
    def accepted(self) -> int:
        """Display sockets accepted."""
        return self.admission.accepted

    # --- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.broker.start(self.subscriber.on_message, self.subscriber.resync)
        await self.broker.subscribe(topics.CONTROL)
        o = self.options
        if o.listen_fd is not None:  # the supervisor's socket (server/processes.py)
            listener = socket.socket(fileno=o.listen_fd)
            self._server = await loop.create_server(
                lambda: Socket(self), sock=listener, backlog=BACKLOG
            )
        else:
            self._server = await loop.create_server(
                lambda: Socket(self),
                o.host,
                o.port,
                backlog=BACKLOG,
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
        return self.admission.draining

    async def shutdown(self) -> None:
        """Close every socket with 1001 in batches with jitter, then stop.

        Closing all at once would send every display back at the same moment;
        batches spread the reconnects over the other replicas.
        """
        self.admission.draining = True
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
        self.meters.flush()
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
    def carry_out(self) -> int:
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
                self.spawn(self.subscriber.check_push(action.screens))
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
        self.carry_out()

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
        self.carry_out()

    def text_received(self, sock: Socket, data: bytes) -> None:
        self.node.receive_message(sock, data, self.clock())
        self.carry_out()

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
        self.carry_out()

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
        self.admission.upgrade(sock, request, path)

    def opened(self, sock: Socket, handshake: bytes, frames: list[str]) -> None:
        """Complete the handshake with ``frames`` (hello first), counted as open."""
        sock.open(handshake, [encode_frame(f) for f in frames])
        self._unsettled.discard(sock)
        sock.live = True
        if self.freezer is not None:
            self.freezer.admitted(1, self.clock())
        self.meters.open[sock.kind].inc()
        self.meters.accepted[sock.kind].inc()
        self.meters.delivered("hello", 1)

    def on_broker_message(self, topic: str, data: bytes) -> None:
        """What the broker delivers (it calls ``subscriber.on_message`` itself)."""
        self.subscriber.on_message(topic, data)

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
            self.spawn(self.subscriber.unsubscribe_unwanted())
        self.meters.broker(self.broker)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("gateway task failed", exc_info=task.exception())
