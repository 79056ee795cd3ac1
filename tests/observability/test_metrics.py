"""Web-side metrics change on the events that should change them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from hallboard.alerts.models import Alert
from hallboard.observability import metrics
from hallboard.realtime import publish
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen
from tests.display.conftest import ScreenClient

REQUESTS = "hallboard_display_requests_total"
REFUSALS = "hallboard_display_refusals_total"


class Delta:
    """How much series moved since the snapshot was taken."""

    def __init__(self) -> None:
        self.before = self._values()

    @staticmethod
    def _values() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in REGISTRY.collect()
            if family.name.startswith("hallboard_")
            for s in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self._values().get(key, 0.0) - self.before.get(key, 0.0)


@pytest.fixture(autouse=True)
def _rate_limit(settings: Any) -> None:
    settings.DISPLAY_RATE_LIMIT = "10000/second"
    settings.REDIS_URL = ""


def test_polling_answers_are_counted_by_endpoint_and_code(tenant: Tenant) -> None:
    """status and snapshot 200 and 304 are counted per endpoint and status code."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    delta = Delta()
    etag = client.get("status")["ETag"]
    client.get("status", headers={"If-None-Match": etag})
    client.get("status", headers={"If-None-Match": etag})
    snapshot_etag = client.get("snapshot")["ETag"]
    client.get("snapshot", headers={"If-None-Match": snapshot_etag})
    assert delta(REQUESTS, endpoint="status", code="200") == 1
    assert delta(REQUESTS, endpoint="status", code="304") == 2
    assert delta(REQUESTS, endpoint="snapshot", code="200") == 1
    assert delta(REQUESTS, endpoint="snapshot", code="304") == 1


def test_heartbeats_and_their_refusals_are_counted(tenant: Tenant) -> None:
    """A heartbeat is 204; a bad body is 400 and an invalid_body refusal."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    delta = Delta()
    assert client.heartbeat({"rev": 1, "mode": "poll"}).status_code == 204
    assert client.heartbeat(b"not json").status_code == 400
    assert delta(REQUESTS, endpoint="heartbeat", code="204") == 1
    assert delta(REQUESTS, endpoint="heartbeat", code="400") == 1
    assert delta(REFUSALS, error="invalid_body") == 1


def test_refusals_are_counted_by_error_and_code(tenant: Tenant) -> None:
    """Unknown token (401), missing device key (400) and a second device (403), by error."""
    _, token = make_screen(tenant.school)
    delta = Delta()
    assert ScreenClient("no-such-token").get("status").status_code == 401
    assert Client().get("/api/display/status/", {"token": token}).status_code == 400
    ScreenClient(token, "device-0001").get("status")
    assert ScreenClient(token, "device-0002").get("status").status_code == 403
    assert delta(REQUESTS, endpoint="status", code="401") == 1
    assert delta(REQUESTS, endpoint="status", code="400") == 1
    assert delta(REQUESTS, endpoint="status", code="403") == 1
    assert delta(REFUSALS, error="invalid_token") == 1
    assert delta(REFUSALS, error="missing_device_key") == 1
    assert delta(REFUSALS, error="screen_bound") == 1


def test_rate_limited_requests_are_counted_as_429(tenant: Tenant, settings: Any) -> None:
    """Over the limit: 429 by endpoint and a rate_limited refusal."""
    settings.DISPLAY_RATE_LIMIT = "2/minute"
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    delta = Delta()
    codes = [client.get("status").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert delta(REQUESTS, endpoint="status", code="429") == 1
    assert delta(REFUSALS, error="rate_limited") == 1


def test_pairing_requests_are_counted(db: None) -> None:
    """Pairing start (201) and pick-up of an unknown code (404) count under endpoint "pair"."""
    client = Client()
    delta = Delta()
    started = client.post(
        "/api/display/pair/", json.dumps({"dk": "device-0001"}), content_type="application/json"
    )
    assert started.status_code == 201
    assert client.get("/api/display/pair/ZZZZZZ/").status_code == 404
    assert delta(REQUESTS, endpoint="pair", code="201") == 1
    assert delta(REQUESTS, endpoint="pair", code="404") == 1


def test_wrong_method_is_counted_too(db: None) -> None:
    """A GET to the heartbeat endpoint is a 405, counted like any answer."""
    delta = Delta()
    assert Client().get("/api/display/heartbeat/").status_code == 405
    assert delta(REQUESTS, endpoint="heartbeat", code="405") == 1


def test_publishes_are_counted_by_kind(settings: Any) -> None:
    """Each published event counts once under its kind (no Redis: the in-process bus)."""
    delta = Delta()
    publish.invalidate(1, 5)
    publish.invalidate(1, 6)
    publish.flags_changed()
    assert delta("hallboard_realtime_published_total", kind="invalidate") == 2
    assert delta("hallboard_realtime_published_total", kind="flags") == 1
    assert delta("hallboard_realtime_publish_failed_total", kind="invalidate") == 0


def test_failed_publishes_are_counted_by_kind(settings: Any) -> None:
    """Redis unreachable: the publish is a failure of its kind, not a success."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    delta = Delta()
    publish.command(7, 1, "reload", {})
    assert publish.flush(10)  # sent (or failed) by the publishing thread
    assert delta("hallboard_realtime_publish_failed_total", kind="command") == 1
    assert delta("hallboard_realtime_published_total", kind="command") == 0


def test_published_to_redis_is_counted(redis_url: str, settings: Any) -> None:
    """With Redis up the publish counts as published."""
    settings.REDIS_URL = redis_url
    delta = Delta()
    publish.alert_changed(3, None, cleared=7)
    assert publish.flush(10)  # sent by the publishing thread
    assert delta("hallboard_realtime_published_total", kind="alert") == 1


async def test_events_carry_their_publish_time(settings: Any) -> None:
    """Every event is stamped with "ts", the publisher's time.time() (for push latency)."""
    received: list[bytes] = []
    broker = MemoryBroker()

    async def resync() -> None:
        return None

    await broker.start(lambda topic, data: received.append(data), resync)
    await broker.subscribe("school:41")
    before = timezone.now().timestamp()
    try:
        publish.invalidate(41, 9)
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
    finally:
        await broker.close()
    event = json.loads(received[0])
    assert (event["e"], event["rev"]) == ("invalidate", 9)
    assert before <= event["ts"] <= timezone.now().timestamp()


def _collected(collector: metrics.DatabaseCollector) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in collector.collect():
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(s.labels.values())] = s.value
    return out


def test_screens_by_school_and_status_from_the_database(tenant: Tenant) -> None:
    """hallboard_screens counts each school's screens per status, by school slug."""
    online, _ = make_screen(tenant.school, "A")
    stale, _ = make_screen(tenant.school, "B")
    make_screen(tenant.school, "C")  # never connected: offline
    make_screen(tenant.other_school, "D")
    now = timezone.now()  # heartbeats after the tokens were issued
    school = School.objects.get(pk=tenant.school.pk)
    Screen.objects.filter(pk=online.pk).update(
        last_heartbeat_at=now, revision_shown=school.revision
    )
    Screen.objects.filter(pk=stale.pk).update(last_heartbeat_at=now, revision_shown=0)
    School.objects.filter(pk=school.pk).update(revision_changed_at=now - dt.timedelta(minutes=5))
    screens = _collected(metrics.DatabaseCollector())["hallboard_screens"]
    assert screens == {
        ("alpha", "online"): 1,
        ("alpha", "stale"): 1,
        ("alpha", "offline"): 1,
        ("beta", "online"): 0,
        ("beta", "stale"): 0,
        ("beta", "offline"): 1,
    }
    only_beta = _collected(metrics.DatabaseCollector({tenant.other_school.pk}))
    assert {school for school, _ in only_beta["hallboard_screens"]} == {"beta"}


def test_active_alerts_by_severity_from_the_database(tenant: Tenant) -> None:
    """hallboard_alerts_active counts active alerts only, limited to the schools in view."""
    now = timezone.now()
    org, alpha, beta = tenant.organisation, tenant.school, tenant.other_school
    Alert.objects.create(organisation=org, school=alpha, headline="Lockdown", severity="extreme")
    Alert.objects.create(organisation=org, headline="Storm", severity="severe")  # every school
    Alert.objects.create(organisation=org, school=beta, headline="Drill", severity="minor")
    Alert.objects.create(
        organisation=org, school=alpha, headline="Over", severity="severe", cleared_at=now
    )
    Alert.objects.create(
        organisation=org,
        school=alpha,
        headline="Expired",
        severity="moderate",
        expires_at=now - dt.timedelta(minutes=1),
    )
    every = _collected(metrics.DatabaseCollector())["hallboard_alerts_active"]
    assert every == {("extreme",): 1, ("severe",): 1, ("moderate",): 0, ("minor",): 1}
    beta_only = _collected(metrics.DatabaseCollector({beta.pk}))["hallboard_alerts_active"]
    assert beta_only == {("extreme",): 0, ("severe",): 1, ("moderate",): 0, ("minor",): 1}


def test_contract_metric_names_are_defined() -> None:
    """Every metric of the contract is exported (the accepted-sockets counter renamed)."""
    names = metrics.metric_names()
    for name in (
        "hallboard_gateway_connections",
        "hallboard_gateway_connections_accepted_total",
        "hallboard_gateway_refused_total",
        "hallboard_gateway_closed_total",
        "hallboard_gateway_slow_client_disconnects_total",
        "hallboard_gateway_events_received_total",
        "hallboard_gateway_messages_delivered_total",
        "hallboard_gateway_messages_failed_total",
        "hallboard_gateway_coalesced_total",
        "hallboard_push_latency_seconds_bucket",
        "hallboard_broker_connected",
        "hallboard_broker_reconnects_total",
        "hallboard_gc_pause_seconds_bucket",
        "hallboard_realtime_published_total",
        "hallboard_realtime_publish_failed_total",
        "hallboard_display_requests_total",
        "hallboard_display_refusals_total",
        "hallboard_staff_refusals_total",
        "hallboard_ratelimit_storage_errors_total",
        "hallboard_screens",
        "hallboard_alerts_active",
    ):
        assert name in names
