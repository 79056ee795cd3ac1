"""Display protocol fixtures: a client that speaks as a screen, time control."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client


@pytest.fixture(autouse=True)
def generous_rate_limit(settings: Any) -> None:
    """Tests make many requests per second; the rate-limit tests set their own limit."""
    settings.DISPLAY_RATE_LIMIT = "10000/second"


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    """Set the server's idea of now (django.utils.timezone.now) to a fixed instant."""

    def set_now(instant: dt.datetime) -> None:
        monkeypatch.setattr("django.utils.timezone.now", lambda: instant)

    return set_now


def requires_postgres() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL=postgres://...)"
    )


class ScreenClient:
    """Requests as a display: token and device key as query parameters."""

    def __init__(self, token: str, device_key: str = "device-0001") -> None:
        self.client = Client()
        self.token = token
        self.dk = device_key

    def get(self, endpoint: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(
            f"/api/display/{endpoint}/", {"token": self.token, "dk": self.dk}, headers=headers
        )

    def heartbeat(self, body: Any) -> Any:
        return self.post("heartbeat", body)

    def ack(self, body: Any) -> Any:
        return self.post("ack", body)

    def post(self, endpoint: str, body: Any) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(
            f"/api/display/{endpoint}/?token={self.token}&dk={self.dk}",
            data=data,
            content_type="application/json",
        )
