"""Gateways report their figures through Redis; a web process without a gateway sums them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client

from hallboard.observability import figures as fig
from hallboard.observability import fleet, metrics, report
from tests.realtime.conftest import RedisProcess

TOKEN = "fleet-test-token-0123456789abcdef"


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """This process's window history on a clock the test moves; its baseline taken now."""
    fake = FakeClock()
    monkeypatch.setattr(report, "LOCAL_HISTORY", fig.History(300, clock=fake))
    report.LOCAL_HISTORY.observe(fig.read(report.multiprocess.registry()))
    return fake


@pytest.fixture
def web(db: None, settings: Any, redis_server: RedisProcess, clock: FakeClock) -> Client:
    """A web process (no gateway of its own) on the throwaway Redis, with the metrics token."""
    settings.REDIS_URL = redis_server.url
    settings.METRICS_TOKEN = TOKEN
    return Client(headers={"Authorization": f"Bearer {TOKEN}"})


def ws_metrics(client: Client) -> dict[str, Any]:
    response = client.get("/api/display/ws-metrics/")
    assert response.status_code == 200
    return dict(response.json())


def without_fleet(client: Client, settings: Any) -> dict[str, Any]:
    """The same request with no Redis configured: this process's figures alone."""
    url = settings.REDIS_URL
    settings.REDIS_URL = ""
    try:
        return ws_metrics(client)
    finally:
        settings.REDIS_URL = url


def put(url: str, gateway_id: str, figures: dict[str, float], **fields: Any) -> None:
    """Write a gateway's report as report_forever does."""
    entry = fleet.Report(
        id=gateway_id,
        ts=fields.get("ts", time.time()),
        started=time.time() - 60,
        figures=figures,
        window=fields.get("window", figures),
        window_s=fields.get("window_s", 300.0),
    )
    redis.Redis.from_url(url).hset(fleet.KEY, gateway_id, entry.encode())


GATEWAY_A = {
    "connections.display.open": 30.0,
    "connections.staff.open": 2.0,
    "accepted.display": 40.0,
    "refused.4401": 1.0,
    "delivered.invalidate": 300.0,
    "push_latency.sum": 0.3,
    "push_latency.count": 100.0,
    "broker_connected.redis": 1.0,
}
GATEWAY_B = {
    "connections.display.open": 20.0,
    "accepted.display": 25.0,
    "refused.4403": 2.0,
    "refused.1013": 5.0,
    "delivered.invalidate": 100.0,
    "push_latency.sum": 0.1,
    "push_latency.count": 100.0,
    "broker_connected.redis": 1.0,
}


async def test_report_forever_writes_figures_and_removes_them_on_stop(
    redis_server: RedisProcess,
) -> None:
    """A gateway's figures appear in the hash every interval, with a window; gone once stopped."""
    figures = {"accepted.display": 3.0, "refused.4401": 1.0}
    client = redis.Redis.from_url(redis_server.url)
    task = asyncio.create_task(
        fleet.report_forever(
            lambda: figures, redis_url=redis_server.url, interval=0.05, gateway_id="gw-test"
        )
    )

    async def entry(predicate: Any) -> fleet.Report:
        for _ in range(200):
            raw = client.hget(fleet.KEY, "gw-test")
            if raw is not None and predicate(fleet.Report.decode("gw-test", raw)):
                return fleet.Report.decode("gw-test", raw)
            await asyncio.sleep(0.02)
        pytest.fail("no such report in Redis")

    try:
        first = await entry(lambda r: True)
        assert first.figures == figures
        assert abs(first.ts - time.time()) < 60
        figures["accepted.display"] = 10.0
        later = await entry(lambda r: r.figures["accepted.display"] == 10.0)
        assert later.window_s is not None
        assert later.window["accepted.display"] == 7.0  # the increase since the first report
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert client.hget(fleet.KEY, "gw-test") is None


async def test_report_forever_without_redis_does_nothing(settings: Any) -> None:
    """The embedded default has no Redis: nothing to report to, the task ends at once."""
    settings.REDIS_URL = ""
    await asyncio.wait_for(fleet.report_forever(lambda: {}), 5)


async def test_report_forever_survives_redis_down(redis_server: RedisProcess) -> None:
    """Redis killed while reporting: the task goes on, and reports again once Redis is back."""
    task = asyncio.create_task(
        fleet.report_forever(
            lambda: {"coalesced": 1.0}, redis_url=redis_server.url, interval=0.05, gateway_id="gw"
        )
    )
    try:
        redis_server.stop()
        await asyncio.sleep(0.3)
        assert not task.done()
        redis_server.start()  # an empty Redis: the report must be written again
        client = redis.Redis.from_url(redis_server.url)
        for _ in range(300):
            if client.hget(fleet.KEY, "gw") is not None:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("no report after Redis came back")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_read_keeps_fresh_reports_and_forgets_dead_ones(redis_server: RedisProcess) -> None:
    """Fresh reports are read; stale ones ignored; very old ones removed; garbage skipped."""
    now = time.time()
    put(redis_server.url, "fresh", {"coalesced": 1.0}, ts=now - 2)
    put(redis_server.url, "stale", {"coalesced": 1.0}, ts=now - fleet.FRESH_FOR - 5)
    put(redis_server.url, "dead", {"coalesced": 1.0}, ts=now - fleet.FORGET_AFTER - 5)
    client = redis.Redis.from_url(redis_server.url)
    client.hset(fleet.KEY, "garbage", "{not json")
    assert [r.id for r in fleet.read(redis_server.url, now=now)] == ["fresh"]
    assert set(client.hkeys(fleet.KEY)) == {b"fresh", b"stale", b"garbage"}


def test_ws_metrics_sums_the_gateways_of_the_fleet(web: Client, settings: Any) -> None:
    """A web process with no gateway answers for the fleet: sums, and each gateway listed."""
    alone = without_fleet(web, settings)
    put(settings.REDIS_URL, "host-a:1", GATEWAY_A)
    put(settings.REDIS_URL, "host-b:2", GATEWAY_B)
    body = ws_metrics(web)
    assert body["connections_active"] - alone["connections_active"] == 52
    assert body["connections_total"] - alone["connections_total"] == 65
    assert body["connections_failed"] - alone["connections_failed"] == 3  # 4401 + 4403, not 1013
    assert body["refused"]["1013"] - alone["refused"].get("1013", 0) == 5
    assert body["fleet"] == {"redis": True, "reporting": 2}
    gateways = {g["id"]: g for g in body["gateways"] if g["source"] == "fleet"}
    assert set(gateways) == {"host-a:1", "host-b:2"}
    assert gateways["host-a:1"]["connections_active"] == 32
    assert gateways["host-a:1"]["broadcast_latency_avg_ms"] == 3.0
    assert gateways["host-b:2"]["delivered"] == 100
    assert gateways["host-b:2"]["broker"] == {"redis": True}


def test_fleet_refusals_make_the_verdict_critical(web: Client, settings: Any) -> None:
    """Gateways reporting many 4401 refusals in their window: critical, with the reason."""
    window = {"accepted.display": 5.0, "refused.4401": 20.0, "connections.display.open": 5.0}
    put(settings.REDIS_URL, "host-a:1", {**window, "broker_connected.redis": 1.0}, window=window)
    body = ws_metrics(web)
    assert body["health"] == "critical"
    assert "refusals" in [r["rule"] for r in body["health_reasons"]]
    assert body["window"]["connections_failed"] == 20


def test_a_gateway_with_its_broker_down_is_a_warning(web: Client, settings: Any) -> None:
    """One gateway of two reports Redis down: a warning naming that gateway."""
    put(settings.REDIS_URL, "host-a:1", GATEWAY_A)
    put(settings.REDIS_URL, "host-b:2", {**GATEWAY_B, "broker_connected.redis": 0.0})
    body = ws_metrics(web)
    reasons = {r["rule"]: r for r in body["health_reasons"]}
    assert reasons["broker"]["status"] == "warning"
    assert "redis on host-b:2" in reasons["broker"]["detail"]


def test_this_process_own_report_is_not_counted_twice(web: Client, settings: Any) -> None:
    """A report under this process's own id is skipped (its figures are counted locally)."""
    alone = without_fleet(web, settings)
    put(settings.REDIS_URL, fleet.process_id(), GATEWAY_A)
    body = ws_metrics(web)
    assert body["connections_active"] == alone["connections_active"]
    assert body["fleet"]["reporting"] == 0


def test_unreadable_fleet_is_a_warning_not_an_error(db: None, settings: Any) -> None:
    """Redis unreachable: the JSON still answers, with a fleet warning and the local figures."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.METRICS_TOKEN = TOKEN
    response = Client().get(
        "/api/display/ws-metrics/", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert "Redis unreachable" in body["fleet"]["error"]
    assert "fleet" in [r["rule"] for r in body["health_reasons"]]


def test_a_past_incident_leaves_the_window(clock: FakeClock, settings: Any) -> None:
    """Refusals make the verdict critical; 5 minutes later they are history, still counted."""
    settings.REDIS_URL = ""
    metrics.gateway_connections_total.labels(kind="display").inc(5)
    metrics.gateway_refused_total.labels(code="4401").inc(20)
    clock.now += 10
    during = report.document(report.collect())
    assert during["health"] == "critical"
    assert during["window"]["connections_failed"] == 20
    clock.now += 301
    after = report.document(report.collect())
    assert "refusals" not in [r["rule"] for r in after["health_reasons"]]
    assert after["window"]["connections_failed"] == 0
    assert after["connections_failed"] == during["connections_failed"]  # lifetime, like the seed
