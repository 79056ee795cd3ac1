"""The gateway: accepts display sockets, feeds broker events through the hub to them.

One ``Gateway`` per process. It owns the pure ``Hub`` and ``Coalescer``
(``hallboard.realtime.core``) and is the thin I/O layer around them: the
listening socket (``connection.Socket`` per TCP connection), the broker, the
database (in threads, in batches), timers.

Batching is what keeps a reconnect storm cheap: sockets whose handshakes
arrive together are authenticated by one query (``db.authenticate_many``),
subscribed by one broker command, and what sockets report (heartbeats,
acknowledgements, disconnects) is written by one transaction at a time. A
batch starts as soon as the previous one is done, so under light load nothing
waits, and under heavy load batches grow instead of queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.utils import timezone

from hallboard import throttle
from hallboard.display.auth import DEVICE_KEY
from hallboard.observability import exposition, fleet, metrics, readiness
from hallboard.observability.access import token_matches
from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import events, messages, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.coalesce import Coalescer
from hallboard.realtime.core.hub import Hub
from hallboard.realtime.core.messages import (
    Ack,
    AlertAck,
    Heartbeat,
    InboundLimit,
    Ping,
    ProtocolError,
)
from hallboard.realtime.gateway import db, staff
from hallboard.realtime.gateway.connection import Kind, Phase, Socket, encode_frame
from hallboard.realtime.gateway.handshake import (
    HandshakeError,
    Request,
    check_upgrade,
    switching_protocols,
)
from hallboard.staff.frames import ScreenEvent, screen_frame

if TYPE_CHECKING:
    from hallboard.server.gctune import Freezer

logger = logging.getLogger("hallboard.realtime.gateway")

PONG_FRAME = encode_frame(messages.PONG)
#: A drain's pause between two batches is drain_interval times a factor drawn from here
#: (hallboard.server.drain derives how long a drain takes from it).
DRAIN_JITTER = (0.5, 1.5)
_HTTP_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_UNAUTHORIZED = json.dumps(
    {"error": "unauthorized", "detail": "Send Authorization: Bearer <METRICS_TOKEN>."}
).encode()


@dataclass(frozen=True)
class GatewayOptions:
    host: str = "127.0.0.1"
    port: int = 8001
    path: str = "/ws/display/"
    max_connections: int = 10_000
    coalesce_window: float = 2.0
    heartbeat_s: int = 30
    #: A socket silent this long gets a ping; one that stays silent as long again is dropped.
    ping_interval: float = 30.0
    slow_after: float = 10.0
    #: A socket's send buffer over this pauses writing to it (the hub's slow-client policy).
    write_limit: int = 64 * 1024
    #: A socket whose peer leaves more than this unread is dropped, in any phase.
    max_write_buffer: int = 256 * 1024
    db_threads: int = 8
    drain_batch: int = 500
    drain_interval: float = 0.2
    #: Most sockets authenticated by one query; batches in flight at once (one: measured
    #: fastest, each batch then takes everything that queued behind the last one).
    auth_batch: int = 500
    auth_concurrency: int = 1
    #: Seconds a client has to send its handshake, and to answer our close frame.
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    #: Live dashboards (gateway/staff.py): their path, and how long a socket may live.
    staff_path: str = staff.PATH
    staff_max_age: float = staff.MAX_AGE


@dataclass(slots=True)
class _Pending:
    sock: Socket
    handshake: bytes
    token: str
    device_key: str
    address: str = ""  # for hallboard.throttle


class Gateway:
    def __init__(
        self,
        broker: Broker,
        options: GatewayOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        freezer: Freezer | None = None,
    ) -> None:
        self.options = options or GatewayOptions()
        #: Freezes the objects of accumulated sockets for the collector (serving only).
        self.freezer = freezer
        self.broker = broker
        self.clock = clock
        self.hub: Hub[Socket] = Hub(slow_after=self.options.slow_after)
        self.coalescer = Coalescer(self.options.coalesce_window)
        self.executor = ThreadPoolExecutor(self.options.db_threads, thread_name_prefix="gw-db")
        #: Refused connects by close code; accepted sockets; server closes by code (metrics).
        self.refused: Counter[int] = Counter()
        self.accepted = 0
        self.closed_by_server: Counter[int] = Counter()
        self.db_errors = 0
        self._sockets: set[Socket] = set()
        #: Sockets not (or no longer) open: their timeouts are checked every second.
        self._unsettled: set[Socket] = set()
        #: Open staff sockets: their age is checked every second (they renew after staff_max_age).
        self._staff: set[Socket] = set()
        self._latest_rev: dict[int, int] = {}
        #: The alert each school with local screens shows (exact while subscribed).
        self._alerts: dict[int, dict[str, Any] | None] = {}
        self._server: asyncio.Server | None = None
        self._draining = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._timers: list[asyncio.Task[None]] = []
        self._coalesce_timer: asyncio.TimerHandle | None = None
        self._coalesce_at: float | None = None
        # Authentication batches.
        self._auth_queue: list[_Pending] = []
        self._auth_scheduled = False
        self._auth_inflight = 0
        self._pending = 0  # sockets handshaken, not yet admitted or refused
        # Broker subscriptions wanted / no longer wanted by the hub.
        self._to_subscribe: set[str] = set()
        self._to_unsubscribe: set[str] = set()
        self._subscribing = asyncio.Lock()
        # Database writes and the dashboard frames to publish once they are done.
        self._writes = db.Writes()
        self._writing = False
        self._after_write: list[tuple[int, dict[str, Any]]] = []
        self._dash_out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._user_out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._dash_scheduled = False
        self._sweep_round = 0
        self._broker_reported: dict[Any, int] = {}
        # Metric children, bound once (a label lookup per write would cost more than the write).
        gc = metrics.gateway_connections
        self._m_pending = gc.labels(kind="display", state="authenticating")
        self._m_open = {k: gc.labels(kind=k.name.lower(), state="open") for k in Kind}
        self._m_accepted = {
            k: metrics.gateway_connections_total.labels(kind=k.name.lower()) for k in Kind
        }
        self._m_delivered: dict[str, Any] = {}
        self._m_failed: dict[str, Any] = {}
        self._m_received: dict[str, Any] = {}
        self._m_ignored = {
            r: metrics.gateway_events_ignored_total.labels(reason=r) for r in events.REASONS
        }
        self._m_broker = metrics.broker_connected.labels(broker=broker.name)

    # --- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.broker.start(self.on_broker_message, self.resync)
        await self.broker.subscribe(topics.CONTROL)
        o = self.options
        self._server = await loop.create_server(
            lambda: Socket(self), o.host, o.port, backlog=2048, reuse_address=True
        )
        self._m_broker.set(1 if self.broker.state == "connected" else 0)
        self._timers = [
            asyncio.create_task(fleet.report_forever(), name="gateway-fleet-report"),
            asyncio.create_task(self._every(1.0, self._sweep), name="gateway-sweep"),
            asyncio.create_task(
                self._every(min(0.25, o.slow_after / 2), self._close_slow_clients),
                name="gateway-slow-clients",
            ),
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

    async def shutdown(self) -> None:
        """Close every socket with 1001 in batches with jitter, then stop.

        Closing all at once would send every display back at the same moment;
        batches spread the reconnects over the other replicas.
        """
        self._draining = True
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
        if self._coalesce_timer is not None:
            self._coalesce_timer.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        await self._flush_writes_now()
        await self.broker.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _every(self, interval: float, step: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                step()
            except Exception:
                logger.exception("gateway timer step failed")

    # --- sockets: called by connection.Socket -----------------------------------
    def socket_made(self, sock: Socket) -> None:
        self._sockets.add(sock)
        self._unsettled.add(sock)

    def socket_closing(self, sock: Socket) -> None:
        """The closing handshake started (either side): it must end within close_timeout."""
        self._unsettled.add(sock)

    def socket_lost(self, sock: Socket) -> None:
        self._sockets.discard(sock)
        self._unsettled.discard(sock)
        self._staff.discard(sock)
        if sock.live:
            self._m_open[sock.kind].dec()
        if sock not in self.hub:
            return
        freed = self.hub.remove(sock)
        self._unwant(freed)
        for topic in freed:
            if topic.startswith("school:"):
                school_id = int(topic[7:])
                self._latest_rev.pop(school_id, None)
                self._alerts.pop(school_id, None)
                self.coalescer.forget(school_id)
        if sock.kind == Kind.DISPLAY and sock.screen_id:
            self._writes.disconnected[sock.screen_id] = timezone.now()
            self._schedule_write()
            self._dash(sock.school_id, sock.screen_id, "disconnected", code=sock.close_code)

    def request_received(self, sock: Socket, request: Request) -> None:
        o = self.options
        path = request.path.rstrip("/")
        if path not in (o.path.rstrip("/"), o.staff_path.rstrip("/")):
            self._http(sock, request, path)
            return
        try:
            check_upgrade(request)
        except HandshakeError as exc:
            logger.info("HTTP request refused with %d: %s", exc.status, exc.detail)
            sock.respond(exc.status, exc.detail.encode() + b"\n")
            return
        handshake = switching_protocols(request.websocket_key)
        if path == o.staff_path.rstrip("/"):
            staff.admit(self, sock, request, handshake)
            return
        token = request.query.get("token", "")
        device_key = request.query.get("dk", "")
        address = throttle.socket_address(sock.peer(), request.headers.get("x-forwarded-for"))
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
        elif self.at_capacity():
            self.refuse(sock, handshake, CloseCode.TRY_AGAIN_LATER)
        else:
            self._pending += 1
            self._m_pending.inc()
            self._auth_queue.append(_Pending(sock, handshake, token, device_key, address))
            self._schedule_auth()

    def _http(self, sock: Socket, request: Request, path: str) -> None:
        """Plain HTTP on the gateway port: what load balancers and Prometheus ask a gateway."""
        if request.upgrade or request.method != "GET" or path not in _HTTP_PATHS:
            sock.respond(404, b"Not Found\n")
        elif path == "/healthz":
            sock.respond(200, b'{"status": "ok"}', content_type="application/json")
        elif path == "/metrics" and not token_matches(request.headers.get("authorization", "")):
            sock.respond(401, _UNAUTHORIZED, content_type="application/json")
        else:
            self.spawn(self._http_slow(sock, request, path))

    async def _http_slow(self, sock: Socket, request: Request, path: str) -> None:
        try:
            await self._http_answer(sock, request, path)
        except Exception as exc:  # one line, and an answer: never a socket left waiting
            logger.warning("%s on the gateway port failed: %s: %s", path, type(exc).__name__, exc)
            body = json.dumps({"error": "unavailable", "detail": type(exc).__name__}).encode()
            sock.respond(503, body, content_type="application/json")

    async def _http_answer(self, sock: Socket, request: Request, path: str) -> None:
        # Both read the database: in a thread, never on the loop.
        loop = asyncio.get_running_loop()
        if path == "/metrics":
            accept = request.headers.get("accept", "")
            body, content_type = await loop.run_in_executor(
                self.executor, exposition.render, accept
            )
            sock.respond(200, body, content_type=content_type)
            return
        ready, doc = await loop.run_in_executor(self.executor, readiness.checks)
        connected = self.broker.state == "connected"
        doc.setdefault("checks", {})["broker"] = {"ok": connected, "state": self.broker.state}
        if not connected:
            ready = False
            doc["failing"] = sorted({*doc.get("failing", []), "broker"})
            doc["status"] = "unavailable"
        body = json.dumps(doc).encode()
        sock.respond(200 if ready else 503, body, content_type="application/json")

    def text_received(self, sock: Socket, data: bytes) -> None:
        assert sock.inbound is not None
        try:
            if not sock.inbound.allow(self.clock()):
                raise ProtocolError(CloseCode.POLICY_VIOLATION, "too many messages")
            try:
                text = data.decode()
            except UnicodeDecodeError:
                raise ProtocolError(CloseCode.POLICY_VIOLATION, "text is not UTF-8") from None
            if sock.kind == Kind.STAFF:
                staff.text_received(self, sock, text)
                return
            message = messages.parse(text)
        except ProtocolError as exc:
            logger.info("screen %s closed: %s", sock.screen_id, exc.detail)
            self.close(sock, exc.code)
            return
        if isinstance(message, Ping):
            self.pong(sock)
        elif isinstance(message, Heartbeat):
            self._writes.heartbeats[sock.screen_id] = message
            self._writes.heartbeat_at[sock.screen_id] = timezone.now()
            if message.rev != sock.rev_shown:
                sock.rev_shown = message.rev
                self._after_write.append(
                    (sock.school_id, screen_frame(sock.school_id, sock.screen_id, "heartbeat"))
                )
            self._schedule_write()
        elif isinstance(message, Ack):
            self._writes.acks.append((sock.screen_id, message.id))
            self._schedule_write()
        elif isinstance(message, AlertAck):
            self._writes.alert_acks.append((sock.screen_id, message.alert, message.state))
            self._schedule_write()

    def pong(self, sock: Socket) -> None:
        if sock.write(PONG_FRAME):
            self._delivered("pong", 1)

    # --- admission (also used by gateway/staff.py) -----------------------------------
    @property
    def draining(self) -> bool:
        return self._draining

    def at_capacity(self) -> bool:
        return len(self.hub) + self._pending >= self.options.max_connections

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

    def close(self, sock: Socket, code: CloseCode, reason: str | None = None) -> None:
        if sock.close(int(code), reason or code.reason):
            self.count_close(int(code))

    def hold(self, sock: Socket, wanted: list[str]) -> list[str]:
        """Put ``sock`` on its topics before it is open; frames for it wait until it is.

        Returns the topics it is the first local listener of (to subscribe).
        """
        first = self.hub.add(sock, wanted)
        # The hub queues for congested sockets: "congested" until open (see open()).
        self.hub.congested(sock, self.clock())
        self._want(first)
        return first

    def open(self, sock: Socket, handshake: bytes, frames: list[bytes]) -> None:
        """Complete the handshake with ``frames``, then write what was held for it."""
        sock.open(handshake, frames)
        self._unsettled.discard(sock)
        if sock.kind == Kind.STAFF:
            self._staff.add(sock)
        sock.live = True
        if self.freezer is not None:
            self.freezer.admitted(1, self.clock())
        self._m_open[sock.kind].inc()
        self._m_accepted[sock.kind].inc()
        self._delivered("hello", 1)
        for held in self.hub.drained(sock):
            sock.write(encode_frame(held))

    def rejected(self, kind: str, what: str, error: str) -> None:
        """The database refused one row of a batch; the rest of the batch was written."""
        metrics.gateway_rows_rejected_total.labels(kind=kind).inc()
        logger.warning("database refused %s; the rest of its batch was written: %s", what, error)

    def dropped(self, sock: Socket, reason: str) -> None:
        """A socket is dropped without a closing handshake (counted, one line)."""
        metrics.gateway_dropped_total.labels(reason=reason).inc()
        logger.info(
            "%s socket from %s dropped while %s: %s",
            sock.kind.name.lower(),
            _source(sock),
            sock.phase.name.lower(),
            _DROP_REASONS.get(reason, reason),
        )

    def count_close(self, code: int) -> None:
        """An open socket closed by the server with ``code`` (policy, slow, revoked...)."""
        self.closed_by_server[code] += 1
        metrics.gateway_closed_total.labels(code=str(code)).inc()

    def _schedule_auth(self) -> None:
        if not self._auth_scheduled and self._auth_queue:
            self._auth_scheduled = True
            # call_soon: every handshake completed in this loop iteration joins the batch.
            asyncio.get_running_loop().call_soon(self._start_auth)

    def _start_auth(self) -> None:
        self._auth_scheduled = False
        o = self.options
        while self._auth_queue and self._auth_inflight < o.auth_concurrency:
            batch = self._auth_queue[: o.auth_batch]
            del self._auth_queue[: o.auth_batch]
            self._auth_inflight += 1
            self.spawn(self._authenticate(batch))

    async def _authenticate(self, batch: list[_Pending]) -> None:
        try:
            try:
                results = await db.run_db(
                    self.executor,
                    db.authenticate_many,
                    [(p.token, p.device_key) for p in batch],
                )
            except DatabaseError as exc:
                # The database is down (or deadlocked past the retries): displays keep
                # their last snapshot (stale banner) and retry with backoff.
                self.db_errors += 1
                logger.warning(
                    "%d display socket(s) refused with 1013: %s", len(batch), db.describe(exc)
                )
                results = [db.Refused(CloseCode.TRY_AGAIN_LATER)] * len(batch)
        except BaseException:
            self._pending -= len(batch)
            self._m_pending.dec(len(batch))
            raise
        else:
            await self._admit(batch, results)
        finally:
            self._auth_inflight -= 1
            self._schedule_auth()

    async def _admit(self, batch: list[_Pending], results: list[db.Accepted | db.Refused]) -> None:
        # From here the batch's sockets are in the hub (or refused): no longer pending.
        self._pending -= len(batch)
        self._m_pending.dec(len(batch))
        now = self.clock()
        admitted: list[tuple[_Pending, db.Accepted]] = []
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
                if result.screen_id is not None and result.school_id is not None:
                    self._dash(result.school_id, result.screen_id, "refused", code=int(result.code))
                continue
            sock.screen_id, sock.school_id = result.screen_id, result.school_id
            sock.inbound = InboundLimit(now)
            school_topic = topics.school(result.school_id)
            first = self.hold(sock, [school_topic, topics.screen(result.screen_id)])
            if school_topic in first:
                new_schools.add(result.school_id)
            admitted.append((pending, result))
        for code, count in refused.items():  # one line per code, however big the storm
            logger.info("%d display socket(s) refused: %s (%d)", count, code.reason, code)
        if not admitted:
            return
        await self.subscribe_wanted()
        if new_schools:
            # Changes committed between the token lookup and the subscription
            # reached no one here: read the state again now that we listen.
            try:
                revs, alerts = await db.run_db(self.executor, db.current_state, new_schools)
            except DatabaseError:
                revs, alerts = {}, {}
                logger.warning("database unavailable re-reading %d schools", len(new_schools))
            for school_id in new_schools:
                self._note_rev(school_id, revs.get(school_id, 0))
                if school_id in alerts:
                    self._alerts[school_id] = alerts[school_id]
        for pending, result in admitted:
            self._open(pending, result)

    def _open(self, pending: _Pending, result: db.Accepted) -> None:
        sock = pending.sock
        if sock.phase != Phase.PENDING:
            return  # closed meanwhile; socket_lost took it out of the hub
        school_id = result.school_id
        rev = self._note_rev(school_id, result.rev)
        alert = self._alerts.setdefault(school_id, result.alert)
        if alert is not None and _expired(alert):
            # Expiry is not an event: the lookup that admitted this socket is fresher.
            alert = self._alerts[school_id] = result.alert
        frames = [
            encode_frame(messages.hello(rev, result.screen_id, self.options.heartbeat_s, alert))
        ]
        frames += [encode_frame(messages.encode({"type": "command", **c})) for c in result.commands]
        self.open(sock, pending.handshake, frames)
        self.accepted += 1
        if result.commands:
            self._delivered("command", len(result.commands))
            self._writes.delivered.update(c["id"] for c in result.commands)
            self._schedule_write()
        self._dash(school_id, result.screen_id, "connected")

    def _note_rev(self, school_id: int, rev: int) -> int:
        latest = max(rev, self._latest_rev.get(school_id, 0))
        self._latest_rev[school_id] = latest
        return latest

    # --- broker subscriptions ----------------------------------------------------------
    def _want(self, first: Iterable[str]) -> None:
        for topic in first:
            if topic in self._to_unsubscribe:
                self._to_unsubscribe.discard(topic)  # still subscribed
            else:
                self._to_subscribe.add(topic)

    def _unwant(self, last: Iterable[str]) -> None:
        for topic in last:
            if topic in self._to_subscribe:
                self._to_subscribe.discard(topic)  # never got subscribed
            else:
                self._to_unsubscribe.add(topic)

    async def subscribe_wanted(self) -> None:
        """Subscribe every wanted topic (one broker command for all of them)."""
        async with self._subscribing:
            if self._to_subscribe:
                wanted, self._to_subscribe = self._to_subscribe, set()
                await self.broker.subscribe(*wanted)

    async def _unsubscribe_unwanted(self) -> None:
        async with self._subscribing:
            if self._to_unsubscribe:
                unwanted, self._to_unsubscribe = self._to_unsubscribe, set()
                await self.broker.unsubscribe(*unwanted)

    # --- events from the broker -------------------------------------------------
    def on_broker_message(self, topic: str, data: bytes) -> None:
        try:
            received = events.parse(topic, data)
        except events.EventError as exc:
            self._m_ignored[exc.reason].inc()
            logger.warning(
                "ignored an %s event %r on %s: %s", exc.reason, exc.kind, topic, exc.detail
            )
            return
        event = received.event
        counter = self._m_received.get(event.kind)
        if counter is None:
            counter = self._m_received[event.kind] = metrics.gateway_events_received_total.labels(
                kind=event.kind
            )
        counter.inc()
        written = self._on_event(topic, event)
        if written and received.ts is not None:
            # Clamped: the publisher may run on another host with another clock.
            metrics.push_latency_seconds.observe(max(0.0, time.time() - received.ts))

    def _on_event(self, topic: str, event: events.Event) -> int:
        """Act on one broker event; how many frames were written now."""
        if isinstance(event, events.Invalidate):
            school_id, rev = event.school, event.rev
            self._note_rev(school_id, rev)
            send = self.coalescer.offer(school_id, rev, self.clock())
            if send is not None:
                return self._write(topic, messages.invalidate(send), rev=send)
            metrics.gateway_coalesced_total.inc()
            self._arm_coalesce_timer()
        elif isinstance(event, events.AlertChanged):  # never delayed by coalescing
            if event.school in self._alerts:
                self._alerts[event.school] = event.alert
            return self._write(topic, messages.alert(event.alert, event.cleared), mtype="alert")
        elif isinstance(event, events.Command):
            frame = messages.encode(
                {"type": "command", "id": event.id, "name": event.name, **event.payload}
            )
            written = self._write(topic, frame, mtype="command")
            if written:
                self._writes.delivered.add(event.id)
                self._schedule_write()
            return written
        elif isinstance(event, events.CloseScreen):
            for sock in self.hub.listeners(topic):
                self.close(sock, event.code)
        elif isinstance(event, events.FlagsChanged):
            self.spawn(self._apply_flags())
        elif isinstance(event, events.StaffFrames):  # for staff sockets: written as they are
            return sum(self._write(topic, messages.encode(f), mtype="staff") for f in event.frames)
        return 0

    def _write(
        self, topic: str, text: str, *, rev: int | None = None, mtype: str = "invalidate"
    ) -> int:
        """Write ``text`` to the topic's sockets that can take it now; how many took it."""
        stats = self.hub.stats
        dropped = stats.dropped
        ready = self.hub.deliver(topic, text, rev=rev)
        written = 0
        if ready:
            frame = encode_frame(text)
            for sock in ready:
                written += sock.write(frame)
        failed = len(ready) - written + stats.dropped - dropped
        if written:
            self._delivered(mtype, written)
        if failed:
            child = self._m_failed.get(mtype)
            if child is None:
                child = self._m_failed[mtype] = metrics.gateway_messages_failed_total.labels(
                    type=mtype
                )
            child.inc(failed)
        return written

    def _delivered(self, mtype: str, count: int) -> None:
        child = self._m_delivered.get(mtype)
        if child is None:
            child = self._m_delivered[mtype] = metrics.gateway_messages_delivered_total.labels(
                type=mtype
            )
        child.inc(count)

    def _arm_coalesce_timer(self) -> None:
        deadline = self.coalescer.next_deadline()
        if deadline is None or (self._coalesce_at is not None and self._coalesce_at <= deadline):
            return
        if self._coalesce_timer is not None:
            self._coalesce_timer.cancel()
        self._coalesce_at = deadline
        self._coalesce_timer = asyncio.get_running_loop().call_later(
            max(0.0, deadline - self.clock()), self._coalesce_due
        )

    def _coalesce_due(self) -> None:
        self._coalesce_timer = self._coalesce_at = None
        for school_id, rev in self.coalescer.due(self.clock()):
            self._write(topics.school(school_id), messages.invalidate(rev), rev=rev)
        self._arm_coalesce_timer()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _apply_flags(self) -> None:
        socks = [s for s in self.hub.connections() if s.kind == Kind.DISPLAY]
        states = await db.run_db(self.executor, db.push_states, {s.screen_id for s in socks})
        for sock in socks:
            if not states.get(sock.screen_id, False):
                self.close(sock, CloseCode.PUSH_DISABLED)

    async def resync(self) -> None:
        """After a broker outage: tell every local screen its school's current revision.

        Rate-limited in batches of schools so a large gateway does not make every
        display fetch its snapshot in the same instant.
        """
        school_ids = sorted(self._latest_rev)
        revs, alerts = await db.run_db(self.executor, db.current_state, school_ids)
        for start in range(0, len(school_ids), 50):
            for school_id in school_ids[start : start + 50]:
                rev = revs.get(school_id)
                if rev is None:
                    continue
                rev = self._note_rev(school_id, rev)
                topic = topics.school(school_id)
                if school_id in self._alerts and self._alerts[school_id] != alerts.get(school_id):
                    self._alerts[school_id] = alerts.get(school_id)
                    self._write(topic, messages.alert(alerts.get(school_id)))
                self._write(topic, messages.invalidate(rev), rev=rev)
            await asyncio.sleep(0.05)

    # --- what sockets report, written in batches ---------------------------------------
    def _schedule_write(self) -> None:
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().call_soon(self._start_write)

    def _start_write(self) -> None:
        self.spawn(self._write_batch())

    async def _write_batch(self) -> None:
        try:
            while self._writes:
                batch, self._writes = self._writes, db.Writes()
                frames, self._after_write = self._after_write, []
                try:
                    written = await db.run_db(self.executor, db.write, batch)
                except DatabaseError as exc:
                    # Database away (or deadlocked past the retries). A lost heartbeat
                    # or ack must not drop the push channel; the next ones are written.
                    self.db_errors += 1
                    logger.warning("what screens reported was not written: %s", db.describe(exc))
                    continue
                for row in written.rejected:
                    self.rejected(row.kind, row.what, row.error)
                for school_id, frame in frames:
                    self._dash_out[school_id].append(frame)
                for info in [*written.delivered, *written.acknowledged]:
                    user_id = info.pop("user")
                    frame = {"type": "command", **info}
                    self._dash_out[info["school"]].append(frame)
                    if user_id is not None:
                        self._user_out[user_id].append(frame)
                self._schedule_dash()
        finally:
            self._writing = False
            if self._writes and not self._draining:
                self._schedule_write()

    async def _flush_writes_now(self) -> None:
        """At shutdown: let the batch being written finish, then write what is left, so no
        write runs in the database threads after the gateway has stopped."""
        deadline = self.clock() + self.options.close_timeout
        while self._writing and self.clock() < deadline:
            await asyncio.sleep(0.01)
        if self._writes:
            with contextlib.suppress(Exception):
                await db.run_db(self.executor, db.write, self._writes)
            self._writes = db.Writes()

    # --- dashboard frames ---------------------------------------------------------------
    def _dash(
        self, school_id: int, screen_id: int, event: ScreenEvent, code: int | None = None
    ) -> None:
        self._dash_out[school_id].append(screen_frame(school_id, screen_id, event, code))
        self._schedule_dash()

    def _schedule_dash(self) -> None:
        if not self._dash_scheduled and (self._dash_out or self._user_out):
            self._dash_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_dash)

    def _start_dash(self) -> None:
        self.spawn(self._publish_dash())

    async def _publish_dash(self) -> None:
        """Staff frames: one event per school (or user) per round, all rounds' events in one
        broker command, one round at a time: a storm of ten thousand connects costs a few
        pipelined publishes, not ten thousand."""
        try:
            while self._dash_out or self._user_out:
                dash, self._dash_out = self._dash_out, defaultdict(list)
                users, self._user_out = self._user_out, defaultdict(list)
                ts = time.time()
                out = [events.StaffFrames.dashboard(sid, *f) for sid, f in dash.items()]
                out += [events.StaffFrames.user(uid, *f) for uid, f in users.items()]
                await self.broker.publish([(e.topic, events.encode(e, ts)) for e in out])
        finally:
            self._dash_scheduled = False
            if (self._dash_out or self._user_out) and not self._draining:
                self._schedule_dash()

    # --- timers ---------------------------------------------------------------------------
    def _close_slow_clients(self) -> None:
        for sock in self.hub.slow_clients(self.clock()):
            logger.warning("screen %s is a slow client; closing", sock.screen_id)
            metrics.gateway_slow_client_disconnects_total.inc()
            self.close(sock, CloseCode.SLOW_CLIENT)  # its connection_lost then leaves the hub

    def _sweep(self) -> None:
        """Once a second: a slice of the sockets, so each is looked at every ping interval.

        Silent sockets get a ping; sockets silent for another interval after it,
        handshakes and closing handshakes that take too long are dropped.
        """
        o = self.options
        rounds = max(1, int(o.ping_interval))
        self._sweep_round = (self._sweep_round + 1) % rounds
        now = self.clock()
        for sock in list(self._sockets)[self._sweep_round :: rounds]:
            if sock.phase != Phase.OPEN:
                continue
            if sock.ping_sent_at is not None:
                if now - sock.ping_sent_at > o.ping_interval:
                    sock.drop("ping_timeout")
            elif now - sock.last_seen > o.ping_interval:
                sock.ping(now)
        for sock in list(self._staff):
            staff.expire(self, sock, now)
        if self.freezer is not None and self.freezer.tick(now):
            logger.info("gc: objects of %d sockets frozen", len(self.hub))
        for sock in list(self._unsettled):
            # PENDING sockets wait for their batch (it always ends, if only with 1013).
            # Both deadlines are fixed: nothing the peer sends moves them.
            if sock.phase == Phase.CLOSING:
                assert sock.closing_at is not None
                if now - sock.closing_at > o.close_timeout:
                    sock.drop("close_timeout")
            elif sock.phase == Phase.HANDSHAKE and now - sock.opened_at > o.open_timeout:
                sock.drop("open_timeout")
        if self._to_unsubscribe:
            self.spawn(self._unsubscribe_unwanted())
        self._report_broker()

    def _report_broker(self) -> None:
        """The broker's state and counters as metrics (the broker itself knows no metrics)."""
        broker = self.broker
        self._m_broker.set(1 if broker.state == "connected" else 0)
        for counter, value in (
            (metrics.broker_reconnects_total, broker.reconnects),
            (metrics.broker_resync_failures_total, broker.resync_failures),
            (metrics.broker_callback_errors_total, broker.callback_errors),
        ):
            seen = self._broker_reported.get(counter, 0)
            if value > seen:
                counter.inc(value - seen)
                self._broker_reported[counter] = value


_DROP_REASONS = {
    "open_timeout": "no complete request within the open timeout",
    "close_timeout": "the closing handshake did not end within the close timeout",
    "ping_timeout": "no answer to a ping",
    "flood": "sent more than a closing or pending socket may",
    "buffer": "left more than the write buffer's limit unread",
    "error": "an unexpected error",
}


def _source(sock: Socket) -> str:
    """The peer's address (the proxy's, behind one)."""
    transport = sock.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def _expired(alert: dict[str, Any]) -> bool:
    expires = alert.get("expires_at")
    if not isinstance(expires, str):
        return False
    return dt.datetime.fromisoformat(expires) <= dt.datetime.now(dt.UTC)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("gateway task failed", exc_info=task.exception())
