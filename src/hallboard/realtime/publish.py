"""Publishing events from Django (any replica) after the transaction commits.

Events are the typed, frozen dataclasses of ``hallboard.realtime.core.events``
(the one place that defines them and their wire format): ``publish(event)``
sends one on its topic, stamped with ``"ts"``, the publisher's ``time.time()``,
from which gateways measure push latency (``hallboard_push_latency_seconds``);
``publish_many(events)`` sends a batch (one stamp, one hand-over to the sender).
The helpers below (``invalidate``, ``alert_changed``, ``command``,
``close_screen``, ``flags_changed``, ``dashboard``, ``user``) only build one.

On Redis each message is ``<origin> <json>``: the publishing process's id,
then the event (``brokers.ORIGIN``). With a ``redis+cluster://`` broker URL the
events go out by SPUBLISH on each topic's shard channel (``brokers/cluster.py``).

Publishing never makes a write fail: with Redis down the edit still succeeds,
screens held by this process are still told (the in-process bus), the failure
is logged and counted (``hallboard_realtime_publish_failed_total``; successes
in ``hallboard_realtime_published_total``), and polling covers the rest.

Publishing never makes a write wait either: events for Redis are queued and
sent by one thread of this process (``_Sender``), all that is queued in one
round trip, in order. An edit that touches every school of a district (an
organisation-wide alert, a new bell schedule) is thousands of events; sent one
by one after the commit, the last would leave half a second after the first.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from hallboard import redisconn
from hallboard.observability import metrics
from hallboard.realtime.brokers import ORIGIN, cluster, configured_url
from hallboard.realtime.brokers.memory import BUS
from hallboard.realtime.brokers.redis import PREFIX
from hallboard.realtime.core import events
from hallboard.realtime.core.close_codes import CloseCode

logger = logging.getLogger("hallboard.realtime.publish")


#: Events waiting for Redis, at most; beyond, the oldest are dropped (and counted as failed).
MAX_QUEUED = 100_000
#: Events sent in one pipeline, at most.
MAX_BATCH = 1_000


class _Sender:
    """The thread that sends this process's events to Redis, many per round trip, in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._queue: deque[tuple[str, str, bytes]] = deque()  # (kind, topic, data)
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._failing = False

    def put(self, items: list[tuple[str, str, bytes]]) -> None:
        """Queue ``(kind, topic, data)`` events, in order, under one lock."""
        with self._cond:
            waiting = not self._queue  # the thread sleeps only on an empty queue
            self._queue.extend(items)
            over = len(self._queue) - MAX_QUEUED
            if over > 0:
                dropped = Counter(self._queue.popleft()[0] for _ in range(over))
                for kind, count in dropped.items():
                    metrics.realtime_publish_failed_total.labels(kind=kind).inc(count)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hallboard-publish", daemon=True
                )
                self._thread.start()
            if waiting:
                # Woken once per burst, not once per event: a transaction publishing for
                # 10,000 schools does not hand the GIL to the thread 10,000 times.
                self._idle.clear()
                self._cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far was sent (or failed); False on timeout."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._idle.set()
                    self._cond.wait()
                count = min(len(self._queue), MAX_BATCH)
                batch = [self._queue.popleft() for _ in range(count)]
            self._send(batch)  # idle is set above, once the queue is found empty

    def _send(self, batch: list[tuple[str, str, bytes]]) -> None:
        failed: list[int] = []  # indexes in batch
        error: Exception | None = None
        try:
            if cluster.is_cluster_url(self.url):
                # Node by node: a master that is down loses only its partitions' events.
                failed, error = cluster.publish_sync(
                    self.url, [(topic, ORIGIN + b" " + data) for _, topic, data in batch]
                )
            else:
                pipe = redisconn.client(self.url).pipeline(transaction=False)
                for _, topic, data in batch:
                    pipe.publish(PREFIX + topic, ORIGIN + b" " + data)
                pipe.execute()
        except Exception as exc:  # never fatal: polling covers what was lost
            failed, error = list(range(len(batch))), exc
        lost = Counter(batch[i][0] for i in failed)
        for kind, count in lost.items():
            metrics.realtime_publish_failed_total.labels(kind=kind).inc(count)
        for kind, count in (Counter(kind for kind, _, _ in batch) - lost).items():
            metrics.realtime_published_total.labels(kind=kind).inc(count)
        if failed:
            if not self._failing:
                logger.warning(
                    "%d events not published to Redis (polling will cover them): %s",
                    len(failed),
                    error,
                )
            self._failing = True
            return
        if self._failing:
            logger.info("publishing to Redis again")
        self._failing = False


_senders: dict[str, _Sender] = {}
_senders_lock = threading.Lock()


def _sender(url: str) -> _Sender:
    with _senders_lock:
        sender = _senders.get(url)
        if sender is None:
            sender = _senders[url] = _Sender(url)
        return sender


def flush(timeout: float = 5.0) -> bool:
    """Wait until every event queued by this process so far has gone to Redis (or failed)."""
    return all(sender.flush(timeout) for sender in list(_senders.values()))


# A short-lived process (a management command, an import) sends what it queued.
atexit.register(flush, 2.0)


def publish(event: events.Event) -> None:
    """Publish ``event`` on its topic, stamped with ``"ts"`` (now, for push latency).

    Returns at once: this process's gateways are told now (the in-process bus),
    Redis by the sender thread.
    """
    publish_many((event,))


def publish_many(batch: Iterable[events.Event]) -> None:
    """Publish each event of ``batch`` on its topic, in order, as ``publish`` does: one
    timestamp, one look at the configuration and one hand-over to the sender thread for
    all of them (an edit of every school of a district is thousands of events)."""
    ts = time.time()
    items = []
    for event in batch:
        topic = event.topic
        data = events.encode(event, ts)
        BUS.publish(topic, data)  # gateways in this process (the embedded default)
        items.append((event.kind, topic, data))
    if not items:
        return
    url = configured_url()
    if url:
        _sender(url).put(items)
    else:
        for kind, count in Counter(kind for kind, _, _ in items).items():
            metrics.realtime_published_total.labels(kind=kind).inc(count)


def invalidate(school_id: int, revision: int) -> None:
    publish(events.Invalidate(school_id, revision))


def invalidate_many(revisions: Mapping[int, int]) -> None:
    """One ``invalidate`` per school of ``revisions`` (school id → revision), in one batch."""
    publish_many(events.Invalidate(school, rev) for school, rev in revisions.items())


def alert_changed(school_id: int, alert: dict[str, Any] | None, cleared: int | None) -> None:
    publish(events.AlertChanged(school_id, alert, cleared))


def command(screen_id: int, command_id: int, name: str, payload: dict[str, Any]) -> None:
    publish(events.Command(screen_id, command_id, name, payload))


def close_screen(screen_id: int, code: CloseCode) -> None:
    publish(events.CloseScreen(screen_id, code))


def flags_changed() -> None:
    publish(events.FlagsChanged())


def dashboard(school_id: int, frame: dict[str, Any]) -> None:
    """Tell every live dashboard watching ``school_id`` (a staff frame, see docs/operations.md)."""
    publish(events.StaffFrames.dashboard(school_id, frame))


def dashboards(frames: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """``dashboard`` for each ``(school_id, frame)``, in one batch."""
    publish_many(events.StaffFrames.dashboard(school, frame) for school, frame in frames)


def user(user_id: int, frame: dict[str, Any]) -> None:
    """Tell one staff user's open dashboards (e.g. what became of a command they sent)."""
    publish(events.StaffFrames.user(user_id, frame))
