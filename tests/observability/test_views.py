"""/metrics and /api/display/ws-metrics/: who may read them, and what they answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from hallboard.observability import metrics
from hallboard.schools.models import Membership, School
from tests.conftest import Tenant, make_screen

TOKEN = "metrics-token-for-tests-0123456789"
SEED_FIELDS = {
    "connections_active",
    "connections_total",
    "connections_failed",
    "broadcasts_sent",
    "broadcasts_failed",
    "broadcast_latency_avg_ms",
    "health",
}
ENDPOINTS = ("/metrics", "/api/display/ws-metrics/")


@pytest.fixture(autouse=True)
def _token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.REDIS_URL = ""


def signed_in(
    *, staff: bool = True, superuser: bool = False, school: School | None = None
) -> Client:
    user = get_user_model().objects.create_user(
        f"user-{staff}-{superuser}-{school}", password="a-long-password"
    )
    user.is_staff, user.is_superuser = staff, superuser
    user.save()
    if school is not None:
        Membership.objects.create(user=user, school=school, role="viewer")
    client = Client()
    client.force_login(user)
    return client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def series(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_is_refused_with_401_json(db: None, path: str) -> None:
    """Without a staff session or the token: 401 {"error": "unauthorized"} and a challenge."""
    response = Client().get(path)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_wrong_token_and_non_staff_users_are_refused(db: None, path: str) -> None:
    """A wrong token, a token with the right prefix, or a signed-in non-staff user: 401."""
    assert Client().get(path, headers=bearer("wrong")).status_code == 401
    assert Client().get(path, headers=bearer(TOKEN[:-1])).status_code == 401
    assert Client().get(path, headers={"Authorization": TOKEN}).status_code == 401
    assert signed_in(staff=False).get(path).status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_token_configured_means_no_token_access(db: None, path: str, settings: Any) -> None:
    """With METRICS_TOKEN empty, an empty bearer token does not open the door."""
    settings.METRICS_TOKEN = ""
    assert Client().get(path, headers={"Authorization": "Bearer "}).status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_token_and_staff_sessions_may_read(db: None, path: str) -> None:
    """The metrics token, a staff session and a superuser session are let in."""
    assert Client().get(path, headers=bearer()).status_code == 200
    assert signed_in().get(path).status_code == 200
    assert signed_in(superuser=True).get(path).status_code == 200


def test_metrics_is_prometheus_text_with_every_metric(tenant: Tenant) -> None:
    """/metrics answers the text format with the contract's metrics and the database gauges."""
    make_screen(tenant.school)
    response = Client().get("/metrics", headers=bearer())
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response["Cache-Control"] == "no-store"
    families = {f.name for f in text_string_to_metric_families(response.content.decode())}
    for family in (
        "hallboard_gateway_connections",
        "hallboard_gateway_connections_accepted",
        "hallboard_display_requests",
        "hallboard_gc_pause_seconds",
        "hallboard_push_latency_seconds",
        "hallboard_screens",
        "hallboard_alerts_active",
    ):
        assert family in families
    values = series(response.content)
    assert values[("hallboard_screens", (("school", "alpha"), ("status", "offline")))] == 1


def test_metrics_speaks_openmetrics_when_asked(db: None) -> None:
    """A scraper that accepts OpenMetrics gets it."""
    response = Client().get(
        "/metrics", headers={**bearer(), "Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_staff_see_only_their_schools_series(tenant: Tenant) -> None:
    """Staff of alpha see alpha's screens, not beta's; a superuser and the token see both."""
    make_screen(tenant.school)
    make_screen(tenant.other_school)

    def schools(client: Client, **headers: str) -> set[str]:
        body = client.get("/metrics", headers=headers).content
        return {
            dict(labels)["school"] for name, labels in series(body) if name == "hallboard_screens"
        }

    assert schools(signed_in(school=tenant.school)) == {"alpha"}
    assert schools(signed_in(school=None)) == set()
    assert schools(signed_in(superuser=True)) == {"alpha", "beta"}
    assert schools(Client(), **bearer()) == {"alpha", "beta"}


def test_ws_metrics_keeps_the_seed_shape(db: None) -> None:
    """The JSON has the seed's seven fields with the seed's types, then details."""
    body = Client().get("/api/display/ws-metrics/", headers=bearer()).json()
    assert set(body) >= SEED_FIELDS
    for field in SEED_FIELDS - {"health", "broadcast_latency_avg_ms"}:
        assert isinstance(body[field], int)
    assert isinstance(body["broadcast_latency_avg_ms"], float)
    assert body["health"] in ("ok", "warning", "critical")
    assert isinstance(body["health_reasons"], list)
    for detail in ("window", "connections", "refused", "gateways", "fleet", "screens"):
        assert detail in body


def test_ws_metrics_counts_what_the_gateway_metrics_say(db: None) -> None:
    """The seed's figures follow the gateway's metrics (accepted, refused 4400/4401/4403 only)."""
    client = Client()
    before = client.get("/api/display/ws-metrics/", headers=bearer()).json()
    metrics.gateway_connections_total.labels(kind="display").inc(5)
    metrics.gateway_refused_total.labels(code="4401").inc(2)
    metrics.gateway_refused_total.labels(code="4409").inc(7)  # push off: not a failure
    metrics.push_latency_seconds.observe(0.004)
    metrics.realtime_published_total.labels(kind="invalidate").inc(3)
    metrics.realtime_publish_failed_total.labels(kind="invalidate").inc(1)
    after = client.get("/api/display/ws-metrics/", headers=bearer()).json()
    assert after["connections_total"] - before["connections_total"] == 5
    assert after["connections_failed"] - before["connections_failed"] == 2
    assert after["refused"]["4409"] - before["refused"].get("4409", 0) == 7
    assert after["broadcasts_sent"] - before["broadcasts_sent"] == 3
    assert after["broadcasts_failed"] - before["broadcasts_failed"] == 1


def test_ws_metrics_screens_are_those_of_the_viewer(tenant: Tenant) -> None:
    """Screen totals cover the viewer's schools only."""
    make_screen(tenant.school)
    make_screen(tenant.other_school)
    make_screen(tenant.other_school)
    mine = signed_in(school=tenant.school).get("/api/display/ws-metrics/").json()
    every = Client().get("/api/display/ws-metrics/", headers=bearer()).json()
    assert mine["screens"] == {"online": 0, "stale": 0, "offline": 1}
    assert every["screens"] == {"online": 0, "stale": 0, "offline": 3}


def test_healthz_answers_without_the_database() -> None:
    """/healthz is 200 {"status": "ok"} and touches no database (no db fixture here)."""
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert Client().head("/healthz").status_code == 200  # some load balancers probe with HEAD
    assert Client().post("/healthz").status_code == 405


def test_probes_and_token_scrapes_pass_any_host(db: None) -> None:
    """Probes and token scrapes come by address: no 400 for a host outside ALLOWED_HOSTS."""
    by_address = {"HTTP_HOST": "10.0.3.7:8000"}
    assert Client().get("/healthz", **by_address).status_code == 200
    assert Client().get("/readyz", **by_address).status_code == 200
    assert Client().get("/metrics", headers=bearer(), **by_address).status_code == 200
    # A session (or nothing) goes the normal way, host checks included.
    assert Client().get("/metrics", **by_address).status_code == 400
    assert Client().get("/api/display/", **by_address).status_code == 400
