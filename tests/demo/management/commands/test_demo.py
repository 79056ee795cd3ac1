"""``hallboard demo``: what it prints, and the addresses it sets with ``--port``."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command


@pytest.fixture
def demo_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`hallboard demo` sets PUBLIC_URL, GATEWAY_PORT and $GATEWAY_PORT for its process:
    put them back after the test."""
    settings.PUBLIC_URL = settings.PUBLIC_URL
    settings.GATEWAY_PORT = settings.GATEWAY_PORT
    monkeypatch.delenv("GATEWAY_PORT", raising=False)
    monkeypatch.delenv("HALLBOARD_PUBLIC_URL", raising=False)
    return settings


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_printout_says_where_to_click(demo_settings: Any) -> None:
    """`hallboard demo` prints the admin, API docs, live dashboard and health addresses, and
    a display URL per screen."""
    text = run_demo("--port", "8123")
    for address in ("/admin/", "/api/v1/docs", "/staff/", "/readyz", "/display/?token=hbs_"):
        assert f"http://127.0.0.1:8123{address}" in text, address


@pytest.mark.django_db
def test_demo_port_sets_every_address_and_the_gateway_next_to_it(demo_settings: Any) -> None:
    """`demo --port P`: the gateway is on P+1, displays are told so (meta.ws_url), and the
    pairing claim URL (the QR code's content) and every printed URL use P."""
    from django.test import Client

    text = run_demo("--port", "18000")
    assert "http://127.0.0.1:8000" not in text
    assert "port 18001" in text
    assert demo_settings.GATEWAY_PORT == 18001
    assert demo_settings.PUBLIC_URL == "http://127.0.0.1:18000"
    token = re.search(r"/display/\?token=(hbs_\S+)", text).group(1)  # type: ignore[union-attr]
    client = Client(HTTP_HOST="127.0.0.1:18000")
    meta = client.get("/api/display/snapshot/", {"token": token, "dk": "demo-device-1"}).json()
    assert meta["meta"]["ws_url"] == "ws://127.0.0.1:18001/ws/display/"
    pairing = client.post(
        "/api/display/pair/", {"dk": "demo-device-2"}, content_type="application/json"
    ).json()
    assert pairing["claim_url"].startswith("http://127.0.0.1:18000/admin/")


@pytest.mark.django_db
def test_demo_gateway_port_can_be_chosen(demo_settings: Any, monkeypatch: Any) -> None:
    """--gateway-port wins over P+1; so does GATEWAY_PORT from the environment."""
    run_demo("--port", "18000", "--gateway-port", "19999")
    assert demo_settings.GATEWAY_PORT == 19999
    monkeypatch.setenv("GATEWAY_PORT", "17777")
    demo_settings.GATEWAY_PORT = 17777  # what the settings read from that environment
    run_demo("--port", "18000")
    assert demo_settings.GATEWAY_PORT == 17777


@pytest.mark.django_db
def test_demo_keeps_an_explicit_public_url(demo_settings: Any, monkeypatch: Any) -> None:
    """HALLBOARD_PUBLIC_URL set by the operator (a proxy, a LAN name) is what gets printed."""
    monkeypatch.setenv("HALLBOARD_PUBLIC_URL", "https://demo.example.org")
    demo_settings.PUBLIC_URL = "https://demo.example.org"
    assert "https://demo.example.org/display/?token=hbs_" in run_demo("--port", "18000")
