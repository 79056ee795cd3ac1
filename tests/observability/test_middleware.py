"""``hallboard.observability.middleware``: probes and token scrapes answered before the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from hallboard.observability.middleware import ProbeMiddleware

TOKEN = "s3cret-metrics-token"


@pytest.fixture(autouse=True)
def _token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.REDIS_URL = ""


def _rest(request: HttpRequest) -> HttpResponse:
    return HttpResponse("rest of the stack", status=299)


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_the_liveness_probe_is_answered_by_the_middleware(path: str) -> None:
    """``/healthz`` (with or without a slash) is answered here, the stack behind never runs."""
    response = ProbeMiddleware(_rest)(RequestFactory().get(path, HTTP_HOST="10.0.3.7:8000"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_the_readiness_probe_is_answered_by_the_middleware(db: None) -> None:
    """``/readyz`` is answered here by the readiness view."""
    response = ProbeMiddleware(_rest)(RequestFactory().get("/readyz"))
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert "database" in body["checks"]


def test_a_token_scrape_is_answered_by_the_middleware(db: None) -> None:
    """``/metrics`` with the metrics token is answered here, with the exposition."""
    request = RequestFactory().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    response = ProbeMiddleware(_rest)(request)
    assert response.status_code == 200
    assert b"hallboard_" in response.content


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/metrics", {}),
        ("/metrics", {"Authorization": "Bearer wrong"}),
        ("/api/display/", {}),
        ("/healthzz", {}),
    ],
)
def test_everything_else_goes_through_the_stack(path: str, headers: dict[str, str]) -> None:
    """``/metrics`` without the token (a session, say) and other paths go the normal way."""
    response = ProbeMiddleware(_rest)(RequestFactory().get(path, headers=headers))
    assert response.status_code == 299
