"""The gateway: accepts display sockets, feeds broker events through the hub to them.

One ``Gateway`` per process. It owns the pure ``Hub`` and ``Coalescer``
(``hallboard.realtime.core``) and is the thin I/O layer around them: the
`websockets` server, the broker, the database (in threads), timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import messages, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.coalesce import Coalescer
from hallboard.realtime.core.hub import Hub
from hallboard.realtime.core.messages import Ack, Heartbeat, InboundLimit, Ping, ProtocolError
from hallboard.realtime.gateway import db, staff

logger = logging.getLogger("hallboard.realtime.gateway")


@dataclass(frozen=True)
class GatewayOptions:
    host: str = "127.0.0.1"
    port: int = 8001
    path: str = "/ws/display/"
    max_connections: int = 10_000
    coalesce_window: float = 2.0
    heartbeat_s: int = 30
    ping_interval: float = 30.0
    slow_after: float = 10.0
    write_limit: int = 64 * 1024
    db_threads: int = 8
    drain_batch: int = 500
    drain_interval: float = 0.2
    staff_path: str = staff.PATH  # live dashboards (gateway/staff.py)
    staff_max_age: float = staff.MAX_AGE


class DisplayConnection(ServerConnection):
    """A display's socket: knows its screen, and tells the hub about back-pressure."""

    gateway: Gateway | None = None
    screen_id: int = 0
    school_id: int = 0
    inbound: InboundLimit | None = None
    user_id: int = 0  # set on staff sockets (gateway/staff.py), which serve no screen

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.gateway is not None:
            self.gateway.hub.congested(self, self.gateway.clock())

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.gateway is not None:
            for frame in self.gateway.hub.drained(self):
                broadcast([self], frame)


class Gateway:
    def __init__(
        self,
        broker: Broker,
        options: GatewayOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options or GatewayOptions()
        self.broker = broker
        self.clock = clock
        self.hub: Hub[DisplayConnection] = Hub(slow_after=self.options.slow_after)
        self.coalescer = Coalescer(self.options.coalesce_window)
        self.executor = ThreadPoolExecutor(self.options.db_threads, thread_name_prefix="gw-db")
        #: Refused connections by close code, accepted and closed counts (metrics).
        self.refused: Counter[int] = Counter()
        self.accepted = 0
        self.closed_by_server: Counter[int] = Counter()
        self.db_errors = 0
        self._latest_rev: dict[int, int] = {}
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._draining = False
        self._tasks: set[asyncio.Future[Any]] = set()

    # --- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        await self.broker.start(self.on_broker_message, self.resync)
        await self.broker.subscribe(topics.CONTROL)
        o = self.options
        self._server = await serve(
            self.handle,
            o.host,
            o.port,
            create_connection=DisplayConnection,
            compression=None,  # tiny messages: deflate would triple memory per socket
            max_size=messages.MAX_FRAME_BYTES,  # larger frames close with 1009
            max_queue=4,
            write_limit=o.write_limit,
            ping_interval=o.ping_interval,
            ping_timeout=o.ping_interval,
            process_request=self._check_path,
            server_header=None,
            backlog=2048,
        )
        self._ticker = asyncio.create_task(self._tick(), name="gateway-ticker")
        logger.info("gateway listening on %s:%s%s", o.host, self.port, o.path)

    @property
    def port(self) -> int:
        if self._server is None:
            return self.options.port
        return int(self._server.sockets[0].getsockname()[1])

    async def shutdown(self) -> None:
        """Close every socket with 1001 in batches with jitter, then stop.

        Closing all at once would send every display back at the same moment;
        batches spread the reconnects over the other replicas.
        """
        self._draining = True
        if self._server is not None:
            self._server.close(close_connections=False)
        conns = self.hub.connections()
        random.shuffle(conns)
        batch = self.options.drain_batch
        for start in range(0, len(conns), batch):
            for conn in conns[start : start + batch]:
                self._close(conn, CloseCode.GOING_AWAY)
            if start + batch < len(conns):
                interval = self.options.drain_interval
                await asyncio.sleep(interval * random.uniform(0.5, 1.5))  # noqa: S311
        if self._server is not None:
            await self._server.wait_closed()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.broker.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- connections ------------------------------------------------------------
    def _check_path(self, connection: ServerConnection, request: Any) -> Any:
        path = urllib.parse.urlsplit(request.path).path
        if path.rstrip("/") != self.options.path.rstrip("/") and not staff.is_staff(
            request, self.options.staff_path
        ):
            return connection.respond(404, "Not Found\n")
        return None

    def _refuse(self, conn: DisplayConnection, code: CloseCode) -> None:
        self.refused[int(code)] += 1
        logger.info("display socket refused: %s (%d)", code.reason, code)

    def _close(self, conn: DisplayConnection, code: CloseCode) -> None:
        self.closed_by_server[int(code)] += 1
        self._spawn(conn.close(int(code), code.reason))

    async def handle(self, connection: ServerConnection) -> None:
        assert isinstance(connection, DisplayConnection)
        conn = connection
        request = conn.request
        if staff.is_staff(request, self.options.staff_path):
            await staff.serve(self, conn)
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query) if request else {}
        token = (query.get("token") or [""])[0]
        device_key = (query.get("dk") or [""])[0]
        if self._draining:
            self._refuse(conn, CloseCode.GOING_AWAY)
            await conn.close(CloseCode.GOING_AWAY, CloseCode.GOING_AWAY.reason)
            return
        if not token or not device_key:
            self._refuse(conn, CloseCode.MISSING_PARAMETERS)
            await conn.close(CloseCode.MISSING_PARAMETERS, CloseCode.MISSING_PARAMETERS.reason)
            return
        if len(self.hub) >= self.options.max_connections:
            self._refuse(conn, CloseCode.TRY_AGAIN_LATER)
            await conn.close(CloseCode.TRY_AGAIN_LATER, CloseCode.TRY_AGAIN_LATER.reason)
            return
        try:
            result = await db.run_db(self.executor, db.authenticate, token, device_key)
        except DatabaseError:
            # The database is down: the display keeps its last snapshot (stale
            # banner) and retries with backoff.
            logger.exception("database unavailable while authenticating a display")
            result = CloseCode.TRY_AGAIN_LATER
        if isinstance(result, CloseCode):
            self._refuse(conn, result)
            await conn.close(int(result), result.reason)
            return
        await self._serve_screen(conn, result)

    async def _serve_screen(self, conn: DisplayConnection, screen: db.Accepted) -> None:
        conn.gateway = self
        conn.screen_id, conn.school_id = screen.screen_id, screen.school_id
        conn.inbound = InboundLimit(self.clock())
        school_topic = topics.school(screen.school_id)
        first = self.hub.add(conn, [school_topic, topics.screen(screen.screen_id)])
        try:
            for topic in first:
                await self.broker.subscribe(topic)
            rev = max(screen.rev, self._latest_rev.get(screen.school_id, 0))
            if school_topic in first:
                # Changes committed between the token check and the subscription
                # reached no one here: read the revision again now we listen.
                rev = max(rev, await db.run_db(self.executor, db.revision, screen.school_id))
            self._latest_rev[screen.school_id] = max(rev, self._latest_rev.get(screen.school_id, 0))
            self.accepted += 1
            await conn.send(messages.hello(rev, screen.screen_id, self.options.heartbeat_s))
            await db.run_db(self.executor, db.mark_connected, screen.screen_id)
            await self._send_pending_commands(conn)
            await self._receive(conn)
        except ConnectionClosed:
            pass
        finally:
            for topic in self.hub.remove(conn):
                await self.broker.unsubscribe(topic)

    async def _send_pending_commands(self, conn: DisplayConnection) -> None:
        pending = await db.run_db(self.executor, db.pending_commands, conn.screen_id)
        for command in pending:
            await conn.send(messages.encode({"type": "command", **command}))
        if pending:
            await db.run_db(self.executor, db.mark_delivered, [c["id"] for c in pending])

    async def _receive(self, conn: DisplayConnection) -> None:
        assert conn.inbound is not None
        async for frame in conn:
            try:
                if not conn.inbound.allow(self.clock()):
                    raise ProtocolError(CloseCode.POLICY_VIOLATION, "too many messages")
                message = messages.parse(frame)
            except ProtocolError as exc:
                logger.info("screen %s closed: %s", conn.screen_id, exc.detail)
                self.closed_by_server[int(exc.code)] += 1
                await conn.close(int(exc.code), exc.code.reason)
                return
            try:
                if isinstance(message, Ping):
                    await conn.send(messages.PONG)
                elif isinstance(message, Heartbeat):
                    await db.run_db(self.executor, db.record_heartbeat, conn.screen_id, message)
                elif isinstance(message, Ack):
                    await db.run_db(self.executor, db.acknowledge, conn.screen_id, message.id)
            except DatabaseError:
                # A lost heartbeat or ack must not drop the push channel.
                self.db_errors += 1
                logger.warning("database error recording %s", type(message).__name__.lower())

    # --- events from the broker -------------------------------------------------
    def on_broker_message(self, topic: str, data: bytes) -> None:
        try:
            event = json.loads(data)
            kind = event["e"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed event on %s", topic)
            return
        if kind == "invalidate":
            school_id, rev = int(event["school"]), int(event["rev"])
            self._latest_rev[school_id] = max(rev, self._latest_rev.get(school_id, 0))
            send = self.coalescer.offer(school_id, rev, self.clock())
            if send is not None:
                self._write(topic, messages.invalidate(send), rev=send)
        elif kind == "alert":  # never delayed by coalescing
            school_id = int(event["school"])
            frame = messages.encode({"type": "alert", "rev": self._latest_rev.get(school_id, 0)})
            self._write(topic, frame)
        elif kind == "command":
            frame = messages.encode(
                {"type": "command", "id": event["id"], "name": event["name"], **event["payload"]}
            )
            if self._write(topic, frame):
                self._spawn(db.run_db(self.executor, db.mark_delivered, [int(event["id"])]))
        elif kind == "close":
            for conn in self.hub.listeners(topic):
                self._close(conn, CloseCode(int(event["code"])))
        elif kind == "flags":
            self._spawn(self._apply_flags())
        elif kind == "frame":  # for staff sockets: written as it is
            self._write(topic, messages.encode(event["frame"]))

    def _write(self, topic: str, frame: str, *, rev: int | None = None) -> int:
        ready = self.hub.deliver(topic, frame, rev=rev)
        if ready:
            broadcast(ready, frame)
        return len(ready)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _apply_flags(self) -> None:
        conns = [c for c in self.hub.connections() if not c.user_id]  # displays only
        states = await db.run_db(self.executor, db.push_states, {c.screen_id for c in conns})
        for conn in conns:
            if not states.get(conn.screen_id, False):
                self._close(conn, CloseCode.PUSH_DISABLED)

    async def resync(self) -> None:
        """After a broker outage: tell every local screen its school's current revision.

        Rate-limited in batches of schools so a large gateway does not make every
        display fetch its snapshot in the same instant.
        """
        school_ids = sorted({c.school_id for c in self.hub.connections()})
        revs = await db.run_db(self.executor, db.revisions, school_ids)
        for start in range(0, len(school_ids), 50):
            for school_id in school_ids[start : start + 50]:
                rev = revs.get(school_id)
                if rev is None:
                    continue
                self._latest_rev[school_id] = max(rev, self._latest_rev.get(school_id, 0))
                self._write(topics.school(school_id), messages.invalidate(rev), rev=rev)
            await asyncio.sleep(0.05)

    # --- timers -------------------------------------------------------------------
    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = self.clock()
            for school_id, rev in self.coalescer.due(now):
                self._write(topics.school(school_id), messages.invalidate(rev), rev=rev)
            for conn in self.hub.slow_clients(now):
                logger.warning("screen %s is a slow client; closing", conn.screen_id)
                self._close(conn, CloseCode.SLOW_CLIENT)  # its handler then leaves the hub


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("gateway task failed", exc_info=task.exception())
