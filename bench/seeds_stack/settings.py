"""hallboard's settings plus Channels and the Redis channel layer, as the seeds configured them."""

from __future__ import annotations

import os

from hallboard.settings import *  # noqa: F403 - the same database, models and tokens
from hallboard.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "channels"]
ASGI_APPLICATION = "bench.seeds_stack.asgi.application"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # Default capacity (100) and expiry: the seeds' configuration. The host
            # dict restores redis-py < 8 behaviour: with redis-py 8 defaults
            # (socket_timeout=5, max_connections=100) channels_redis 4.3 consumers
            # die with TimeoutError and handshakes fail with MaxConnectionsError
            # (docs/benchmarks.md).
            "hosts": [
                {
                    "address": os.environ["BENCH_REDIS_URL"],
                    "socket_timeout": None,
                    "max_connections": 2**31 - 1,
                }
            ],
        },
    }
}
