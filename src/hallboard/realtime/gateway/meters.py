"""The gateway's metrics, with their label children bound once.

A label lookup per write would cost more than the write: children are bound
here at start (or on first use, for labels only known then) and the gateway
only calls ``inc``/``dec``. The metrics themselves are defined, and documented
for operators, in ``hallboard.observability.metrics`` (docs/operations.md).

What is counted per broker event and per delivery (messages delivered and
failed, events received, coalesced, push latency) is added up here and written
to the metrics once per turn of the event loop (``flush``, scheduled with
``call_soon`` by the first count of a turn), not once per event: with
``PROMETHEUS_MULTIPROC_DIR`` every write is a locked write to a memory-mapped
file, and a push to every screen is thousands of events in a few turns. (The
latency histogram's observations are added to its buckets the way
``Histogram.observe`` adds them, many at once.)
"""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

from hallboard.observability import metrics
from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import events
from hallboard.realtime.core.node import Kind


class Meters:
    def __init__(self, broker: Broker) -> None:
        gc = metrics.gateway_connections
        self.pending = gc.labels(kind="display", state="authenticating")
        self.open = {k: gc.labels(kind=k.name.lower(), state="open") for k in Kind}
        self.accepted = {
            k: metrics.gateway_connections_total.labels(kind=k.name.lower()) for k in Kind
        }
        self.ignored = {
            r: metrics.gateway_events_ignored_total.labels(reason=r) for r in events.REASONS
        }
        self._delivered: dict[str, Any] = {}
        self._failed: dict[str, Any] = {}
        self._received: dict[str, Any] = {}
        self._broker = metrics.broker_connected.labels(broker=broker.name)
        self._broker_reported: dict[Any, int] = {}
        self._counts: dict[Any, int] = {}  # counter child → not yet written
        latency = metrics.push_latency_seconds
        self._bounds: list[float] = list(latency._upper_bounds)
        self._latency_buckets = [0] * len(self._bounds)
        self._latency_sum = 0.0
        self._armed = False

    def _add(self, child: Any, amount: int) -> None:
        counts = self._counts
        counts[child] = counts.get(child, 0) + amount
        if not self._armed:
            self._arm()

    def _arm(self) -> None:
        self._armed = True
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop (a caller outside the gateway): at once
            self.flush()

    def flush(self) -> None:
        """Write what was counted since the last flush to the metrics."""
        self._armed = False
        counts, self._counts = self._counts, {}
        for child, amount in counts.items():
            child.inc(amount)
        if self._latency_sum or any(self._latency_buckets):
            latency = metrics.push_latency_seconds
            for i, amount in enumerate(self._latency_buckets):
                if amount:
                    latency._buckets[i].inc(amount)
            latency._sum.inc(self._latency_sum)
            self._latency_buckets = [0] * len(self._bounds)
            self._latency_sum = 0.0

    def delivered(self, mtype: str, count: int) -> None:
        child = self._delivered.get(mtype)
        if child is None:
            child = self._delivered[mtype] = metrics.gateway_messages_delivered_total.labels(
                type=mtype
            )
        self._add(child, count)

    def failed(self, mtype: str, count: int) -> None:
        child = self._failed.get(mtype)
        if child is None:
            child = self._failed[mtype] = metrics.gateway_messages_failed_total.labels(type=mtype)
        self._add(child, count)

    def received(self, kind: str) -> None:
        child = self._received.get(kind)
        if child is None:
            child = self._received[kind] = metrics.gateway_events_received_total.labels(kind=kind)
        self._add(child, 1)

    def coalesced(self) -> None:
        self._add(metrics.gateway_coalesced_total, 1)

    def latency(self, seconds: float) -> None:
        """One push latency (``hallboard_push_latency_seconds``): the bucket
        ``Histogram.observe`` would count it in (the first bound not below it)."""
        self._latency_buckets[bisect.bisect_left(self._bounds, seconds)] += 1
        self._latency_sum += seconds
        if not self._armed:
            self._arm()

    def broker(self, broker: Broker) -> None:
        """The broker's state and counters as metrics (the broker itself knows no metrics)."""
        self._broker.set(1 if broker.state == "connected" else 0)
        for counter, value in (
            (metrics.broker_reconnects_total, broker.reconnects),
            (metrics.broker_resync_failures_total, broker.resync_failures),
            (metrics.broker_callback_errors_total, broker.callback_errors),
        ):
            seen = self._broker_reported.get(counter, 0)
            if value > seen:
                counter.inc(value - seen)
                self._broker_reported[counter] = value
