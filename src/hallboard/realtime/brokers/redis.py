"""The Redis broker: pub/sub with one channel per topic that has local listeners.

Channel names are ``hallboard:<topic>``. When Redis goes away the broker is
marked down, retries with exponential backoff and full jitter (redis-py's
``ExponentialWithJitterBackoff``), and once reconnected resubscribes every
topic and awaits ``on_reconnect`` so the gateway resyncs its screens: whatever
was published during the outage is then seen by every screen.

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

from hallboard.realtime.brokers import ORIGIN, OnMessage, OnReconnect
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


class RedisBroker:
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
        self.topics: set[str] = set()
        self._backoff = ExponentialWithJitterBackoff(base=backoff_base, cap=backoff_cap)
        self._client: aioredis.Redis | None = None
        self._sub: _Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_message: OnMessage | None = None
        self._on_reconnect: OnReconnect | None = None
        self._connected = asyncio.Event()
        # Events published by this very process arrive through the in-process
        # bus, also while Redis is down; their Redis copies are skipped.
        self._local = MemoryBroker()

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._on_message, self._on_reconnect = on_message, on_reconnect
        await self._local.start(on_message, on_reconnect)
        self._task = asyncio.create_task(self._run(), name="redis-broker")

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
                    if self._on_reconnect is not None:
                        await self._on_reconnect()
                first, failures = False, 0
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                self._connected.clear()
                if self.state != "down":
                    logger.error("redis broker lost: %s", exc)
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
