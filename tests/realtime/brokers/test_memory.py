"""The in-process broker: what is published on a subscribed topic reaches the gateway's
loop, from any thread; nothing else does; a failing callback never stops it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from hallboard.realtime.brokers.memory import BUS, MemoryBroker


class Received:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.threads: set[int] = set()
        self.arrived = asyncio.Event()

    def __call__(self, topic: str, data: bytes) -> None:
        self.messages.append((topic, data))
        self.threads.add(threading.get_ident())
        self.arrived.set()


async def no_resync() -> None:
    pass


async def settle() -> None:
    """Let the loop run what call_soon_threadsafe queued."""
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.fixture
async def started() -> AsyncIterator[tuple[MemoryBroker, Received]]:
    broker = MemoryBroker()
    received = Received()
    await broker.start(received, no_resync)
    yield broker, received
    await broker.close()


async def test_subscribed_topics_are_delivered_in_order(
    started: tuple[MemoryBroker, Received],
) -> None:
    """Messages on a subscribed topic arrive in the order published; others do not."""
    broker, received = started
    await broker.subscribe("school:1", "screen:2")
    await broker.publish([("school:1", b"a"), ("school:9", b"x"), ("screen:2", b"b")])
    await settle()
    assert received.messages == [("school:1", b"a"), ("screen:2", b"b")]
    assert broker.state == "connected"


async def test_a_publish_from_another_thread_arrives_on_the_loop(
    started: tuple[MemoryBroker, Received],
) -> None:
    """Django publishes from worker threads: the message is handed to the broker's loop
    thread, and BUS.publish says how many brokers it reached."""
    broker, received = started
    await broker.subscribe("control")
    counts: list[int] = []
    thread = threading.Thread(target=lambda: counts.append(BUS.publish("control", b"f")))
    thread.start()
    thread.join()
    await asyncio.wait_for(received.arrived.wait(), 5)
    assert received.messages == [("control", b"f")]
    assert received.threads == {threading.get_ident()}
    assert counts == [1]
    assert BUS.publish("nobody-listens", b"x") == 0


async def test_unsubscribed_topics_stop_even_for_queued_messages(
    started: tuple[MemoryBroker, Received],
) -> None:
    """After unsubscribe nothing more arrives on the topic, including a message that was
    queued for the loop before the unsubscribe."""
    broker, received = started
    await broker.subscribe("school:1")
    BUS.publish("school:1", b"queued")  # handed to the loop, not yet delivered
    await broker.unsubscribe("school:1")
    await broker.publish([("school:1", b"after")])
    await settle()
    assert received.messages == []


async def test_a_closed_broker_receives_nothing(started: tuple[MemoryBroker, Received]) -> None:
    """close() detaches from the bus and marks the broker down."""
    broker, received = started
    await broker.subscribe("school:1")
    await broker.close()
    assert BUS.publish("school:1", b"x") == 0
    await settle()
    assert received.messages == []
    assert broker.state == "down"


async def test_a_failing_callback_is_counted_and_the_next_message_handled() -> None:
    """An exception in the gateway's callback is caught and counted; delivery goes on."""
    seen: list[bytes] = []

    def flaky(topic: str, data: bytes) -> None:
        if data == b"bad":
            raise ValueError("cannot handle")
        seen.append(data)

    broker = MemoryBroker()
    await broker.start(flaky, no_resync)
    try:
        await broker.subscribe("t")
        await broker.publish([("t", b"bad"), ("t", b"good")])
        await settle()
        assert seen == [b"good"]
        assert broker.callback_errors == 1
    finally:
        await broker.close()


def test_a_broker_whose_loop_is_gone_ignores_messages() -> None:
    """Not started, or its loop closed: a message for it is dropped without an error."""
    broker = MemoryBroker()
    assert broker.callback_errors == 0
    broker.receive_threadsafe("t", b"x")  # never started: nothing to hand it to
    loop = asyncio.new_event_loop()
    loop.run_until_complete(broker.start(lambda topic, data: None, no_resync))
    loop.run_until_complete(broker.subscribe("t"))
    loop.close()
    try:
        assert BUS.publish("t", b"x") == 1  # still attached, but its loop is closed
    finally:
        BUS.detach(broker)
