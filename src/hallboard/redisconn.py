"""THE Redis client of hallboard: short timeouts, no retries, a frozen Redis detected
like a dead one.

Every Redis client of the web side and the gateway's side tasks is made here
(``client`` for synchronous code: request paths, the event publisher's thread,
readiness, fleet reads, single-use tickets, rate limits; ``async_client`` for
the gateway's fleet reports), and every Redis call made while a web request
(or the gateway's event loop) waits goes through here:

- ``options()``: what such a client is built with: connect and socket timeouts
  of ``REDIS_REQUEST_TIMEOUT_SECONDS`` (default 0.5 s) and no retries
  (redis-py retries three times by default: a frozen server would cost four
  timeouts).
- ``BREAKER``: the first failure (refused, reset, or a timeout: a Redis that was
  stopped with SIGSTOP or hangs answers nothing at all) marks Redis failing for
  ``RETRY_SECONDS``; meanwhile callers skip Redis at once (and fail open:
  the rate limiter lets requests through, the single-use ticket store falls
  back to this process's memory). After that, one call at a time tries Redis
  again; its success closes the breaker. One log line when Redis starts
  failing and one when it answers again, never one per request.

The realtime brokers (``hallboard.realtime.brokers.redis`` and ``.cluster``:
long-lived subscriptions with their own reconnection and backoff) build their
own clients.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings

logger = logging.getLogger("hallboard.redis")

#: Seconds Redis is skipped after a failure before one call tries it again.
RETRY_SECONDS = 2.0


def timeout() -> float:
    return float(getattr(settings, "REDIS_REQUEST_TIMEOUT_SECONDS", 0.5))


def options() -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url`` on a request path."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    seconds = timeout()
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
    }


@lru_cache(maxsize=4)
def _client(url: str, seconds: float) -> Any:
    import redis

    return redis.Redis.from_url(url, **options())


def client(url: str) -> Any:
    """A synchronous client for ``url`` with the request-path options (one per URL)."""
    return _client(url, timeout())


def async_client(url: str, seconds: float) -> Any:
    """An asyncio client for ``url`` with ``seconds`` timeouts and no retries (one per
    task: an asyncio client belongs to the loop it was first used on)."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.Redis.from_url(
        url,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


class Breaker:
    """Skip Redis for a while after it failed; let one call at a time find out if it is back."""

    def __init__(
        self,
        retry_seconds: float = RETRY_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self.failing_since: float | None = None
        self._next_try = 0.0
        self._trying = False

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def allow(self) -> bool:
        """Whether this call may use Redis now (then report ``succeeded`` or ``failed``)."""
        if self.failing_since is None:
            return True
        with self._lock:
            if self.failing_since is None:
                return True
            if self._trying or self.clock() < self._next_try:
                return False
            self._trying = True  # this caller probes; the others keep skipping
            return True

    def succeeded(self) -> None:
        if self.failing_since is None:
            return
        with self._lock:
            if self.failing_since is None:
                return
            seconds = self.clock() - self.failing_since
            self.failing_since = None
            self._trying = False
        logger.warning("redis answers again after %.1f s (request paths use it again)", seconds)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = self.clock()
            self._next_try = now + self.retry_seconds
            self._trying = False
            if self.failing_since is not None:
                return
            self.failing_since = now
        logger.warning(
            "redis failing on request paths (%s: %s); skipped for %.0f s at a time, failing open",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            self.retry_seconds,
        )

    def reset(self) -> None:
        """Forget any failure (tests)."""
        with self._lock:
            self.failing_since = None
            self._next_try = 0.0
            self._trying = False

    def call(self, func: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
        """``func()`` if Redis may be used and answers, else ``fallback()``."""
        if not self.allow():
            return fallback()
        try:
            result = func()
        except Exception as exc:
            self.failed(exc)
            return fallback()
        self.succeeded()
        return result


#: The breaker of every request-path Redis call of this process.
BREAKER = Breaker()
