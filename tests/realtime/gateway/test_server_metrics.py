"""Each gateway metric changes on the event that should change it; the gateway port answers
/metrics (with the metrics token only) and /readyz (naming what fails)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hallboard.realtime.brokers.redis import RedisBroker
from hallboard.realtime.core import topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, revision_of, sample
from tests.realtime.conftest import (
    FakeClock,
    RedisProcess,
    closed_with,
    open_display,
    receive_type,
    start_gateway,
)
from tests.realtime.gateway.test_server import in_thread
from tests.realtime.gateway.test_server_protocol import raw_request

pytestmark = pytest.mark.django_db(transaction=True)


class Delta:
    """How much each series moved since this object was made."""

    def __init__(self, *series: tuple[str, dict[str, str]]) -> None:
        self.before = {
            (name, tuple(sorted(labels.items()))): sample(name, **labels) for name, labels in series
        }

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return sample(name, **labels) - self.before.get(key, 0.0)


async def until(check: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_open_sockets_are_counted_while_open(gateway: Gateway, tenant: Tenant) -> None:
    """hallboard_gateway_connections{display,open} goes up on accept and down on close;
    the accepted counter only up."""
    open_series = ("hallboard_gateway_connections", {"kind": "display", "state": "open"})
    accepted = ("hallboard_gateway_connections_accepted_total", {"kind": "display"})
    delta = Delta(open_series, accepted)
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    assert delta(open_series[0], **open_series[1]) == 1
    assert delta(accepted[0], **accepted[1]) == 1
    await ws.close()
    await until(lambda: delta(open_series[0], **open_series[1]) == 0)
    assert delta(accepted[0], **accepted[1]) == 1


async def test_refusals_are_counted_by_close_code(gateway: Gateway, tenant: Tenant) -> None:
    """A refused connect counts under its close code."""
    delta = Delta(("hallboard_gateway_refused_total", {"code": "4401"}))
    ws = await open_display(gateway, "hbs_unknown")
    assert await closed_with(ws) == CloseCode.INVALID_TOKEN
    assert delta("hallboard_gateway_refused_total", code="4401") == 1


async def test_server_closes_are_counted_by_close_code(gateway: Gateway, tenant: Tenant) -> None:
    """A policy close of an open socket counts under hallboard_gateway_closed_total{1008}."""
    delta = Delta(("hallboard_gateway_closed_total", {"code": "1008"}))
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send('{"type":"publish"}')
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION
    assert delta("hallboard_gateway_closed_total", code="1008") == 1


async def test_slow_clients_are_counted(tenant: Tenant) -> None:
    """A socket closed as a slow client counts in the slow-client metric and under 4408."""
    series = ("hallboard_gateway_slow_client_disconnects_total", {})
    delta = Delta(series, ("hallboard_gateway_closed_total", {"code": "4408"}))
    clock = FakeClock()
    gw = await start_gateway(clock=clock, slow_after=0.2)
    try:
        _, token = await in_thread(make_screen, tenant.school)
        ws = await open_display(gw, token)
        await receive_type(ws, "hello")
        (server_side,) = gw.hub.connections()
        server_side.pause_writing()
        clock.advance(0.3)  # past the grace period
        gw.tick()
        assert await closed_with(ws) == CloseCode.SLOW_CLIENT
        assert delta("hallboard_gateway_slow_client_disconnects_total") == 1
        assert delta("hallboard_gateway_closed_total", code="4408") == 1
    finally:
        await gw.shutdown()


async def test_an_edit_counts_event_delivery_and_latency(gateway: Gateway, tenant: Tenant) -> None:
    """An edit: one invalidate event received, one frame delivered per screen, one latency
    observation."""
    delta = Delta(
        ("hallboard_gateway_events_received_total", {"kind": "invalidate"}),
        ("hallboard_gateway_messages_delivered_total", {"type": "invalidate"}),
        ("hallboard_push_latency_seconds_count", {}),
    )
    tokens = [(await in_thread(make_screen, tenant.school, f"S{n}"))[1] for n in range(2)]
    sockets = [await open_display(gateway, t, f"device-{n:04d}") for n, t in enumerate(tokens)]
    for ws in sockets:
        await receive_type(ws, "hello")
    await in_thread(Announcement.objects.create, school=tenant.school, title="Now")
    for ws in sockets:
        await receive_type(ws, "invalidate")
    assert delta("hallboard_gateway_events_received_total", kind="invalidate") == 1
    assert delta("hallboard_gateway_messages_delivered_total", type="invalidate") == 2
    assert delta("hallboard_push_latency_seconds_count") == 1
    for ws in sockets:
        await ws.close()


async def test_coalesced_and_failed_frames_are_counted(gateway: Gateway, tenant: Tenant) -> None:
    """A change inside the coalescing window counts as coalesced; a frame for a socket that
    is being closed as slow counts as failed."""
    delta = Delta(
        ("hallboard_gateway_coalesced_total", {}),
        ("hallboard_gateway_messages_failed_total", {"type": "alert"}),
    )
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    hello = await receive_type(ws, "hello")
    school_id = tenant.school.pk
    topic = topics.school(school_id)
    for n in (1, 2):  # the second is inside the window of the first
        event = {"e": "invalidate", "school": school_id, "rev": hello["rev"] + n}
        gateway.on_broker_message(topic, json.dumps(event).encode())
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert delta("hallboard_gateway_coalesced_total") == 1
    (server_side,) = gateway.hub.connections()
    gateway.hub.congested(server_side, 0.0)
    gateway.hub.slow_clients(10_000.0)  # reported slow: it gets nothing more
    event = {"e": "alert", "school": school_id, "alert": None, "cleared": 3}
    gateway.on_broker_message(topic, json.dumps(event).encode())
    await asyncio.sleep(0)
    assert delta("hallboard_gateway_messages_failed_total", type="alert") == 1
    await ws.close()


async def test_broker_state_and_reconnects(
    tenant: Tenant, redis_process: RedisProcess, settings: Any
) -> None:
    """hallboard_broker_connected follows Redis going away and coming back; the reconnect
    is counted."""
    gw = await start_gateway(RedisBroker(redis_process.url, backoff_cap=0.3))
    try:
        assert await gw.broker.wait_connected(10)  # type: ignore[attr-defined]
        delta = Delta(("hallboard_broker_reconnects_total", {}))
        await until(lambda: sample("hallboard_broker_connected", broker="redis") == 1)
        redis_process.stop()
        await until(lambda: sample("hallboard_broker_connected", broker="redis") == 0)
        redis_process.start()
        await until(lambda: sample("hallboard_broker_connected", broker="redis") == 1, 30)
        await until(lambda: delta("hallboard_broker_reconnects_total") >= 1)
    finally:
        await gw.shutdown()


async def test_gateway_port_serves_metrics_with_the_token_only(
    gateway: Gateway, tenant: Tenant, settings: Any
) -> None:
    """/metrics on the gateway port: 401 without the metrics token, the exposition with it."""
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n%s\r\n"
    denied = await raw_request(gateway, request % b"")
    assert denied.startswith(b"HTTP/1.1 401 ")
    assert json.loads(denied.split(b"\r\n\r\n", 1)[1])["error"] == "unauthorized"
    wrong = await raw_request(gateway, request % b"Authorization: Bearer nope\r\n")
    assert wrong.startswith(b"HTTP/1.1 401 ")
    answer = await raw_request(gateway, request % b"Authorization: Bearer s3cret-metrics-token\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"hallboard_gateway_connections" in answer
    assert b"hallboard_screens" in answer  # the database gauges too


async def test_gateway_port_readiness_names_a_broker_outage(
    tenant: Tenant, redis_process: RedisProcess, settings: Any
) -> None:
    """/readyz on the gateway port: 200 with database and broker up; 503 naming the broker
    when Redis is away."""
    gw = await start_gateway(RedisBroker(redis_process.url, backoff_cap=0.3))
    try:
        assert await gw.broker.wait_connected(10)  # type: ignore[attr-defined]
        ok = await raw_request(gw, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ")
        redis_process.stop()
        await until(lambda: gw.broker.state == "down")
        down = await raw_request(gw, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert down.startswith(b"HTTP/1.1 503 ")
        assert "broker" in json.loads(down.split(b"\r\n\r\n", 1)[1])["failing"]
    finally:
        await gw.shutdown()


async def test_an_alert_frame_is_counted_as_delivered(gateway: Gateway, tenant: Tenant) -> None:
    """Alert frames count under type=alert (never coalesced, never as invalidate)."""
    delta = Delta(("hallboard_gateway_messages_delivered_total", {"type": "alert"}))
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    rev = await in_thread(revision_of, tenant.school)
    event = {
        "e": "alert",
        "school": tenant.school.pk,
        "alert": {"id": 1},
        "cleared": None,
        "rev": rev,
    }
    gateway.on_broker_message(topics.school(tenant.school.pk), json.dumps(event).encode())
    assert (await receive_type(ws, "alert"))["alert"] == {"id": 1}
    assert delta("hallboard_gateway_messages_delivered_total", type="alert") == 1
    await ws.close()


async def test_unknown_and_malformed_events_are_counted_and_the_next_one_delivered(
    gateway: Gateway, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """An event of an unknown kind, or with a field of the wrong type, is counted by reason
    and logged in one line each; it breaks nothing: the next good event is delivered."""
    series = [
        ("hallboard_gateway_events_ignored_total", {"reason": r}) for r in ("unknown", "malformed")
    ]
    delta = Delta(*series)
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    hello = await receive_type(ws, "hello")
    topic = topics.school(tenant.school.pk)
    with caplog.at_level("WARNING", logger="hallboard.realtime.gateway"):
        gateway.on_broker_message(topic, b'{"e":"teleport","school":1}')
        gateway.on_broker_message(topic, b'{"e":"invalidate","school":"x","rev":1}')
    assert delta("hallboard_gateway_events_ignored_total", reason="unknown") == 1
    assert delta("hallboard_gateway_events_ignored_total", reason="malformed") == 1
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == 2
    event = {"e": "invalidate", "school": tenant.school.pk, "rev": hello["rev"] + 1}
    gateway.on_broker_message(topic, json.dumps(event).encode())
    assert (await receive_type(ws, "invalidate"))["rev"] == hello["rev"] + 1
    await ws.close()
