"""``/healthz`` (the process answers) and ``/readyz`` (its database and broker answer).

``/readyz`` runs ``SELECT 1`` on the database and, when ``REDIS_URL`` is set,
``PING`` on Redis, each in a worker thread bounded by
``READYZ_TIMEOUT_SECONDS``: an unreachable host that never answers must not
hold the probe longer than the load balancer waits for it. A check that is
still running when time is up counts as failed (its thread finishes on its
own; the pool is small and bounded).

``?optional=redis`` still runs and reports the Redis check but does not fail
on it: for a load balancer that should keep routing to replicas while Redis
is down (edits still work, push degrades to polling; docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.backends.base.base import BaseDatabaseWrapper

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


@dataclass(frozen=True)
class Check:
    ok: bool
    ms: float
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "ms": self.ms}
        if self.error:
            out["error"] = self.error
        return out


def database(connection: BaseDatabaseWrapper | None = None) -> None:
    """``SELECT 1`` on ``connection`` (default: this thread's default one), then given back."""
    close_old_connections()
    connection = connection or connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # back to the pool (PostgreSQL), or closed


def redis(url: str) -> None:
    from hallboard import redisconn

    redisconn.client(url).ping()


def _outcome(future: Future[None], started: float, deadline: float) -> Check:
    try:
        future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return Check(False, round((time.monotonic() - started) * 1000, 1), "no answer in time")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
        return Check(False, round((time.monotonic() - started) * 1000, 1), error)
    return Check(True, round((time.monotonic() - started) * 1000, 1))


def run(
    named: dict[str, tuple[Callable[..., None], tuple[Any, ...]]], timeout: float
) -> dict[str, Check]:
    """Run the checks side by side; each must answer within ``timeout`` seconds."""
    started = time.monotonic()
    futures = {name: _pool.submit(check, *args) for name, (check, args) in named.items()}
    deadline = started + timeout
    return {name: _outcome(future, started, deadline) for name, future in futures.items()}


def checks(optional: frozenset[str] = frozenset()) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)`` of ``/readyz``."""
    named: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {"database": (database, ())}
    if settings.REDIS_URL:
        named["redis"] = (redis, (settings.REDIS_URL,))
    results = run(named, float(settings.READYZ_TIMEOUT_SECONDS))
    failing = [name for name, r in results.items() if not r.ok and name not in optional]
    body: dict[str, Any] = {"status": "unavailable" if failing else "ok"}
    if failing:
        body["failing"] = failing
    body["checks"] = {name: r.as_json() for name, r in results.items()}
    return not failing, body


# --- answered before Django's request cycle ----------------------------------------------

#: Threads that only ever wait for readiness checks (never behind a web request).
_probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz-probe")


class Probes:
    """ASGI layer: ``/healthz`` and ``/readyz`` answered beside Django, not through it.

    Django runs every synchronous view in one thread per process: under load,
    or while requests wait for an unreachable database, a probe queued behind
    them would miss the load balancer's deadline. Here ``/healthz`` answers on
    the event loop and ``/readyz`` runs its checks in threads of its own, so it
    answers within ``READYZ_TIMEOUT_SECONDS`` whatever else the process does.
    Same answers as the Django views (``hallboard.observability.views``).
    """

    PATHS = ("/healthz", "/readyz")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/")
        if (
            scope["type"] != "http"
            or path not in self.PATHS
            or scope.get("method") not in ("GET", "HEAD")
        ):
            await self.app(scope, receive, send)
            return
        status, body = 200, b'{"status": "ok"}'
        if path == "/readyz":
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            optional = frozenset((query.get("optional") or [""])[0].split(",")) - {""}
            loop = asyncio.get_running_loop()
            ready, document = await loop.run_in_executor(_probe_pool, checks, optional)
            status, body = (200 if ready else 503), json.dumps(document).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
