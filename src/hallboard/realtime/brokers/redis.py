"""The Redis broker: pub/sub with one channel per topic that has local listeners.

Channel names are ``hallboard:<topic>``. When Redis goes away the broker is
marked down, retries with exponential backoff and full jitter (redis-py's
``ExponentialWithJitterBackoff``), and once reconnected resubscribes every
topic and runs ``on_reconnect`` so the gateway resyncs its screens: whatever
was published during the outage is then seen by every screen. The resync runs
beside the subscription (messages keep arriving meanwhile) and, when it fails
(the database may be away while Redis is back), is retried with the same
backoff until it succeeds, or until the next reconnect starts a new one.

Whatever fails in the loop that keeps the subscription, Redis's errors or any
other, ends in "down", a reconnect with backoff, and a resync: ``state`` (the
``hallboard_broker_connected`` metric) says "connected" only while a
subscription is being read.

The subscription is read by ``_Subscription``, an ``asyncio.Protocol`` that
feeds hiredis' reply parser and hands every message to the gateway from
``data_received``, with no await per message. redis-py's ``PubSub`` costs
about 18 µs of CPU per message (a coroutine, a timeout and a retry wrapper
each); this costs about 5 µs, and a push to every screen is thousands of
messages at once. Everything else (publishing, the first PING) is redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import parse_url
from redis.exceptions import RedisError

from hallboard.realtime.brokers import ORIGIN, Guarded, OnMessage, OnReconnect
from hallboard.realtime.brokers.memory import MemoryBroker

logger = logging.getLogger("hallboard.realtime.broker")
PREFIX = "hallboard:"
_PREFIX = PREFIX.encode()
#: Seconds between PINGs on an idle subscription; no answer within as long means it is dead.
HEALTH_INTERVAL = 10.0


def command(*parts: bytes) -> bytes:
    """A Redis command in RESP."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Subscription(asyncio.Protocol):
    """One pub/sub connection: messages in (hiredis), SUBSCRIBE/UNSUBSCRIBE/PING out."""

    def __init__(self, on_message: OnMessage, topics: set[str]) -> None:
        self.on_message = on_message
        self.topics = topics  # the broker's: only wanted topics are delivered
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.last_seen = asyncio.get_running_loop().time()
        self.error: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def data_received(self, data: bytes) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        self.reader.feed(data)
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if isinstance(reply, hiredis.ReplyError):
                # AUTH refused, or a command Redis would not take: start over.
                self.error = RedisError(f"redis refused a subscription command: {reply}")
                self.close()
                return
            if not isinstance(reply, list) or len(reply) != 3 or reply[0] != b"message":
                continue  # subscribe/unsubscribe confirmations, pong
            channel, payload = reply[1], reply[2]
            if not channel.startswith(_PREFIX):
                continue
            topic = channel[len(_PREFIX) :].decode()
            origin, _, event = payload.partition(b" ")
            if origin == ORIGIN or topic not in self.topics:
                continue  # our own events came through the in-process bus already
            self.on_message(topic, event)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    def send(self, *parts: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(command(*parts))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Resyncing:
    """The revision rule after a loss, shared by the Redis brokers: run the gateway's resync
    until it succeeds, with backoff (one line per failure). The broker sets ``_on_reconnect``,
    ``_resync``, ``_backoff`` and ``resync_failures``; ``_recovered`` names the loss in logs."""

    _recovered = "the broker reconnect"
    _on_reconnect: OnReconnect | None
    _resync: asyncio.Task[None] | None
    _backoff: ExponentialWithJitterBackoff
    resync_failures: int

    def _start_resync(self) -> None:
        self._stop_resync()
        if self._on_reconnect is not None:
            self._resync = asyncio.create_task(self._resync_until_done(), name="broker-resync")

    def _stop_resync(self) -> None:
        if self._resync is not None and not self._resync.done():
            self._resync.cancel()
        self._resync = None

    async def _resync_until_done(self) -> None:
        """Run the gateway's resync until it succeeds, with backoff (one line per failure)."""
        assert self._on_reconnect is not None
        attempt = 0
        while True:
            try:
                await self._on_reconnect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                self.resync_failures += 1
                delay = self._backoff.compute(attempt)
                logger.warning(
                    "resync after %s failed (attempt %d; again in %.1f s): %s: %s",
                    self._recovered,
                    attempt,
                    delay,
                    type(exc).__name__,
                    (str(exc).strip().splitlines() or [""])[0][:200],
                )
                await asyncio.sleep(delay)
            else:
                if attempt:
                    logger.info("resync done after %d failed attempts", attempt)
                return


class RedisBroker(Resyncing):
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        self.url = url
        self.health_interval = health_interval
        self.state = "connecting"
        self.reconnects = 0
        self.resync_failures = 0
        self.topics: set[str] = set()
        self._backoff = ExponentialWithJitterBackoff(base=backoff_base, cap=backoff_cap)
        self._client: aioredis.Redis | None = None
        self._sub: _Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._closing = False
        self._on_message: Guarded | None = None
        self._on_reconnect: OnReconnect | None = None
        self._connected = asyncio.Event()
        # Events published by this very process arrive through the in-process
        # bus, also while Redis is down; their Redis copies are skipped.
        self._local = MemoryBroker()

    @property
    def callback_errors(self) -> int:
        return self._on_message.errors if self._on_message is not None else 0

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        guarded = Guarded(on_message)  # one guard (and count) for Redis and the local bus
        self._on_message, self._on_reconnect = guarded, on_reconnect
        await self._local.start(guarded, on_reconnect)
        self._start_task()

    def _start_task(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-broker")
        self._task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """The loop only ends when cancelled; should it end otherwise, say so and restart."""
        if task.cancelled() or self._closing:
            return
        self.state = "down"
        self._connected.clear()
        logger.error("redis broker loop ended unexpectedly (%r); restarting it", task.exception())
        self._start_task()

    async def subscribe(self, *topics: str) -> None:
        self.topics.update(topics)
        await self._local.subscribe(*topics)
        if topics and self._sub is not None and self.state == "connected":
            # Resubscribed on reconnect if this is lost.
            self._sub.send(b"SUBSCRIBE", *(_PREFIX + t.encode() for t in topics))

    async def unsubscribe(self, *topics: str) -> None:
        self.topics.difference_update(topics)
        await self._local.unsubscribe(*topics)
        if topics and self._sub is not None and self.state == "connected":
            self._sub.send(b"UNSUBSCRIBE", *(_PREFIX + t.encode() for t in topics))

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        await self._local.publish(messages)  # this process's listeners, also while down
        if not messages or self._client is None or self.state != "connected":
            return
        pipe = self._client.pipeline(transaction=False)
        for topic, data in messages:
            pipe.publish(PREFIX + topic, ORIGIN + b" " + data)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("%d staff frames not published (pages re-read): %s", len(messages), exc)

    async def close(self) -> None:
        self._closing = True
        self._stop_resync()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()
        await self._local.close()
        self.state = "down"

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _disconnect(self) -> None:
        if self._sub is not None:
            self._sub.close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._sub = None
        self._client = None

    async def _open_subscription(self) -> _Subscription:
        assert self._on_message is not None
        params: dict[str, Any] = parse_url(self.url)
        loop = asyncio.get_running_loop()
        on_message = self._on_message
        make = lambda: _Subscription(on_message, self.topics)  # noqa: E731 - a factory
        if "path" in params:
            _, sub = await asyncio.wait_for(loop.create_unix_connection(make, params["path"]), 2)
        else:
            tls = ssl.create_default_context() if self.url.startswith("rediss://") else None
            _, sub = await asyncio.wait_for(
                loop.create_connection(
                    make, params.get("host", "localhost"), params.get("port", 6379), ssl=tls
                ),
                2,
            )
        if params.get("password"):
            auth = [params["password"].encode()]
            if params.get("username"):
                auth.insert(0, params["username"].encode())
            sub.send(b"AUTH", *auth)
        # Something to listen on even before the first topic, then every wanted topic.
        sub.send(b"SUBSCRIBE", _PREFIX + b"_alive", *(_PREFIX + t.encode() for t in self.topics))
        return sub

    async def _connect(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10
        )
        await self._client.ping()
        self._sub = await self._open_subscription()

    async def _run(self) -> None:
        failures = 0
        first = True
        while True:
            try:
                await self._connect()
                self.state = "connected"
                self._connected.set()
                if not first or failures:
                    # Anything published while we were not listening was missed,
                    # including before the very first successful connect.
                    self.reconnects += 1
                    logger.warning(
                        "redis broker reconnected after %d failures; resyncing", failures
                    )
                    self._start_resync()
                first, failures = False, 0
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever it is: down, reconnect, resync
                self._connected.clear()
                self._stop_resync()
                if self.state != "down":
                    if isinstance(exc, RedisError | OSError | TimeoutError):
                        logger.error("redis broker lost: %s", exc)
                    else:
                        logger.error(
                            "redis broker lost: unexpected %s: %s", type(exc).__name__, exc
                        )
                self.state = "down"
                await self._disconnect()
                failures += 1
                await asyncio.sleep(self._backoff.compute(failures))

    async def _listen(self) -> None:
        """Until the subscription is lost: keep it alive with PINGs, drop it when silent."""
        sub = self._sub
        assert sub is not None
        loop = asyncio.get_running_loop()
        while True:
            done, _ = await asyncio.wait({sub.lost}, timeout=self.health_interval)
            if done:
                raise sub.error or ConnectionError(
                    f"redis subscription closed: {sub.lost.result()}"
                )
            if loop.time() - sub.last_seen > 2 * self.health_interval:
                sub.close()
                raise ConnectionError("redis subscription silent: no answer to PING")
            sub.send(b"PING")
