"""Figures: read from a registry, summed, diffed over a window with counter resets."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hallboard.observability import figures as fig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_read_flattens_labels_and_histograms() -> None:
    """Counters by label, gauges by labels, histograms as sum and count; others ignored."""
    registry = CollectorRegistry()
    refused = Counter("hallboard_gateway_refused_total", "", ["code"], registry=registry)
    conns = Gauge("hallboard_gateway_connections", "", ["kind", "state"], registry=registry)
    latency = Histogram("hallboard_push_latency_seconds", "", registry=registry)
    Counter("unrelated_total", "", registry=registry).inc()
    refused.labels(code="4401").inc(3)
    conns.labels(kind="display", state="open").set(5)
    latency.observe(0.25)
    latency.observe(0.75)
    figures = fig.read(registry)
    assert figures == {
        "refused.4401": 3.0,
        "connections.display.open": 5.0,
        "push_latency.sum": 1.0,
        "push_latency.count": 2.0,
    }


def test_gateway_only_leaves_out_web_figures() -> None:
    """gateway_only keeps the gateway's figures and drops the web side's."""
    registry = CollectorRegistry()
    Counter("hallboard_realtime_published_total", "", ["kind"], registry=registry).labels(
        kind="invalidate"
    ).inc()
    Counter("hallboard_gateway_coalesced_total", "", registry=registry).inc(2)
    assert fig.read(registry, gateway_only=True) == {"coalesced": 2.0}


def test_increase_keeps_gauges_and_handles_resets() -> None:
    """Counters give their increase (all of it after a reset); gauges their current value."""
    before = {"refused.4401": 10.0, "accepted.display": 50.0, "connections.display.open": 9.0}
    now = {"refused.4401": 14.0, "accepted.display": 3.0, "connections.display.open": 4.0}
    assert fig.increase(now, before) == {
        "refused.4401": 4.0,
        "accepted.display": 3.0,  # the process restarted: 3 since then
        "connections.display.open": 4.0,
    }


def test_total_and_labelled() -> None:
    """total sums a figure over its labels; labelled splits it by label."""
    figures = {"refused.4401": 2.0, "refused.1013": 1.0, "refusedx": 9.0}
    assert fig.total(figures, "refused") == 3.0
    assert fig.labelled(figures, "refused") == {"4401": 2.0, "1013": 1.0}


def test_history_first_look_is_lifetime() -> None:
    """The first observation compares with nothing: the lifetime figures, no window length."""
    history = fig.History(300, clock=FakeClock())
    assert history.observe({"refused.4401": 5.0}) == ({"refused.4401": 5.0}, None)


def test_history_window_is_the_last_span_seconds() -> None:
    """With frequent samples the increase is over the last 300 s, not since start."""
    clock = FakeClock()
    history = fig.History(300, resolution=5, clock=clock)
    for step in range(0, 601, 10):  # one refusal every 10 s for 10 minutes
        clock.now = 1000.0 + step
        window, length = history.observe({"refused.4401": float(step // 10)})
    assert length == 300.0
    assert window == {"refused.4401": 30.0}


def test_history_with_rare_samples_compares_with_the_previous_one() -> None:
    """Asked once an hour, the window is the time since the previous look."""
    clock = FakeClock()
    history = fig.History(300, clock=clock)
    history.observe({"refused.4401": 100.0})
    clock.now += 3600
    window, length = history.observe({"refused.4401": 100.0})
    assert (window, length) == ({"refused.4401": 0.0}, 3600.0)


def test_history_keeps_few_samples() -> None:
    """Samples closer than the resolution replace each other: memory stays bounded."""
    clock = FakeClock()
    history = fig.History(300, resolution=5, clock=clock)
    for _ in range(10_000):
        clock.now += 0.01
        history.observe({"published.invalidate": 1.0})
    assert len(history._samples) <= 300 / 5 + 2
