"""Plain HTTP on the gateway port: /healthz, /readyz with the broker, /metrics behind the
token, 404 otherwise, 503 on failure (realtime.gateway.probes)."""

from __future__ import annotations

import json
import logging
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hallboard.observability import exposition, readiness
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.gateway.handshake import Request
from hallboard.realtime.gateway.probes import answer

TOKEN = "probe-token-0123456789"


class Sock:
    """What a socket was told to answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes, dict[str, Any]]] = []

    def respond(self, status: int, body: bytes, *, linger: bool = False, **kwargs: Any) -> None:
        self.answers.append((status, body, kwargs))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture(autouse=True)
def metrics_token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN


async def ask(
    path: str,
    executor: ThreadPoolExecutor,
    broker: MemoryBroker | None = None,
    *,
    method: str = "GET",
    upgrade: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, Any]]:
    """Answer one request as the gateway does, running what it spawns; the one answer."""
    sock = Sock()
    spawned: list[Coroutine[Any, Any, None]] = []
    request = Request(method=method, path=path, headers=headers or {}, upgrade=upgrade)
    answer(
        sock, request, path, executor=executor, broker=broker or MemoryBroker(),
        spawn=spawned.append,
    )  # fmt: skip
    for coroutine in spawned:
        await coroutine
    assert len(sock.answers) == 1
    return sock.answers[0]


def ready_db(monkeypatch: pytest.MonkeyPatch, ok: bool = True) -> None:
    """readiness.checks as the database would answer it (the database is not the subject)."""
    doc: dict[str, Any] = {
        "status": "ok" if ok else "unavailable",
        "checks": {"database": {"ok": ok}},
    }
    if not ok:
        doc["failing"] = ["database"]
    monkeypatch.setattr(readiness, "checks", lambda: (ok, dict(doc)))


async def test_healthz_answers_at_once(executor: ThreadPoolExecutor) -> None:
    """/healthz is 200 {"status": "ok"}, answered without spawning anything."""
    sock = Sock()
    spawned: list[Any] = []
    answer(sock, Request(method="GET", path="/healthz"), "/healthz", executor=executor,
           broker=MemoryBroker(), spawn=spawned.append)  # fmt: skip
    assert spawned == []
    assert sock.answers == [(200, b'{"status": "ok"}', {"content_type": "application/json"})]


@pytest.mark.parametrize(
    ("path", "method", "upgrade"),
    [("/other", "GET", False), ("/healthz", "POST", False), ("/readyz", "GET", True)],
)
async def test_anything_else_is_404(
    executor: ThreadPoolExecutor, path: str, method: str, upgrade: bool
) -> None:
    """Unknown paths, methods other than GET, and WebSocket upgrades are not probes: 404."""
    status, _body, _kw = await ask(path, executor, method=method, upgrade=upgrade)
    assert status == 404


async def test_readyz_is_ready_with_database_and_broker(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database ready and broker connected: 200, the broker listed among the checks."""
    ready_db(monkeypatch)
    status, body, kw = await ask("/readyz", executor)
    doc = json.loads(body)
    assert status == 200
    assert kw == {"content_type": "application/json"}
    assert doc["status"] == "ok"
    assert doc["checks"]["broker"] == {"ok": True, "state": "connected"}


async def test_readyz_names_a_disconnected_broker(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that is down makes the gateway unready: 503 naming 'broker' as failing."""
    ready_db(monkeypatch)
    broker = MemoryBroker()
    broker.state = "down"
    status, body, _kw = await ask("/readyz", executor, broker)
    doc = json.loads(body)
    assert status == 503
    assert doc["status"] == "unavailable"
    assert doc["failing"] == ["broker"]
    assert doc["checks"]["broker"] == {"ok": False, "state": "down"}


async def test_readyz_lists_every_failing_check_once(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database and broker both failing: 503 with both named, sorted, each once."""
    ready_db(monkeypatch, ok=False)
    broker = MemoryBroker()
    broker.state = "down"
    status, body, _kw = await ask("/readyz", executor, broker)
    assert status == 503
    assert json.loads(body)["failing"] == ["broker", "database"]


async def test_metrics_need_the_token(executor: ThreadPoolExecutor) -> None:
    """/metrics without the bearer token (or with a wrong one) is 401 in JSON."""
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        status, body, _kw = await ask("/metrics", executor, headers=headers)
        assert status == 401
        assert json.loads(body)["error"] == "unauthorized"


async def test_metrics_with_the_token_are_the_exposition(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the token, /metrics answers what exposition.render gives for the Accept header."""
    seen: list[str] = []

    def render(accept: str = "") -> tuple[bytes, str]:
        seen.append(accept)
        return b"# metrics\n", "text/plain; version=0.0.4"

    monkeypatch.setattr(exposition, "render", render)
    status, body, kw = await ask(
        "/metrics", executor,
        headers={"authorization": f"Bearer {TOKEN}", "accept": "application/openmetrics-text"},
    )  # fmt: skip
    assert (status, body) == (200, b"# metrics\n")
    assert kw == {"content_type": "text/plain; version=0.0.4"}
    assert seen == ["application/openmetrics-text"]


async def test_a_failing_probe_is_one_log_line_and_a_503(
    executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever raises while answering: 503 naming the exception's type, one warning line."""

    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(readiness, "checks", broken)
    with caplog.at_level(logging.WARNING, logger="hallboard.realtime.gateway"):
        status, body, _kw = await ask("/readyz", executor)
    assert status == 503
    assert json.loads(body) == {"error": "unavailable", "detail": "RuntimeError"}
    lines = [r.getMessage() for r in caplog.records if r.name == "hallboard.realtime.gateway"]
    assert lines == ["/readyz on the gateway port failed: RuntimeError: database on fire"]
