"""Redis on request paths: a frozen Redis (SIGSTOP) is detected like a dead one, and skipped."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from hallboard.display import ratelimit
from hallboard.redisconn import Breaker
from tests.conftest import Tenant, make_screen, sample
from tests.display.conftest import ScreenClient
from tests.realtime.conftest import RedisProcess

#: Seconds a test waits for a call that must not hang (it ends far sooner with the fix).
MUST_ANSWER_WITHIN = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def frozen_redis() -> Iterator[RedisProcess]:
    """A throwaway redis-server, stopped with SIGSTOP (alive, silent); resumed and killed after."""
    server = RedisProcess()
    server.start()
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield server
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def answered(call: Any) -> Any:
    """``call()`` in a thread: its result, or a failure if it does not return (a hang)."""

    def run() -> Any:
        try:
            return call()
        finally:
            connections.close_all()  # the thread's own database connection

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=MUST_ANSWER_WITHIN)


def test_a_frozen_redis_fails_open_and_is_then_skipped(
    frozen_redis: RedisProcess, settings: Any
) -> None:
    """The first check times out (bounded, no retries) and lets the request through; the
    following ones do not ask Redis at all until the retry time has passed; then one call
    tries again."""
    settings.REDIS_REQUEST_TIMEOUT_SECONDS = 0.2
    clock = Clock()
    limiter = ratelimit.RateLimiter("5/second", frozen_redis.url, Breaker(2.0, clock=clock))
    asked = 0
    hit = limiter.strategy.hit

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal asked
        asked += 1
        return hit(*args, **kwargs)

    limiter.strategy.hit = counting  # type: ignore[method-assign]
    errors = sample("hallboard_ratelimit_storage_errors_total")
    assert answered(lambda: limiter.hit("display", "t", "d")) is None
    assert asked == 1
    assert limiter.breaker.failing
    for _ in range(50):
        assert limiter.hit("display", "t", "d") is None
    assert asked == 1  # skipped: Redis is failing
    assert sample("hallboard_ratelimit_storage_errors_total") == errors + 51
    clock.now += 2.5
    assert answered(lambda: limiter.hit("display", "t", "d")) is None
    assert asked == 2  # one try after the wait, which failed again


def test_redis_back_is_used_again(redis_process: RedisProcess, settings: Any) -> None:
    """A failing breaker lets one call through after the wait; its success closes it."""
    clock = Clock()
    limiter = ratelimit.RateLimiter("1/minute", redis_process.url, Breaker(2.0, clock=clock))
    limiter.breaker.failed(ConnectionError("was down"))
    assert limiter.hit("display", "t", "d") is None  # skipped
    clock.now += 2.5
    assert limiter.hit("display", "t", "d") is None  # tried: allowed, counted in Redis
    assert not limiter.breaker.failing
    assert limiter.hit("display", "t", "d") is not None  # the limit holds again


@pytest.mark.django_db(transaction=True)  # the polls run in another thread
def test_polls_are_served_while_redis_is_frozen(
    tenant: Tenant, frozen_redis: RedisProcess, settings: Any
) -> None:
    """Status and snapshot polls through Django with REDIS_URL on a frozen Redis: answered."""
    settings.REDIS_URL = frozen_redis.url
    settings.REDIS_REQUEST_TIMEOUT_SECONDS = 0.2
    _, token = make_screen(tenant.school)
    screen = ScreenClient(token)
    for endpoint in ("status", "snapshot", "status", "snapshot"):
        assert answered(lambda e=endpoint: screen.get(e).status_code) == 200
    assert sample("hallboard_ratelimit_storage_errors_total") > 0


def test_every_redis_client_is_made_here() -> None:
    """No module but hallboard.redisconn and the brokers (long-lived subscriptions with their
    own reconnection) builds a Redis client: timeouts and retries are decided in one place."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "hallboard"
    maker = re.compile(r"\b(?:Redis|RedisCluster)(?:\.from_url)?\(")
    makers = sorted(
        str(path.relative_to(src)) for path in src.rglob("*.py") if maker.search(path.read_text())
    )
    assert makers, "the pattern no longer finds redisconn's own client"
    outside = [m for m in makers if m != "redisconn.py" and not m.startswith("realtime/brokers/")]
    assert outside == []


def test_clients_have_short_timeouts_and_no_retries(settings: Any) -> None:
    """The synchronous client (request paths, the publisher) and the asyncio one (fleet
    reports) time out as configured and never retry (a frozen Redis costs one timeout)."""
    from hallboard import redisconn

    settings.REDIS_REQUEST_TIMEOUT_SECONDS = 0.25
    sync = redisconn.client("redis://127.0.0.1:1/0").connection_pool.connection_kwargs
    assert (sync["socket_timeout"], sync["socket_connect_timeout"]) == (0.25, 0.25)
    assert sync["retry"].get_retries() == 0
    asynchronous = redisconn.async_client("redis://127.0.0.1:1/0", 2.0)
    kwargs = asynchronous.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (2.0, 2.0)
    assert kwargs["retry"].get_retries() == 0


def test_the_publisher_sends_through_the_shared_client(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Events go to Redis through redisconn.client (its timeouts), not a client of its own."""
    from hallboard import redisconn
    from hallboard.realtime import publish

    asked: list[str] = []

    class Pipe:
        def publish(self, topic: str, data: bytes) -> None:
            pass

        def execute(self) -> None:
            pass

    class Fake:
        def pipeline(self, transaction: bool) -> Pipe:
            return Pipe()

    def fake_client(url: str) -> Fake:
        asked.append(url)
        return Fake()

    monkeypatch.setattr(redisconn, "client", fake_client)
    publish._Sender("redis://example.invalid:6379/3")._send([("flags", "control", b"{}")])
    assert asked == ["redis://example.invalid:6379/3"]
