"""Rate limiting of the polling endpoints, per screen token and device key.

Backed by the ``limits`` library with a moving window. Storage is in-process
(``memory://``) on the embedded default and Redis when ``REDIS_URL`` is set, so
the limit holds across replicas. If the storage fails (Redis down), requests
are let through and the failure is logged and counted
(``hallboard_ratelimit_storage_errors_total``): the limiter protects the
server, it must never take screens dark. Refused requests are counted where
they are answered (``rate_limited`` in ``hallboard_display_refusals_total``).
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItem, parse, storage, strategies

from hallboard.observability import metrics

logger = logging.getLogger("hallboard.display.ratelimit")


class RateLimiter:
    """``hit(key)`` returns ``None`` when allowed, else the seconds to wait (≥ 1)."""

    def __init__(self, rate: str, storage_uri: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self.storage = storage.storage_from_string(storage_uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)

    def hit(self, *key: str) -> int | None:
        try:
            if self.strategy.hit(self.item, *key):
                return None
            reset_at, _remaining = self.strategy.get_window_stats(self.item, *key)
        except Exception:  # the limiter must never make a display request fail
            metrics.ratelimit_storage_errors_total.inc()
            logger.warning("rate limit storage failed; letting the request through", exc_info=True)
            return None
        return max(1, math.ceil(reset_at - time.time()))


@lru_cache(maxsize=4)
def _limiter(rate: str, storage_uri: str) -> RateLimiter:
    return RateLimiter(rate, storage_uri)


def limiter(rate: str | None = None) -> RateLimiter:
    """The limiter for ``rate`` (default DISPLAY_RATE_LIMIT), on the configured storage.

    Settings are read at each call, so tests may override them.
    """
    return _limiter(rate or settings.DISPLAY_RATE_LIMIT, settings.REDIS_URL or "memory://")
