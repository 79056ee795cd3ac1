"""The one ASGI entry point (hallboard.asgi.application): the probes answer first, then the
status fast path, and everything else reaches Django."""

from __future__ import annotations

import asyncio
from typing import Any

from hallboard.asgi import application


async def get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """One GET through the application: (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await answered.wait()  # the client goes once the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body


async def test_healthz_is_answered_by_the_probes() -> None:
    """/healthz answers {"status": "ok"} without Django (no database fixture here)."""
    status, _, body = await get("/healthz")
    assert (status, body) == (200, b'{"status": "ok"}')


async def test_other_paths_reach_django() -> None:
    """A path neither the probes nor the fast path serve is Django's: its 404 page."""
    status, headers, _ = await get("/no-such-page/")
    assert status == 404
    assert headers[b"content-type"].startswith(b"text/html")
