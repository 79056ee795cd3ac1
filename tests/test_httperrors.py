"""``hallboard.httperrors``: a NUL in a URL, and Django's own 400/404, answered per path."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from hallboard import httperrors


def _passthrough(request: HttpRequest) -> HttpResponse:
    return HttpResponse("view ran")


@pytest.mark.parametrize(
    "url", ["/api/v1/schools/a%00b", "/api/v1/schools?q=a%00b", "/api/v1/x?%00=1"]
)
def test_a_nul_in_an_api_url_is_a_json_400_before_any_view(url: str) -> None:
    """Under ``/api/`` a NUL in the path or the query is a JSON 400, not cached; no view runs."""
    middleware = httperrors.RejectNulMiddleware(_passthrough)
    response = middleware(RequestFactory().get(url))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": "invalid_request",
        "detail": httperrors.DETAIL,
    }
    assert response["Cache-Control"] == "no-store"


def test_a_nul_elsewhere_is_a_plain_text_400() -> None:
    """Outside ``/api/`` a NUL in the URL is a plain text 400 with the same explanation."""
    middleware = httperrors.RejectNulMiddleware(_passthrough)
    response = middleware(RequestFactory().get("/display/?token=a%00"))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == httperrors.DETAIL


def test_a_url_without_nul_reaches_the_view() -> None:
    """A URL without a NUL passes through the middleware to the view unchanged."""
    middleware = httperrors.RejectNulMiddleware(_passthrough)
    response = middleware(RequestFactory().get("/api/v1/schools?q=a%20b"))
    assert response.status_code == 200
    assert response.content == b"view ran"


def test_a_refused_url_is_logged_once_with_the_nul_made_visible(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The refusal is one log line on ``hallboard.requests``, the NUL shown as ``␀``."""
    middleware = httperrors.RejectNulMiddleware(_passthrough)
    with caplog.at_level("INFO", logger="hallboard.requests"):
        middleware(RequestFactory().get("/x%00y"))
    lines = [r.getMessage() for r in caplog.records if r.name == "hallboard.requests"]
    assert lines == ["request refused: NUL in the URL of /x␀y"]


def test_the_middleware_is_installed_for_every_request(db: None) -> None:
    """Through the whole stack a NUL in an unknown non-API URL is still a 400, not a 404."""
    response = Client().get("/no-such-page%00")
    assert response.status_code == 400


def test_bad_request_under_api_is_json() -> None:
    """``handler400`` under ``/api/`` answers JSON ``invalid_request``, never HTML."""
    request = RequestFactory().post("/api/v1/schools")
    response = httperrors.bad_request(request, SuspiciousOperation("too big"))
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


def test_bad_request_elsewhere_is_djangos_page() -> None:
    """``handler400`` outside ``/api/`` is Django's own HTML 400 page."""
    response = httperrors.bad_request(RequestFactory().post("/staff/"))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_not_found_under_api_is_json(db: None) -> None:
    """An unknown URL under ``/api/`` is a JSON 404 ``not_found`` through the URL config."""
    response = Client().get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "No such endpoint."}
    assert response["Cache-Control"] == "no-store"


def test_not_found_elsewhere_is_djangos_page() -> None:
    """``handler404`` outside ``/api/`` is Django's HTML 404 page."""
    response = httperrors.not_found(RequestFactory().get("/nowhere"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
