"""Rate limiting of the polling endpoints, per screen token and device key.

A rate is written in the ``limits`` library's notation (``"5/5second"``: five
at once, then one a second). With ``REDIS_URL`` the ``limits`` library's
moving window on Redis holds the limit across replicas. Without it (the
embedded default), ``MemoryLimiter`` keeps it in this process with the
generic cell rate algorithm: one number per key and no background work.
(``limits``' own in-memory storage rescans every key every 10 ms, which at ten
thousand polling screens cost a sixth of a core.)

If the storage fails (Redis down), requests are let through and the failure is
counted (``hallboard_ratelimit_storage_errors_total``) and logged, as one
warning line per ``WARN_INTERVAL`` seconds (with how many failed since), not a
traceback per request: the limiter protects the server, it must never take
screens dark. Refused
requests are counted where they are answered (``rate_limited`` in
``hallboard_display_refusals_total``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItem, parse, storage, strategies

from hallboard.observability import metrics

logger = logging.getLogger("hallboard.display.ratelimit")


#: Seconds between two warnings about a failing storage (each counts the failures since).
WARN_INTERVAL = 60.0


class RateLimiter:
    """``hit(key)`` returns ``None`` when allowed, else the seconds to wait (≥ 1)."""

    def __init__(self, rate: str, storage_uri: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self.storage = storage.storage_from_string(storage_uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)
        self._warn_lock = threading.Lock()
        self._warned_at = -WARN_INTERVAL
        self._failed_since = 0

    def hit(self, *key: str) -> int | None:
        try:
            if self.strategy.hit(self.item, *key):
                return None
            reset_at, _remaining = self.strategy.get_window_stats(self.item, *key)
        except Exception as exc:  # the limiter must never make a display request fail
            metrics.ratelimit_storage_errors_total.inc()
            self._storage_failed(exc)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def _storage_failed(self, exc: Exception) -> None:
        """One warning line per WARN_INTERVAL however many requests fail meanwhile."""
        now = time.monotonic()
        with self._warn_lock:
            self._failed_since += 1
            if now - self._warned_at < WARN_INTERVAL:
                return
            failed, self._failed_since, self._warned_at = self._failed_since, 0, now
        logger.warning(
            "rate limit storage failed for %d request(s) (let through): %s: %s",
            failed,
            type(exc).__name__,
            (str(exc).strip().splitlines() or [""])[0][:200],
        )


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

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]


@lru_cache(maxsize=4)
def _limiter(rate: str, storage_uri: str) -> RateLimiter | MemoryLimiter:
    if storage_uri == "memory://":
        return MemoryLimiter(rate)
    return RateLimiter(rate, storage_uri)


def limiter(rate: str | None = None) -> RateLimiter | MemoryLimiter:
    """The limiter for ``rate`` (default DISPLAY_RATE_LIMIT), on the configured storage.

    Settings are read at each call, so tests may override them.
    """
    return _limiter(rate or settings.DISPLAY_RATE_LIMIT, settings.REDIS_URL or "memory://")
