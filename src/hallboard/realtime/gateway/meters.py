"""The gateway's metrics, with their label children bound once.

A label lookup per write would cost more than the write: children are bound
here at start (or on first use, for labels only known then) and the gateway
only calls ``inc``/``dec``. The metrics themselves are defined, and documented
for operators, in ``hallboard.observability.metrics`` (docs/operations.md).
"""

from __future__ import annotations

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

    def delivered(self, mtype: str, count: int) -> None:
        child = self._delivered.get(mtype)
        if child is None:
            child = self._delivered[mtype] = metrics.gateway_messages_delivered_total.labels(
                type=mtype
            )
        child.inc(count)

    def failed(self, mtype: str, count: int) -> None:
        child = self._failed.get(mtype)
        if child is None:
            child = self._failed[mtype] = metrics.gateway_messages_failed_total.labels(type=mtype)
        child.inc(count)

    def received(self, kind: str) -> None:
        child = self._received.get(kind)
        if child is None:
            child = self._received[kind] = metrics.gateway_events_received_total.labels(kind=kind)
        child.inc()

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
