"""The gateway's metrics, children bound once, broker counters as deltas
(realtime.gateway.meters)."""

from __future__ import annotations

from dataclasses import dataclass

from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.core import events
from hallboard.realtime.core.node import Kind
from hallboard.realtime.gateway.meters import Meters
from tests.conftest import sample


@dataclass
class FakeBroker:
    """A broker's observable state (the Broker protocol's counters)."""

    name: str = "fake"
    state: str = "connected"
    reconnects: int = 0
    resync_failures: int = 0
    callback_errors: int = 0


def test_open_and_accepted_children_exist_for_every_kind() -> None:
    """One open gauge and one accepted counter per connection kind, labelled by its name."""
    meters = Meters(MemoryBroker())
    assert set(meters.open) == set(Kind)
    assert set(meters.accepted) == set(Kind)
    before = sample("hallboard_gateway_connections", kind="staff", state="open")
    meters.open[Kind.STAFF].inc()
    assert sample("hallboard_gateway_connections", kind="staff", state="open") == before + 1
    meters.open[Kind.STAFF].dec()
    assert set(meters.ignored) == set(events.REASONS)


def test_delivered_failed_and_received_count_by_label() -> None:
    """delivered/failed add their count to the series of the message type; received adds 1."""
    meters = Meters(MemoryBroker())
    name = "hallboard_gateway_messages_delivered_total"
    before = sample(name, type="t-meters")
    meters.delivered("t-meters", 3)
    meters.delivered("t-meters", 2)
    assert sample(name, type="t-meters") == before + 5
    failed = sample("hallboard_gateway_messages_failed_total", type="t-meters")
    meters.failed("t-meters", 4)
    assert sample("hallboard_gateway_messages_failed_total", type="t-meters") == failed + 4
    received = sample("hallboard_gateway_events_received_total", kind="k-meters")
    meters.received("k-meters")
    meters.received("k-meters")
    assert sample("hallboard_gateway_events_received_total", kind="k-meters") == received + 2


def test_label_children_are_bound_once() -> None:
    """A second write of the same label reuses the child bound by the first."""
    meters = Meters(MemoryBroker())
    meters.delivered("t-once", 1)
    child = meters._delivered["t-once"]
    meters.delivered("t-once", 1)
    assert meters._delivered["t-once"] is child
    assert len(meters._delivered) == 1


def test_the_broker_state_is_a_gauge_of_connected() -> None:
    """broker() sets 1 while the broker is connected and 0 otherwise."""
    broker = FakeBroker(name="fake-state")
    meters = Meters(broker)  # type: ignore[arg-type]
    meters.broker(broker)  # type: ignore[arg-type]
    assert sample("hallboard_broker_connected", broker="fake-state") == 1
    broker.state = "reconnecting"
    meters.broker(broker)  # type: ignore[arg-type]
    assert sample("hallboard_broker_connected", broker="fake-state") == 0


def test_broker_counters_are_added_as_deltas_never_twice() -> None:
    """The broker's own totals become metric increments: only what is new since the last
    report is added, so reporting twice adds nothing."""
    broker = FakeBroker(name="fake-counts")
    meters = Meters(broker)  # type: ignore[arg-type]
    names = (
        "hallboard_broker_reconnects_total",
        "hallboard_broker_resync_failures_total",
        "hallboard_broker_callback_errors_total",
    )
    before = [sample(n) for n in names]
    broker.reconnects, broker.resync_failures, broker.callback_errors = 2, 1, 3
    meters.broker(broker)  # type: ignore[arg-type]
    meters.broker(broker)  # type: ignore[arg-type]
    assert [sample(n) - b for n, b in zip(names, before, strict=True)] == [2, 1, 3]
    broker.reconnects = 5
    meters.broker(broker)  # type: ignore[arg-type]
    assert sample(names[0]) - before[0] == 5


async def test_counts_of_one_loop_turn_are_written_once_after_it() -> None:
    """Inside the event loop, what one turn counts (many events, many deliveries) is added
    up and written to each series once, after the turn: nothing is lost, and the metrics
    see it one turn later."""
    import asyncio

    meters = Meters(MemoryBroker())
    name = "hallboard_gateway_messages_delivered_total"
    before = sample(name, type="t-turn")
    writes: list[float] = []
    meters.delivered("t-turn", 1)
    child = meters._delivered["t-turn"]
    real_inc = child.inc
    child.inc = lambda amount=1: (writes.append(amount), real_inc(amount))  # type: ignore[method-assign]
    for _ in range(999):
        meters.delivered("t-turn", 1)
    meters.coalesced()
    assert sample(name, type="t-turn") == before  # not yet: written after this turn
    await asyncio.sleep(0)
    assert sample(name, type="t-turn") == before + 1000
    assert writes == [1000]


def test_latencies_land_in_the_buckets_histogram_observe_would_choose() -> None:
    """Push latencies added up here and written at once give the same buckets, count and
    sum as ``Histogram.observe`` of each (bounds included: a value on a bound counts in it)."""
    from prometheus_client import CollectorRegistry, Histogram

    from hallboard.observability import metrics

    bounds = metrics.push_latency_seconds._upper_bounds
    values = [0.0, 0.0005, 0.001, 0.0011, 0.0025, 0.3, 1.0, 7.5, 10.0, 11.0, *bounds[:-1]]
    reference = Histogram("t_latency", "", buckets=bounds[:-1], registry=CollectorRegistry())
    for value in values:
        reference.observe(value)
    expected = {
        s.labels["le"]: s.value
        for s in reference.collect()[0].samples
        if s.name.endswith("_bucket")
    }

    def buckets() -> dict[str, float]:
        return {le: sample("hallboard_push_latency_seconds_bucket", le=le) for le in expected}

    before = buckets()
    count = sample("hallboard_push_latency_seconds_count")
    total = sample("hallboard_push_latency_seconds_sum")
    meters = Meters(MemoryBroker())
    for value in values:
        meters.latency(value)
    meters.flush()
    assert {le: v - before[le] for le, v in buckets().items()} == expected
    assert sample("hallboard_push_latency_seconds_count") == count + len(values)
    assert abs(sample("hallboard_push_latency_seconds_sum") - total - sum(values)) < 1e-9
