"""A load-test client process: thousands of simulated screens on one event loop.

Started by the coordinator (``hallboard.loadtest.clients``) as
``python -m hallboard.loadtest.worker``; it does not import Django, so it costs
little memory and starts fast. Commands arrive as JSON lines on stdin; events
go back as JSON lines on stdout, batched every 50 ms:

``{"ev": "rows", "rows": [[screen, kind, value, time, ...], ...], "stats": {...}}``

Row kinds: ``h`` hello (value: rev; 5th field: when the attempt started),
``i`` invalidate (rev), ``a`` alert (rev), ``x`` any other server message
(its type), ``c`` an open socket closed (close code; 1006 without a close
frame), ``f`` a connection attempt failed (reason: ``close:4409``,
``http:503``, ``timeout``, ``refused``, ``reset``, ``error:EMFILE``...),
``p`` a poll answered 200 (rev), ``e`` a poll failed (reason). Times are
``time.time()``: the same clock the coordinator stamps its edits with.

Reconnecting (while the coordinator has set a reconnect policy: the churn and
the storm) is a display's: after a socket closes or an attempt fails, the
core's rule for the close code (``hallboard.realtime.core.close_codes``:
``retry_for``, ``reconnect_bounds``) says whether and after how long; a failed
or abandoned attempt (timeout, refused, reset, an HTTP refusal) is the network's
case, exponential backoff with full jitter from the core's bounds. Giving up on
a handshake (``handshake_timeout``) is such a failure: the next attempt waits
its backoff like any other, never at once.

A push screen is a raw asyncio Protocol speaking the client side of RFC 6455
(``wsframes``); a polling screen keeps one HTTP/1.1 connection alive
(``http1``) and polls the status endpoint with ``If-None-Match``, adaptively
like the display page (minimum interval after a change, 1.5 times longer per unchanged
answer up to the maximum).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import os
import random
import socket
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, cast

from hallboard.loadtest import http1, wsframes
from hallboard.realtime.core.close_codes import (
    CloseCode,
    Retry,
    reconnect_bounds,
    retry_for,
)
from hallboard.server import gctune

#: Reasons after which a display falls back to polling (4409).
POLL_INSTEAD = frozenset(f"close:{int(code)}" for code in CloseCode if code.retry is Retry.SLOW)
FLUSH_SECONDS = 0.05


class GcWatch(gctune.PauseClock):
    """This process's garbage-collector pauses (count and longest), from ``gc.callbacks``.

    A load client is a measuring device: a pause of its own delays the receive times it
    stamps, so the run reports them (``stats``) next to the latencies they could inflate.
    """

    def __init__(self) -> None:
        super().__init__(self._paused)
        self.pauses = 0
        self.longest = 0.0

    def _paused(self, generation: int, seconds: float) -> None:
        self.pauses += 1
        self.longest = max(self.longest, seconds)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)


def retry_rule(reason: str) -> Retry:
    """The core's rule for why a socket ended or an attempt failed: ``close:<code>`` is that
    code's rule; anything else (``timeout``, ``refused``, ``reset``, ``closed`` without a
    close frame, ``http:503``...) is what a display sees as 1006: ``DEFAULT_RETRY``."""
    code = None
    if reason.startswith("close:"):
        with contextlib.suppress(ValueError):
            code = int(reason.removeprefix("close:"))
    return retry_for(code)


class Screen:
    __slots__ = (
        "backoff_step",
        "client",
        "dk",
        "etag",
        "idx",
        "mode",
        "polling",
        "retry",
        "rev",
        "school",
        "source",
        "token",
    )

    def __init__(self, idx: int, school: int, token: str, dk: str, mode: str) -> None:
        self.idx, self.school, self.token, self.dk, self.mode = idx, school, token, dk, mode
        self.source: str | None = None  # the loopback address it connects from, if chosen
        self.client: WsClient | None = None
        self.rev = 0
        self.etag = ""
        self.polling: asyncio.Task[None] | None = None
        self.backoff_step = 0  # backoffs in a row since the last hello
        self.retry: asyncio.TimerHandle | None = None  # the reconnect waiting its delay


class WsClient(asyncio.Protocol):
    """One display socket: handshake, then text/ping/close frames from the server."""

    __slots__ = (
        "buffer",
        "closing",
        "dropped",
        "key",
        "opened",
        "parser",
        "release",
        "screen",
        "settled",
        "started",
        "task",
        "timer",
        "transport",
        "worker",
    )

    def __init__(self, worker: Worker, screen: Screen) -> None:
        self.worker, self.screen = worker, screen
        self.transport: asyncio.Transport | None = None
        self.key = wsframes.new_key()
        self.buffer = bytearray()
        self.parser: wsframes.FrameParser | None = None  # set once the handshake is done
        self.opened = False  # hello received
        self.settled = False  # the attempt succeeded or failed (reported once)
        self.closing = False
        self.dropped = False  # closed on purpose by this worker: not a failure
        self.started = time.time()
        self.timer: asyncio.TimerHandle | None = None
        self.release: Callable[[], None] | None = None  # frees an in-flight slot when settled
        self.task: asyncio.Future[None] | None = None  # the TCP connect, until it is made

    # --- asyncio.Protocol ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        if self.settled or self.dropped:  # timed out or dropped while connecting: too late
            self.transport.abort()
            return
        self.transport.write(
            wsframes.handshake_request(*self.worker.ws_target(self.screen), self.key)
        )

    def data_received(self, data: bytes) -> None:
        if self.parser is None:
            self.buffer += data
            try:
                parsed = wsframes.parse_handshake(self.buffer)
            except wsframes.FrameError:
                self.fail("handshake:malformed")
                return
            if parsed is None:
                return
            response, used = parsed
            problem = wsframes.check_upgrade(response, self.key)
            if problem is not None:
                self.fail(problem)
                return
            self.parser = wsframes.FrameParser()
            data = bytes(self.buffer[used:])
            self.buffer = bytearray()
            if not data:
                return
        try:
            frames = self.parser.feed(data)
        except wsframes.FrameError as exc:
            self.send_close(exc.code)
            self.finish(exc.code)
            return
        now = time.time()
        for opcode, payload in frames:
            if opcode == wsframes.OP_TEXT:
                self.worker.on_text(self, payload, now)
            elif opcode == wsframes.OP_PING:
                self.write(wsframes.encode_frame(wsframes.OP_PONG, payload))
            elif opcode == wsframes.OP_CLOSE:
                try:
                    code, _ = wsframes.parse_close(payload)
                except wsframes.FrameError:
                    code = 1002
                self.send_close(code if 1000 <= code < 5000 and code not in (1005, 1006) else 1000)
                self.finish(code)
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(wsframes.ABNORMAL_CLOSURE, exc)

    # --- helpers ------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_close(self, code: int = 1000) -> None:
        if not self.closing:
            self.closing = True
            self.write(wsframes.close_frame(code))

    def settle(self) -> None:
        """The attempt is over (hello, failure or dropped): free its in-flight slot."""
        self.settled = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.release is not None:
            self.release()
            self.release = None

    def fail(self, reason: str) -> None:
        """The attempt failed before hello (the socket is closed)."""
        if not self.settled:
            self.settle()
            self.worker.on_failed(self, reason)
        self.abort()

    def finish(self, code: int, exc: BaseException | None = None) -> None:
        """The socket ended: a failure before hello, a close after it."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.opened:
            self.opened = False
            self.worker.on_closed(self, code)
        elif not self.settled:
            self.settle()
            self.worker.on_failed(self, _reason_for_close(code, exc))
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.abort()
        elif self.task is not None and not self.task.done():
            self.task.cancel()  # still connecting (SYN retries): give its socket back now

    def on_timeout(self) -> None:
        self.timer = None
        self.fail("timeout")


def _reason_for_close(code: int, exc: BaseException | None) -> str:
    if code != wsframes.ABNORMAL_CLOSURE:
        return f"close:{code}"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    return "closed"  # closed without a close frame before hello


def _reason_for_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno:
        return f"error:{errno.errorcode.get(exc.errno, exc.errno)}"
    return f"error:{type(exc).__name__}"


#: Linux: bind an address now, choose the port at connect() (include/uapi/linux/in.h).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


async def connect_from(source: str | None, host: str, port: int) -> socket.socket:
    """A TCP connection to ``host:port`` from the address ``source`` (any port).

    ``create_connection(local_addr=(source, 0))`` binds a port first: the kernel
    then searches the whole ephemeral range for one, which at thousands of
    sockets cost most of the load generator's CPU. With IP_BIND_ADDRESS_NO_PORT
    the port is chosen at connect() time, from the four-tuple, at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def assign_sources(
    screens: Iterable[Screen], sources: list[str], port_of: Callable[[Screen], int]
) -> None:
    """Give each screen its source address: round-robin over ``sources`` among the screens
    of each gateway port (every source and port pair has its own ephemeral range)."""
    if not sources:
        return
    seen: Counter[int] = Counter()
    for screen in sorted(screens, key=lambda s: s.idx):
        port = port_of(screen)
        screen.source = sources[seen[port] % len(sources)]
        seen[port] += 1


class Worker:
    def __init__(
        self,
        config: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock  # the reconnect policy's deadline is on the coordinator's time.time()
        self.random = rng or random.Random()  # noqa: S311 - jitter, not crypto
        target = config["target"]
        self.host: str = target["host"]
        self.ws_ports: list[int] = [int(target["ws_port"]), *target.get("more_ws_ports", [])]
        self.http_port: int = int(target["http_port"])
        self.ws_path: str = target["ws_path"]
        self.status_path: str = target["status_path"]
        #: Loopback source addresses: no address carries more sockets than its ephemeral
        #: ports allow (clients.PER_SOURCE); see assign_sources.
        self.sources: list[str] = list(config.get("sources") or [])
        self.handshake_timeout: float = float(config.get("handshake_timeout", 10.0))
        self.fallback: bool = bool(config.get("poll_fallback", True))
        self.screens = {
            int(i): Screen(int(i), int(school), token, dk, mode)
            for i, school, token, dk, mode in config["screens"]
        }
        assign_sources(self.screens.values(), self.sources, self.ws_port)
        self.rows: list[list[Any]] = []
        self.counters: Counter[str] = Counter()
        self.open = 0
        self.connecting = 0
        self.reconnect: dict[str, Any] | None = None  # policy for sockets that end
        self.poll_min = 8.0
        self.poll_max = 45.0
        self.poll_timeout = 10.0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._stop = asyncio.Event()
        #: Held sockets are long-lived: their objects are frozen out of the collector's
        #: reach once a connect burst settles, as the gateway does (server/gctune.py),
        #: so full collections stay short and do not delay the receive times stamped here.
        self.freezer = gctune.Freezer()
        self.gc = GcWatch()

    # --- wiring -------------------------------------------------------------------
    def ws_target(self, screen: Screen) -> tuple[str, int, str]:
        query = urllib.parse.urlencode({"token": screen.token, "dk": screen.dk})
        return self.host, self.ws_port(screen), f"{self.ws_path}?{query}"

    def ws_port(self, screen: Screen) -> int:
        return self.ws_ports[screen.idx % len(self.ws_ports)]

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def emit(self, *row: Any) -> None:
        self.rows.append(list(row))

    # --- events from sockets ------------------------------------------------------
    def on_text(self, client: WsClient, payload: bytes, now: float) -> None:
        screen = client.screen
        if screen.client is not client:  # an attempt given up on (timeout, drop): not this screen's
            client.abort()
            return
        self.counters["frames"] += 1
        try:
            message = json.loads(payload)
            kind = message.get("type")
        except (ValueError, AttributeError):
            self.emit(screen.idx, "x", "malformed", now)
            return
        rev = message.get("rev")
        if isinstance(rev, int) and rev > screen.rev:
            screen.rev = rev
        if kind == "hello":
            if not client.opened:
                client.opened = True
                client.settle()
                self.open += 1
                self.connecting -= 1
                screen.backoff_step = 0
                self.freezer.admitted(1, time.monotonic())
            self.emit(screen.idx, "h", rev, now, client.started)
        elif kind == "invalidate":
            self.emit(screen.idx, "i", rev, now)
        elif kind == "alert":
            self.emit(screen.idx, "a", rev, now)
        elif kind != "pong":
            self.emit(screen.idx, "x", str(kind), now)

    def on_failed(self, client: WsClient, reason: str) -> None:
        screen = client.screen
        self.connecting -= 1
        if screen.client is client:
            screen.client = None
        if client.dropped:
            return
        self.counters["failed"] += 1
        # Dated by when the attempt started: a connect refused while the server was down
        # but reported after it came back is not an error "after the server was ready".
        self.emit(screen.idx, "f", reason, client.started)
        if reason in POLL_INSTEAD and self.fallback:
            self.start_polling(screen)  # push refused: the display polls instead
        self._maybe_reconnect(screen, reason)

    def on_closed(self, client: WsClient, code: int) -> None:
        screen = client.screen
        self.open -= 1
        if screen.client is client:
            screen.client = None
        if client.dropped:
            return
        self.emit(screen.idx, "c", code, time.time())
        if f"close:{code}" in POLL_INSTEAD and self.fallback:
            self.start_polling(screen)
        self._maybe_reconnect(screen, f"close:{code}")

    def retry_delay(self, screen: Screen, reason: str) -> float | None:
        """Seconds ``screen`` waits before reconnecting after ``reason``, or None (never):
        the core's rule and bounds, a random time between them (full jitter)."""
        rule = retry_rule(reason)
        if rule is Retry.BACKOFF:
            screen.backoff_step += 1
        elif rule is Retry.JITTER:
            screen.backoff_step = 0
        bounds = reconnect_bounds(rule, screen.backoff_step)
        return None if bounds is None else self.random.uniform(*bounds)

    def _maybe_reconnect(self, screen: Screen, reason: str) -> None:
        """With a reconnect policy set (``{"deadline": time}``), schedule the screen's next
        attempt as a display would (``retry_delay``); never at once."""
        policy = self.reconnect
        if policy is None or self.clock() > policy["deadline"]:
            return
        delay = self.retry_delay(screen, reason)
        if delay is None:
            return
        if screen.retry is not None:
            screen.retry.cancel()
        screen.retry = asyncio.get_running_loop().call_later(delay, self._retry, screen)

    def _retry(self, screen: Screen) -> None:
        screen.retry = None
        if self.reconnect is not None:  # reconnecting was not turned off meanwhile
            self.connect_one(screen)

    # --- connecting ---------------------------------------------------------------
    def connect_one(self, screen: Screen, release: Callable[[], None] | None = None) -> None:
        if screen.client is not None or self._stop.is_set():
            if release is not None:
                release()
            return
        if screen.retry is not None:  # this attempt replaces the one waiting its delay
            screen.retry.cancel()
            screen.retry = None
        client = WsClient(self, screen)
        client.release = release
        screen.client = client
        self.connecting += 1
        self.counters["attempts"] += 1
        client.task = asyncio.ensure_future(self._open(client))
        self._tasks.add(client.task)
        client.task.add_done_callback(self._tasks.discard)

    async def _open(self, client: WsClient) -> None:
        loop = asyncio.get_running_loop()
        client.timer = loop.call_later(self.handshake_timeout, client.on_timeout)
        try:
            sock = await connect_from(client.screen.source, self.host, self.ws_port(client.screen))
            await loop.create_connection(lambda: client, sock=sock)
        except asyncio.CancelledError:
            return  # given up on while connecting: already settled and reported
        except OSError as exc:
            if not client.settled:
                client.settle()
                self.on_failed(client, _reason_for_error(exc))
            return
        if client.dropped:  # dropped while connecting
            client.abort()

    async def connect_many(self, ids: list[int] | None, rate: float, inflight: int) -> None:
        screens = [
            s
            for s in (self.screens.values() if ids is None else (self.screens[i] for i in ids))
            if s.mode == "ws" and s.client is None
        ]
        slots = asyncio.Semaphore(max(1, inflight))
        started = time.monotonic()
        for n, screen in enumerate(screens):
            if rate > 0:
                due = started + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await slots.acquire()
            if self._stop.is_set():
                return
            self.connect_one(screen, slots.release)

    def drop(self) -> None:
        """Abort every push socket at once (the clients' side of a network cut): with a
        reconnect policy set, each screen then reconnects as after a close without a close
        frame (1006: backoff)."""
        for screen in self.screens.values():
            client = screen.client
            if client is not None:
                client.dropped = True
                if client.opened:
                    client.opened = False
                    self.open -= 1
                elif not client.settled:
                    client.settle()
                    self.connecting -= 1
                screen.client = None
                client.abort()
                self._maybe_reconnect(screen, "closed")

    def close_some(self, count: int) -> list[int]:
        """Close ``count`` random open sockets cleanly (1000); returns their screens."""
        candidates = [s for s in self.screens.values() if s.client is not None and s.client.opened]
        chosen = random.sample(candidates, min(count, len(candidates)))
        for screen in chosen:
            client = screen.client
            assert client is not None
            client.dropped = True
            self.emit(screen.idx, "c", 1000, time.time())
            client.opened = False
            self.open -= 1
            screen.client = None
            client.send_close(1000)
            if client.transport is not None:
                client.transport.close()
        return [s.idx for s in chosen]

    async def churn(self, per_second: float, until: float, delay: tuple[float, float]) -> None:
        """Close random sockets at ``per_second`` and reopen each after ``delay`` seconds."""
        loop = asyncio.get_running_loop()
        owed = 0.0
        while time.time() < until and not self._stop.is_set():
            await asyncio.sleep(0.1)
            owed += per_second * 0.1
            count, owed = int(owed), owed - int(owed)
            for idx in self.close_some(count):
                loop.call_later(random.uniform(*delay), self.connect_one, self.screens[idx])  # noqa: S311

    # --- polling ------------------------------------------------------------------
    def start_polling(self, screen: Screen, stagger: float = 0.0) -> None:
        if screen.polling is None or screen.polling.done():
            screen.polling = asyncio.ensure_future(self._poll(screen, stagger))

    def stop_polling(self) -> None:
        for screen in self.screens.values():
            if screen.polling is not None:
                screen.polling.cancel()
                screen.polling = None

    async def _poll(self, screen: Screen, stagger: float) -> None:
        client = http1.HttpClient(self.host, self.http_port, timeout=self.poll_timeout)
        query = urllib.parse.urlencode({"token": screen.token, "dk": screen.dk})
        target = f"{self.status_path}?{query}"
        interval = self.poll_min
        try:
            if stagger > 0:
                await asyncio.sleep(random.uniform(0, stagger))  # noqa: S311
            while True:
                headers = {"If-None-Match": screen.etag} if screen.etag else {}
                wait = interval
                try:
                    response = await client.request("GET", target, headers)
                except Exception as exc:  # every failure is counted by reason, then retried
                    self.emit(screen.idx, "e", _reason_for_error(exc), time.time())
                else:
                    self.counters[f"poll_{response.status}"] += 1
                    if response.status == 200:
                        rev = int(json.loads(response.body)["rev"])
                        screen.etag = response.headers.get("etag", "")
                        screen.rev = max(screen.rev, rev)
                        self.emit(screen.idx, "p", rev, time.time())
                        interval = self.poll_min
                    elif response.status == 304:
                        interval = min(self.poll_max, interval * 1.5)
                    else:
                        self.emit(screen.idx, "e", f"http:{response.status}", time.time())
                        if response.status == 429:
                            wait = float(response.headers.get("retry-after", "1") or 1)
                await asyncio.sleep(wait * random.uniform(0.9, 1.1))  # noqa: S311
        finally:
            client.close()

    # --- the command loop -----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        polling = sum(1 for s in self.screens.values() if s.polling is not None)
        return {
            "open": self.open,
            "connecting": self.connecting,
            "polling": polling,
            "cpu": time.process_time(),
            "counters": dict(self.counters),
            "gc_pauses": self.gc.pauses,
            "gc_longest_ms": round(self.gc.longest * 1000, 3),
        }

    def flush(self) -> None:
        message = {"ev": "rows", "rows": self.rows, "stats": self.stats()}
        self.rows = []
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    async def _flusher(self) -> None:
        parent = os.getppid()
        while not self._stop.is_set():
            await asyncio.sleep(FLUSH_SECONDS)
            if os.getppid() != parent:  # the coordinator died: stop by ourselves
                self._stop.set()
                os._exit(3)
            self.freezer.tick(time.monotonic())
            self.flush()

    def handle(self, command: dict[str, Any]) -> None:
        name = command["cmd"]
        if name == "connect":
            self.spawn(
                self.connect_many(
                    command.get("ids"), float(command.get("rate", 0)), command.get("inflight", 512)
                )
            )
        elif name == "reconnect_policy":
            self.reconnect = command.get("policy")
        elif name == "drop":
            self.drop()
        elif name == "churn":
            self.spawn(self.churn(command["per_second"], command["until"], tuple(command["delay"])))
        elif name == "poll":
            self.poll_min = float(command.get("min", self.poll_min))
            self.poll_max = float(command.get("max", self.poll_max))
            ids = command.get("ids")
            for screen in self.screens.values():
                if (ids is None and screen.mode == "poll") or (
                    ids is not None and screen.idx in ids
                ):
                    self.start_polling(screen, float(command.get("stagger", 0)))
        elif name == "poll_stop":
            self.stop_polling()
        elif name == "stop":
            self._stop.set()

    async def run(self, reader: asyncio.StreamReader) -> None:
        flusher = asyncio.ensure_future(self._flusher())
        self.flush()  # ready
        while not self._stop.is_set():
            line = await reader.readline()
            if not line:
                break  # the coordinator went away: stop
            self.handle(json.loads(line))
        self._stop.set()
        self.stop_polling()
        for screen in self.screens.values():
            if screen.client is not None:
                screen.client.dropped = True
                screen.client.send_close(1000)
                screen.client.abort()
        flusher.cancel()
        self.flush()


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())  # the first line: who we are, whom to load
    cpus = config.get("cpus")
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    gctune.tune_for_serving()
    worker = Worker(config)
    worker.gc.install()
    await worker.run(reader)


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_main())
    else:
        uvloop.run(_main())


if __name__ == "__main__":
    main()
