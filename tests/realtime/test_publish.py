"""Publishing to Redis from a thread of its own: in order, many per round trip, bounded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from hallboard.realtime import publish
from tests.conftest import sample


def test_a_burst_reaches_redis_complete_and_in_order(redis_url: str, settings: Any) -> None:
    """Two thousand events published at once (a district-wide edit) all arrive, in order."""
    settings.REDIS_URL = redis_url
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("hallboard:school:4242")
    for rev in range(2000):
        publish.invalidate(4242, rev)
    assert publish.flush(30)
    revs = []
    deadline = time.monotonic() + 30
    while len(revs) < 2000 and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        if message is not None:
            revs.append(json.loads(message["data"].partition(b" ")[2])["rev"])
    listener.close()
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
        sender.put("invalidate", "school:1", b'{"rev":%d}' % rev)
    assert [data for _, _, data in sender._queue] == [b'{"rev":2}', b'{"rev":3}', b'{"rev":4}']
    assert sample("hallboard_realtime_publish_failed_total", kind="invalidate") == before + 2


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
    sender.put("invalidate", "school:1", b"0")
    assert busy.wait(30)  # the thread took the first event and is sending it
    for rev in range(1, 200):
        sender.put("invalidate", "school:1", str(rev).encode())
    assert wakes == 2  # the first event, and the first of the burst that found it empty
    release.set()
    assert sender.flush(30)
    assert sent == [str(rev).encode() for rev in range(200)]
