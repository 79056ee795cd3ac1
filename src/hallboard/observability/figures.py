"""Figures: the metrics as a flat ``{key: number}`` mapping that can be summed and diffed.

The seed-compatible JSON, the health verdict, the summary log line and the
gateway fleet reports (``fleet``) all work on figures, so that what one
process measured, what several gateways reported through Redis and what
changed over the last minutes are added up the same way.

Keys are the figure's name and its label values, dot-separated, e.g.
``refused.4401``, ``connections.display.open``, ``push_latency.sum``.
*Gauge* figures (``connections``, ``broker_connected``) are states: a window
keeps their current value. Every other figure is a counter: a window holds
its increase.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

Figures = dict[str, float]


@dataclass(frozen=True)
class Source:
    key: str
    labels: tuple[str, ...] = ()
    gauge: bool = False
    gateway: bool = True


#: Metric family (as prometheus_client names it) → figure.
SOURCES: dict[str, Source] = {
    "hallboard_gateway_connections": Source("connections", ("kind", "state"), gauge=True),
    "hallboard_gateway_connections_accepted": Source("accepted", ("kind",)),
    "hallboard_gateway_refused": Source("refused", ("code",)),
    "hallboard_gateway_closed": Source("closed", ("code",)),
    "hallboard_gateway_slow_client_disconnects": Source("slow_client_disconnects"),
    "hallboard_gateway_events_received": Source("events_received", ("kind",)),
    "hallboard_gateway_messages_delivered": Source("delivered", ("type",)),
    "hallboard_gateway_messages_failed": Source("failed", ("type",)),
    "hallboard_gateway_coalesced": Source("coalesced"),
    "hallboard_push_latency_seconds": Source("push_latency"),
    "hallboard_broker_connected": Source("broker_connected", ("broker",), gauge=True),
    "hallboard_broker_reconnects": Source("broker_reconnects"),
    "hallboard_realtime_published": Source("published", ("kind",), gateway=False),
    "hallboard_realtime_publish_failed": Source("publish_failed", ("kind",), gateway=False),
    "hallboard_display_requests": Source("display_requests", ("endpoint", "code"), gateway=False),
    "hallboard_display_refusals": Source("display_refusals", ("error",), gateway=False),
    "hallboard_ratelimit_storage_errors": Source("ratelimit_storage_errors", gateway=False),
}
GAUGES = frozenset(s.key for s in SOURCES.values() if s.gauge)
GATEWAY_KEYS = frozenset(s.key for s in SOURCES.values() if s.gateway)


def root(key: str) -> str:
    return key.split(".", 1)[0]


def read(registry: CollectorRegistry, *, gateway_only: bool = False) -> Figures:
    """The figures in ``registry`` (histograms: ``.sum`` and ``.count`` only)."""
    figures: Figures = {}
    for family in registry.collect():
        source = SOURCES.get(family.name)
        if source is None or (gateway_only and not source.gateway):
            continue
        for sample in family.samples:
            suffix = sample.name[len(family.name) :]
            if suffix in ("_sum", "_count"):
                parts = [source.key, suffix[1:]]
            elif suffix in ("", "_total"):
                parts = [source.key, *(sample.labels.get(name, "") for name in source.labels)]
            else:  # _created, _bucket
                continue
            key = ".".join(parts)
            # Several samples may fold into one key (liveall gauges carry a pid label).
            figures[key] = figures.get(key, 0.0) + float(sample.value)
    return figures


def add(*many: Mapping[str, float]) -> Figures:
    total: Figures = {}
    for figures in many:
        for key, value in figures.items():
            total[key] = total.get(key, 0.0) + value
    return total


def increase(now: Mapping[str, float], before: Mapping[str, float] | None) -> Figures:
    """What changed from ``before`` to ``now``: counters' increase, gauges' current value.

    A counter lower than before was reset (its process restarted): its whole
    value is the increase, as Prometheus' ``increase()`` counts it.
    """
    if before is None:
        return dict(now)
    delta: Figures = {}
    for key, value in now.items():
        if root(key) in GAUGES:
            delta[key] = value
            continue
        previous = before.get(key, 0.0)
        delta[key] = value - previous if value >= previous else value
    return delta


def total(figures: Mapping[str, float], key: str) -> float:
    """The sum of ``key`` over all its labels."""
    prefix = key + "."
    return sum(v for k, v in figures.items() if k == key or k.startswith(prefix))


def labelled(figures: Mapping[str, float], key: str) -> dict[str, float]:
    """``key``'s figures by label (``refused`` → ``{"4401": 3.0, ...}``)."""
    prefix = key + "."
    return {k[len(prefix) :]: v for k, v in figures.items() if k.startswith(prefix)}


class History:
    """Recent figures of one source, for what changed over the last ``span`` seconds.

    ``observe(figures)`` records them and answers the increase since the
    *baseline*: the newest sample at least ``span`` old, else the oldest one
    kept. So with samples every few seconds (gateways report every 5 s) the
    window is the last ``span`` seconds; with rare samples (a monitor asking
    every 10 minutes) it is the time since the previous one; the very first
    sample compares with nothing and answers the lifetime figures.
    Thread-safe; at most about ``span / resolution`` samples are kept.
    """

    def __init__(
        self,
        span: float = 300.0,
        *,
        resolution: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.span = span
        self.resolution = resolution
        self.clock = clock
        self._samples: deque[tuple[float, Figures]] = deque()
        self._lock = threading.Lock()

    def observe(self, figures: Mapping[str, float]) -> tuple[Figures, float | None]:
        """``(increase over the window, the window's length in seconds or None for lifetime)``."""
        now = self.clock()
        with self._lock:
            # Drop samples older than the newest one that is already span old.
            while len(self._samples) > 1 and self._samples[1][0] <= now - self.span:
                self._samples.popleft()
            baseline = self._samples[0] if self._samples else None
            sample = (now, dict(figures))
            if len(self._samples) > 1 and now - self._samples[-1][0] < self.resolution:
                self._samples[-1] = sample
            else:
                self._samples.append(sample)
        if baseline is None:
            return dict(figures), None
        return increase(figures, baseline[1]), now - baseline[0]
