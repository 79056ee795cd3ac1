"""The Redis broker: pub/sub with one channel per topic that has local listeners.

Channel names are ``hallboard:<topic>``. A listener task reads the pub/sub
connection; when Redis goes away it marks the broker down, retries with
exponential backoff and full jitter (redis-py's ``ExponentialWithJitterBackoff``),
and once reconnected resubscribes every topic and awaits ``on_reconnect`` so
the gateway resyncs its screens: whatever was published during the outage is
then seen by every screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from hallboard.realtime.brokers import ORIGIN, OnMessage, OnReconnect
from hallboard.realtime.brokers.memory import MemoryBroker

logger = logging.getLogger("hallboard.realtime.broker")
PREFIX = "hallboard:"


class RedisBroker:
    name = "redis"

    def __init__(self, url: str, *, backoff_base: float = 0.2, backoff_cap: float = 10.0) -> None:
        self.url = url
        self.state = "connecting"
        self.reconnects = 0
        self.topics: set[str] = set()
        self._backoff = ExponentialWithJitterBackoff(base=backoff_base, cap=backoff_cap)
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
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
        if topics and self._pubsub is not None and self.state == "connected":
            with contextlib.suppress(RedisError, OSError):  # resubscribed on reconnect
                await self._pubsub.subscribe(*(PREFIX + t for t in topics))

    async def unsubscribe(self, *topics: str) -> None:
        self.topics.difference_update(topics)
        await self._local.unsubscribe(*topics)
        if topics and self._pubsub is not None and self.state == "connected":
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(*(PREFIX + t for t in topics))

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
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._pubsub = self._client = None

    async def _connect(self) -> None:
        self._client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, health_check_interval=10
        )
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._client.ping()
        # Something to listen on even before the first topic: the pub/sub
        # connection must exist for get_message to notice Redis going away.
        await self._pubsub.subscribe(PREFIX + "_alive", *(PREFIX + t for t in self.topics))

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
            except (RedisError, OSError) as exc:
                self._connected.clear()
                if self.state != "down":
                    logger.error("redis broker lost: %s", exc)
                self.state = "down"
                await self._disconnect()
                failures += 1
                await asyncio.sleep(self._backoff.compute(failures))

    async def _listen(self) -> None:
        assert self._pubsub is not None
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(PREFIX) :]
            origin, _, data = message["data"].partition(b" ")
            if origin == ORIGIN or self._on_message is None or topic not in self.topics:
                continue  # our own events came through the in-process bus already
            self._on_message(topic, data)
