"""Publishing to Redis from a thread of its own: in order, many per round trip, bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from hallboard.realtime import publish
from tests.conftest import sample


def events_heard(listener: Any, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events a Redis subscription hears (within 30 s), then it closes."""
    heard: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(heard) < count and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        if message is not None:
            heard.append(json.loads(message["data"].partition(b" ")[2]))
    listener.close()
    return heard


def test_a_burst_reaches_redis_complete_and_in_order(redis_url: str, settings: Any) -> None:
    """Two thousand events published at once (a district-wide edit) all arrive, in order."""
    settings.REDIS_URL = redis_url
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("hallboard:school:4242")
    for rev in range(2000):
        publish.invalidate(4242, rev)
    assert publish.flush(30)
    revs = [event["rev"] for event in events_heard(listener, 2000)]
    assert revs == list(range(2000))


def test_the_queue_is_bounded_and_drops_the_oldest(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Redis cannot keep up, at most MAX_QUEUED events wait; older ones are dropped and
    counted as failed publishes (polling covers them)."""
    monkeypatch.setattr(publish, "MAX_QUEUED", 3)
    monkeypatch.setattr(publish._Sender, "_run", lambda self: None)  # a sender that never sends
    sender = publish._Sender("redis://127.0.0.1:1/0")
    before = sample("hallboard_realtime_publish_failed_total", kind="invalidate")
    for rev in range(5):
        sender.put([("invalidate", "school:1", b'{"rev":%d}' % rev)])
    assert [data for _, _, data in sender._queue] == [b'{"rev":2}', b'{"rev":3}', b'{"rev":4}']
    assert sample("hallboard_realtime_publish_failed_total", kind="invalidate") == before + 2
    sender.put([("invalidate", "school:1", b"5"), ("flags", "control", b"6")])  # one batch
    assert [data for _, _, data in sender._queue] == [b'{"rev":4}', b"5", b"6"]
    assert sample("hallboard_realtime_publish_failed_total", kind="invalidate") == before + 4


def test_a_burst_wakes_the_sender_once_and_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events put while the sender thread is busy do not wake it again (one wake per burst,
    not one per event), and every event is still sent, in order, once it is free."""
    import threading

    sent: list[bytes] = []
    busy = threading.Event()
    release = threading.Event()

    def send(self: Any, batch: list[tuple[str, str, bytes]]) -> None:
        busy.set()
        release.wait(30)
        sent.extend(data for _, _, data in batch)

    monkeypatch.setattr(publish._Sender, "_send", send)
    sender = publish._Sender("redis://127.0.0.1:1/0")
    wakes = 0
    notify = sender._cond.notify

    def counted(n: int = 1) -> None:
        nonlocal wakes
        wakes += 1
        notify(n)

    monkeypatch.setattr(sender._cond, "notify", counted)
    sender.put([("invalidate", "school:1", b"0")])
    assert busy.wait(30)  # the thread took the first event and is sending it
    for rev in range(1, 200):
        sender.put([("invalidate", "school:1", str(rev).encode())])
    assert wakes == 2  # the first event, and the first of the burst that found it empty
    release.set()
    assert sender.flush(30)
    assert sent == [str(rev).encode() for rev in range(200)]


def test_a_batch_is_published_in_order_with_one_timestamp(
    redis_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``publish_many`` tells this process's gateways (the in-process bus) and Redis every
    event of the batch, in order, all stamped with the same ``ts``; the sender thread is
    handed the whole batch at once."""
    from hallboard.realtime.brokers.memory import BUS
    from hallboard.realtime.core import events

    settings.REDIS_URL = redis_url
    heard: list[tuple[str, bytes]] = []
    monkeypatch.setattr(BUS, "publish", lambda topic, data: heard.append((topic, data)))
    handed: list[int] = []
    put = publish._Sender.put
    monkeypatch.setattr(
        publish._Sender, "put", lambda self, items: (handed.append(len(items)), put(self, items))
    )
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("hallboard:school:4243", "hallboard:dash:4243")
    publish.publish_many(
        [events.Invalidate(4243, 8), events.StaffFrames.dashboard(4243, {"type": "revision"})]
    )
    assert publish.flush(30)
    got = events_heard(listener, 2)
    assert [t for t, _ in heard] == ["school:4243", "dash:4243"]
    assert [g["e"] for g in got] == ["invalidate", "frames"]
    assert got[0]["ts"] == got[1]["ts"]
    assert handed == [2]


def test_an_empty_batch_publishes_nothing(settings: Any) -> None:
    """No events, no metric change and no sender."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    before = dict(publish._senders)
    publish.publish_many([])
    assert publish._senders == before
