"""Where displays are told to connect for push (meta.ws_url)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from hallboard.display.views import ws_url


@pytest.fixture
def factory(settings: Any) -> RequestFactory:
    settings.ALLOWED_HOSTS = [
        "127.0.0.1",
        "school.example.org",
        "displays.example.org",
        "x.example.org",
    ]
    return RequestFactory()


def test_derived_from_the_request_host_and_the_gateway_port(
    factory: RequestFactory, settings: Any
) -> None:
    """No DISPLAY_WS_URL: the request's host name with GATEWAY_PORT."""
    settings.DISPLAY_WS_URL = ""
    settings.GATEWAY_PORT = 18001
    request = factory.get("/api/display/snapshot/", HTTP_HOST="127.0.0.1:18000")
    assert ws_url(request) == "ws://127.0.0.1:18001/ws/display/"


def test_serve_gateway_port_is_what_displays_are_told(
    factory: RequestFactory, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --gateway-port P` makes P the port in meta.ws_url (and in spawned workers)."""
    from hallboard.server.management.commands.serve import use_gateway_port

    settings.DISPLAY_WS_URL = ""
    settings.GATEWAY_PORT = settings.GATEWAY_PORT
    monkeypatch.delenv("GATEWAY_PORT", raising=False)
    use_gateway_port(28001)
    import os

    assert os.environ["GATEWAY_PORT"] == "28001"
    request = factory.get("/", HTTP_HOST="school.example.org")
    assert ws_url(request) == "ws://school.example.org:28001/ws/display/"


def test_a_path_means_this_site_behind_a_proxy(factory: RequestFactory, settings: Any) -> None:
    """DISPLAY_WS_URL=/ws/display/: the request's scheme, host and port, with that path, so
    one setting serves every address the proxy answers on."""
    settings.DISPLAY_WS_URL = "/ws/display/"
    plain = factory.get("/", HTTP_HOST="127.0.0.1:8080")
    assert ws_url(plain) == "ws://127.0.0.1:8080/ws/display/"
    secure = factory.get("/", HTTP_HOST="displays.example.org", secure=True)
    assert ws_url(secure) == "wss://displays.example.org/ws/display/"


def test_a_full_url_is_used_as_it_is(factory: RequestFactory, settings: Any) -> None:
    """DISPLAY_WS_URL with a scheme and host is given to displays unchanged."""
    settings.DISPLAY_WS_URL = "wss://push.example.org/ws/display/"
    assert ws_url(factory.get("/", HTTP_HOST="x.example.org")) == settings.DISPLAY_WS_URL
