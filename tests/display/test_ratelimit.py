"""Polling is rate limited per token and device, in memory or across replicas on Redis."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hallboard.display import ratelimit
from tests.conftest import Tenant, make_screen, sample
from tests.display.conftest import ScreenClient


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, settings: Any) -> str:
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    settings.DISPLAY_RATE_LIMIT = "3/minute"
    return str(request.param)


def test_over_the_limit_is_429_with_retry_after(tenant: Tenant, storage: str) -> None:
    """The request after the burst is refused with 429 rate_limited and a Retry-After."""
    _, token = make_screen(tenant.school)
    client = ScreenClient(token)
    assert [client.get("status").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("status")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_limit_is_per_device(tenant: Tenant, storage: str) -> None:
    """Another screen is not limited by the first one's requests."""
    _, token_a = make_screen(tenant.school, name="A")
    _, token_b = make_screen(tenant.school, name="B")
    for _ in range(4):
        ScreenClient(token_a).get("status")
    assert ScreenClient(token_b).get("status").status_code == 200


def test_redis_limit_is_shared_by_every_process(redis_url: str) -> None:
    """Two limiters on one Redis (two replicas) share one budget per screen and device."""
    replica_a = ratelimit.RateLimiter("2/minute", redis_url)
    replica_b = ratelimit.RateLimiter("2/minute", redis_url)
    key = ("display", "shared-test-token", "device-0001")
    assert replica_a.hit(*key) is None
    assert replica_b.hit(*key) is None
    assert replica_a.hit(*key) is not None
    assert replica_b.hit(*key) is not None


def test_limiter_lets_requests_through_when_storage_fails(tenant: Tenant, settings: Any) -> None:
    """With Redis unreachable the requests are served, and each check let through is counted:
    the first request asks twice (failed authentications of the address, and the screen's
    rate), the second once (its address was seen clear within ``throttle.CLEAR_SECONDS``)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.DISPLAY_RATE_LIMIT = "1/minute"
    before = sample("hallboard_ratelimit_storage_errors_total")
    _, token = make_screen(tenant.school)
    assert ScreenClient(token).get("status").status_code == 200
    assert ScreenClient(token).get("status").status_code == 200
    assert sample("hallboard_ratelimit_storage_errors_total") == before + 3


def test_a_failing_storage_logs_one_warning_per_interval_not_a_traceback_per_request(
    tenant: Tenant, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """While Redis is down every poll is served; the log gets one warning line for the
    outage (hallboard.redisconn's breaker), without a traceback."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    _, token = make_screen(tenant.school)
    with caplog.at_level(logging.INFO, logger="hallboard"):
        for _ in range(5):
            assert ScreenClient(token).get("status").status_code == 200
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING
    assert lines[0].exc_info is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_allows_the_burst_then_one_per_interval() -> None:
    """5/5second: five at once, then one a second; the wait it answers is honest."""
    clock = Clock()
    limiter = ratelimit.MemoryLimiter("5/5second", clock=clock)
    key = ("display", "token", "device")
    # t=0  the burst
    assert [limiter.hit(*key) for _ in range(5)] == [None] * 5
    assert limiter.hit(*key) == 1  # the sixth must wait a second
    # t=0.5  still waiting
    clock.now += 0.5
    assert limiter.hit(*key) == 1
    # t=1  one more is allowed, not two
    clock.now += 0.5
    assert limiter.hit(*key) is None
    assert limiter.hit(*key) is not None
    # t=10  idle long enough: the whole burst is back
    clock.now += 9
    assert [limiter.hit(*key) for _ in range(5)] == [None] * 5


def test_memory_limiter_forgets_idle_keys() -> None:
    """Keys whose budget is full again hold nothing: memory does not grow with screens seen."""
    clock = Clock()
    limiter = ratelimit.MemoryLimiter("1/second", clock=clock)
    for n in range(9_999):
        limiter.hit("display", str(n), "device")
    assert len(limiter._tat) == 9_999
    clock.now += 2
    limiter.hit("display", "last", "device")  # the 10,000th allowed hit sweeps
    assert list(limiter._tat) == [("display", "last", "device")]
