"""Plain HTTP on the gateway port: what load balancers and Prometheus ask a gateway.

``/healthz`` (the process answers), ``/readyz`` (database, broker: named when
failing, 503) and ``/metrics`` (with ``Authorization: Bearer <METRICS_TOKEN>``
only). Anything else that is not a WebSocket upgrade: 404. Whatever fails while
answering is one log line and a 503, never a socket left waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from hallboard.observability import exposition, readiness
from hallboard.observability.access import token_matches
from hallboard.realtime.brokers import Broker
from hallboard.realtime.gateway.handshake import Request

logger = logging.getLogger("hallboard.realtime.gateway")

PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_UNAUTHORIZED = json.dumps(
    {"error": "unauthorized", "detail": "Send Authorization: Bearer <METRICS_TOKEN>."}
).encode()


class Responder(Protocol):
    def respond(self, status: int, body: bytes, *, linger: bool = False, **kwargs: Any) -> None: ...


def answer(
    sock: Responder,
    request: Request,
    path: str,
    *,
    executor: ThreadPoolExecutor,
    broker: Broker,
    spawn: Callable[[Coroutine[Any, Any, None]], None],
) -> None:
    """Answer a plain HTTP request for ``path`` (its trailing slash removed)."""
    if request.upgrade or request.method != "GET" or path not in PATHS:
        sock.respond(404, b"Not Found\n")
    elif path == "/healthz":
        sock.respond(200, b'{"status": "ok"}', content_type="application/json")
    elif path == "/metrics" and not token_matches(request.headers.get("authorization", "")):
        sock.respond(401, _UNAUTHORIZED, content_type="application/json")
    else:
        spawn(_slow(sock, request, path, executor, broker))


async def _slow(
    sock: Responder, request: Request, path: str, executor: ThreadPoolExecutor, broker: Broker
) -> None:
    try:
        await _answer(sock, request, path, executor, broker)
    except Exception as exc:  # one line, and an answer: never a socket left waiting
        logger.warning("%s on the gateway port failed: %s: %s", path, type(exc).__name__, exc)
        body = json.dumps({"error": "unavailable", "detail": type(exc).__name__}).encode()
        sock.respond(503, body, content_type="application/json")


async def _answer(
    sock: Responder, request: Request, path: str, executor: ThreadPoolExecutor, broker: Broker
) -> None:
    # Both read the database: in a thread, never on the loop.
    loop = asyncio.get_running_loop()
    if path == "/metrics":
        accept = request.headers.get("accept", "")
        body, content_type = await loop.run_in_executor(executor, exposition.render, accept)
        sock.respond(200, body, content_type=content_type)
        return
    ready, doc = await loop.run_in_executor(executor, readiness.checks)
    connected = broker.state == "connected"
    doc.setdefault("checks", {})["broker"] = {"ok": connected, "state": broker.state}
    if not connected:
        ready = False
        doc["failing"] = sorted({*doc.get("failing", []), "broker"})
        doc["status"] = "unavailable"
    body = json.dumps(doc).encode()
    sock.respond(200 if ready else 503, body, content_type="application/json")
