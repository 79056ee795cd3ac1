"""The container health check (`python -m hallboard.server.probe URL`)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from hallboard.server import probe


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_healthy_when_the_url_answers_200(server: str) -> None:
    """200 is healthy: exit status 0."""
    assert probe.probe(f"{server}/healthz") is None
    assert probe.main([f"{server}/healthz"]) == 0


def test_unhealthy_on_another_status(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Any other status is unhealthy: exit status 1 and the reason on stderr."""
    assert probe.main([f"{server}/readyz"]) == 1
    assert "answered 503" in capsys.readouterr().err


def test_unhealthy_when_nothing_listens() -> None:
    """A refused connection is unhealthy, with the reason."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failure = probe.probe(f"http://127.0.0.1:{port}/healthz")
    assert failure is not None
    assert "refused" in failure.lower()


def test_only_http_urls_are_probed() -> None:
    """A file: or other URL is refused, not opened."""
    assert probe.probe("file:///etc/passwd") == "not an http(s) URL: file:///etc/passwd"


def test_the_probe_does_not_import_django() -> None:
    """The check runs every few seconds: it must not start Django."""
    import subprocess
    import sys

    code = "import sys, hallboard.server.probe; print('django' in sys.modules)"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
