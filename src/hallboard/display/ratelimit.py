"""Rate limiting of the polling endpoints, per screen token and device key.

A rate is written in the ``limits`` library's notation (``"5/5second"``: five
at once, then one a second). With ``REDIS_URL`` the ``limits`` library's
moving window on Redis holds the limit across replicas. Without it (the
embedded default), ``MemoryLimiter`` keeps it in this process with the
generic cell rate algorithm: one number per key and no background work.
(``limits``' own in-memory storage rescans every key every 10 ms, which at ten
thousand polling screens cost a sixth of a core.)

If the storage fails (Redis down, or frozen: every call is bounded by
``REDIS_REQUEST_TIMEOUT_SECONDS`` without retries, ``hallboard.redisconn``),
requests are let through and counted (``hallboard_ratelimit_storage_errors_total``):
the limiter protects the server, it must never take screens dark. After a
failure Redis is skipped (requests let through at once) until one check a
couple of seconds later finds it answering again; one log line when it starts
failing and one when it is back. Refused requests are counted where they are
answered (``rate_limited`` in ``hallboard_display_refusals_total``).

``test`` tells whether a hit would be allowed without recording one, ``reset``
forgets a key: ``hallboard.throttle`` counts failed authentications with them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import cast

from django.conf import settings
from limits import RateLimitItem, parse, storage, strategies

from hallboard import redisconn
from hallboard.observability import metrics
from hallboard.redisconn import BREAKER, Breaker
from hallboard.settingscache import per_settings


class RateLimiter:
    """``hit(key)`` returns ``None`` when allowed, else the seconds to wait (≥ 1)."""

    def __init__(self, rate: str, storage_uri: str, breaker: Breaker = BREAKER) -> None:
        self.item: RateLimitItem = parse(rate)
        self.storage = storage.storage_from_string(storage_uri, **redisconn.options())
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)
        self.breaker = breaker

    def _guarded(self, check: Callable[[], int | None]) -> int | None:
        """``check()`` on Redis; on failure (or while it is failing) let the request through."""

        def fail_open() -> None:
            metrics.ratelimit_storage_errors_total.inc()

        return cast("int | None", self.breaker.call(check, fail_open))

    def hit(self, *key: str) -> int | None:
        def check() -> int | None:
            if self.strategy.hit(self.item, *key):
                return None
            reset_at, _remaining = self.strategy.get_window_stats(self.item, *key)
            return max(1, math.ceil(reset_at - time.time()))

        return self._guarded(check)

    def test(self, *key: str) -> int | None:
        """Like ``hit`` (the seconds to wait, or None) without counting a hit."""

        def check() -> int | None:
            if self.strategy.test(self.item, *key):
                return None
            reset_at, _remaining = self.strategy.get_window_stats(self.item, *key)
            return max(1, math.ceil(reset_at - time.time()))

        return self._guarded(check)

    def reset(self, *key: str) -> None:
        def clear() -> None:
            self.strategy.clear(self.item, *key)

        self.breaker.call(clear, lambda: None)


class MemoryLimiter:
    """The same ``hit`` in this process: GCRA (a token bucket as one timestamp per key).

    A key's *theoretical arrival time* (TAT) moves one emission interval
    (period / amount) further with every allowed request; a request is refused
    while that would put the TAT more than a whole period ahead of now, i.e.
    after ``amount`` requests at once, then one per interval. Keys whose TAT
    has passed hold no information and are dropped in passing.
    """

    def __init__(self, rate: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        item = parse(rate)
        self.period = float(item.get_expiry())
        self.interval = self.period / item.amount
        self.clock = clock
        self._tat: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def hit(self, *key: str) -> int | None:
        now = self.clock()
        with self._lock:
            tat = max(self._tat.get(key, now), now) + self.interval
            allowed_at = tat - self.period
            if allowed_at > now:
                return max(1, math.ceil(allowed_at - now))
            self._tat[key] = tat
            self._hits += 1
            if self._hits % 10_000 == 0:
                self._forget_idle(now)
        return None

    def test(self, *key: str) -> int | None:
        now = self.clock()
        with self._lock:
            allowed_at = max(self._tat.get(key, now), now) + self.interval - self.period
        return max(1, math.ceil(allowed_at - now)) if allowed_at > now else None

    def reset(self, *key: str) -> None:
        with self._lock:
            self._tat.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]


@lru_cache(maxsize=4)
def _limiter(rate: str, storage_uri: str) -> RateLimiter | MemoryLimiter:
    if storage_uri == "memory://":
        return MemoryLimiter(rate)
    return RateLimiter(rate, storage_uri)


@per_settings
def limiter(rate: str | None = None) -> RateLimiter | MemoryLimiter:
    """The limiter for ``rate`` (default DISPLAY_RATE_LIMIT), on the configured storage.

    Chosen once per settings (asked for by every status poll; chosen again after a change
    of them, as tests make).
    """
    return _limiter(rate or settings.DISPLAY_RATE_LIMIT, settings.REDIS_URL or "memory://")


def forget() -> None:
    """Drop every limiter and its counters (between tests)."""
    limiter.cache_clear()  # type: ignore[attr-defined]
    _limiter.cache_clear()
