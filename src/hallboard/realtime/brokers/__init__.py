"""Brokers carry events between processes: ``memory://`` (one process), ``redis://``, or
``redis+cluster://`` (Redis Cluster, sharded pub/sub: ``brokers/cluster.py``).

One interface (``Broker``) for the gateway side, chosen by URL like
encode/broadcaster. The gateway subscribes a topic when its first local
connection needs it and unsubscribes after the last one leaves, so no process
decodes messages for screens it does not hold.

Unlike broadcaster (see ENGINEERING.md): no unbounded queues (messages are
handed straight to the hub), a listener crash is seen at once (state and
metric), and the Redis broker reconnects with backoff and jitter, resubscribes
and asks the gateway to resync its screens.

Nothing the gateway's callbacks raise ends a broker: an exception handling one
message is logged and counted (``Guarded``) and the next message is handled; a
resync that fails (the database away) is retried with backoff until it succeeds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

logger = logging.getLogger("hallboard.realtime.broker")

#: This process's id on the wire. Events published here reach this process's
#: gateway through the in-process bus at once (even with Redis down); the Redis
#: copy of them, tagged with this origin, is then skipped instead of delivered twice.
ORIGIN = uuid.uuid4().hex.encode()

#: Called for every message on a subscribed topic (in the gateway's event loop).
OnMessage = Callable[[str, bytes], None]
#: Called after the broker reconnected (resubscribed): resync every local screen.
OnReconnect = Callable[[], Awaitable[None]]


class Broker(Protocol):
    #: "memory", "redis" or "cluster" (a metric label).
    name: str
    #: "connected", "connecting" or "down" (exported as a metric).
    state: str
    #: How many times the connection was re-established.
    reconnects: int
    #: Resyncs that failed and were retried.
    resync_failures: int

    @property
    def callback_errors(self) -> int:
        """Exceptions the message callback raised (caught, logged, counted)."""

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None: ...

    async def subscribe(self, *topics: str) -> None:
        """Listen to ``topics`` (one command for many: a reconnect storm subscribes thousands)."""

    async def unsubscribe(self, *topics: str) -> None: ...

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish (topic, data) pairs from the gateway's loop (staff frames), in one round
        trip; never raises for an outage (polling and the dashboards' re-reads cover it)."""

    async def close(self) -> None: ...


class Guarded:
    """The gateway's message callback, made safe for a broker to call: an exception is
    counted and logged (one line per ``LOG_INTERVAL`` seconds however many there are),
    never raised into the broker's reader."""

    LOG_INTERVAL = 10.0

    def __init__(self, on_message: OnMessage) -> None:
        self.on_message = on_message
        self.errors = 0
        self._logged_at = -self.LOG_INTERVAL
        self._unlogged = 0

    def __call__(self, topic: str, data: bytes) -> None:
        try:
            self.on_message(topic, data)
        except Exception as exc:
            self.errors += 1
            self._unlogged += 1
            now = time.monotonic()
            if now - self._logged_at >= self.LOG_INTERVAL:
                logger.error(
                    "handling a broker event on %s failed (%d such in %.0f s): %s: %s",
                    topic,
                    self._unlogged,
                    self.LOG_INTERVAL,
                    type(exc).__name__,
                    str(exc)[:200],
                )
                self._logged_at, self._unlogged = now, 0


def configured_url() -> str:
    """This install's broker URL: ``HALLBOARD_BROKER_URL``, else ``REDIS_URL`` (read each time:
    tests and the settings may change it)."""
    from django.conf import settings

    return str(getattr(settings, "BROKER_URL", "") or settings.REDIS_URL or "")


def broker_for(url: str) -> Broker:
    """The broker for ``url``: empty or ``memory://`` → in-process; ``redis://`` → Redis;
    ``redis+cluster://host:port,host:port`` → Redis Cluster."""
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        from hallboard.realtime.brokers.cluster import ClusterBroker

        return ClusterBroker(url)
    if not url or url.startswith("memory://"):
        from hallboard.realtime.brokers.memory import MemoryBroker

        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from hallboard.realtime.brokers.redis import RedisBroker

        return RedisBroker(url)
    raise ValueError(f"unsupported broker URL {url!r}: use memory://, redis:// or redis+cluster://")
