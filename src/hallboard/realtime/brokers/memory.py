"""The in-process broker: the embedded default, for a single process.

Publishers may be any thread (Django runs sync views in worker threads); the
message is handed to each subscribed broker's event loop thread-safely.
"""

from __future__ import annotations

import asyncio
import threading

from hallboard.realtime.brokers import Guarded, OnMessage, OnReconnect


class _Bus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._brokers: set[MemoryBroker] = set()

    def attach(self, broker: MemoryBroker) -> None:
        with self._lock:
            self._brokers.add(broker)

    def detach(self, broker: MemoryBroker) -> None:
        with self._lock:
            self._brokers.discard(broker)

    def publish(self, topic: str, data: bytes) -> int:
        """Hand ``data`` to every broker subscribed to ``topic``; return how many."""
        with self._lock:
            targets = [b for b in self._brokers if topic in b.topics]
        for broker in targets:
            broker.receive_threadsafe(topic, data)
        return len(targets)


BUS = _Bus()


class MemoryBroker:
    name = "memory"

    def __init__(self) -> None:
        self.state = "connected"
        self.reconnects = 0
        self.resync_failures = 0
        self.topics: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_message: Guarded | None = None

    @property
    def callback_errors(self) -> int:
        return self._on_message.errors if self._on_message is not None else 0

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_message = on_message if isinstance(on_message, Guarded) else Guarded(on_message)
        BUS.attach(self)

    async def subscribe(self, *topics: str) -> None:
        self.topics.update(topics)

    async def unsubscribe(self, *topics: str) -> None:
        self.topics.difference_update(topics)

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, data in messages:
            BUS.publish(topic, data)

    async def close(self) -> None:
        BUS.detach(self)
        self.state = "down"

    def receive_threadsafe(self, topic: str, data: bytes) -> None:
        if self._loop is None or self._on_message is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._deliver, topic, data)

    def _deliver(self, topic: str, data: bytes) -> None:
        if topic in self.topics and self._on_message is not None:
            self._on_message(topic, data)
