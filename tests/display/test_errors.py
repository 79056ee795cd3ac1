"""The display protocol's error answers: one JSON shape, never cached, each counted."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.http import JsonResponse

from hallboard.display import errors
from tests.conftest import sample


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (errors.missing_device_key, 400, "missing_device_key"),
        (errors.invalid_device_key, 400, "invalid_device_key"),
        (errors.invalid_token, 401, "invalid_token"),
        (errors.screen_bound, 403, "screen_bound"),
        (errors.unknown_alert, 404, "unknown_alert"),
        (lambda: errors.invalid_body("rev must be an integer"), 400, "invalid_body"),
        (lambda: errors.rate_limited(7), 429, "rate_limited"),
    ],
)
def test_every_refusal_has_one_shape_and_is_counted(
    make: Callable[[], JsonResponse], status: int, code: str
) -> None:
    """{"error": code, "detail": words}, Cache-Control: no-store, and one more in
    hallboard_display_refusals_total{error=code}."""
    before = sample("hallboard_display_refusals_total", error=code)
    response = make()
    body = json.loads(response.content)
    assert response.status_code == status
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    assert response["Cache-Control"] == "no-store"
    assert sample("hallboard_display_refusals_total", error=code) == before + 1


def test_a_rate_limit_says_when_to_retry() -> None:
    """429 carries Retry-After in seconds, and the detail says it in words."""
    response = errors.rate_limited(12)
    assert response["Retry-After"] == "12"
    assert "12 s" in json.loads(response.content)["detail"]
    assert not errors.invalid_token().has_header("Retry-After")
