"""Publishing events from Django (any replica) after the transaction commits.

Events are small JSON documents on a topic:

- ``{"e": "invalidate", "school": id, "rev": N}``  → ``school:<id>``
- ``{"e": "alert", "school": id, "alert": {...} | null, "cleared": id | null}``
  → ``school:<id>`` (never coalesced): the alert the school's screens must show
  now, and the alert that just ended, if one did
- ``{"e": "command", "screen": id, "id": N, "name": ..., "payload": {...}}`` → ``screen:<id>``
- ``{"e": "close", "screen": id, "code": 4401}``    → ``screen:<id>`` (token rotated/revoked)
- ``{"e": "flags"}``                                → ``control`` (push flags changed)
- ``{"e": "frame", "frame": {...}}``                 → ``dash:<school>``, ``user:<id>``: a
  frame for staff sockets (live dashboard), written to them as it is

Every event also carries ``"ts"``: the publisher's ``time.time()`` when it
was published, from which gateways measure push latency
(``hallboard_push_latency_seconds``).

On Redis each message is ``<origin> <json>``: the publishing process's id,
then the event (``brokers.ORIGIN``).

Publishing never makes a write fail: with Redis down the edit still succeeds,
screens held by this process are still told (the in-process bus), the failure
is logged and counted (``hallboard_realtime_publish_failed_total``; successes
in ``hallboard_realtime_published_total``), and polling covers the rest.
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any

from django.conf import settings

from hallboard.observability import metrics
from hallboard.realtime.brokers import ORIGIN
from hallboard.realtime.brokers.memory import BUS
from hallboard.realtime.brokers.redis import PREFIX
from hallboard.realtime.core import topics

logger = logging.getLogger("hallboard.realtime.publish")


@lru_cache(maxsize=2)
def redis_client(url: str) -> Any:
    """A synchronous Redis client with short timeouts, for code serving a web request.

    Short: a publish happens after the commit of a staff edit and must not make
    the edit feel slow when Redis is down (readiness checks and fleet reads use
    it for the same reason).
    """
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def publish(topic: str, event: dict[str, Any]) -> None:
    """Publish ``event`` on ``topic``, stamped with ``"ts"`` (now, for push latency)."""
    kind = str(event.get("e", "unknown"))
    data = json.dumps({**event, "ts": time.time()}, separators=(",", ":")).encode()
    BUS.publish(topic, data)  # gateways in this process (the embedded default)
    url = settings.REDIS_URL
    if url:
        try:
            redis_client(url).publish(PREFIX + topic, ORIGIN + b" " + data)
        except Exception as exc:  # never let a publish fail the edit
            metrics.realtime_publish_failed_total.labels(kind=kind).inc()
            logger.warning("publish to %s failed (polling will cover it): %s", topic, exc)
            return
    metrics.realtime_published_total.labels(kind=kind).inc()


def invalidate(school_id: int, revision: int) -> None:
    publish(topics.school(school_id), {"e": "invalidate", "school": school_id, "rev": revision})


def alert_changed(school_id: int, alert: dict[str, Any] | None, cleared: int | None) -> None:
    publish(
        topics.school(school_id),
        {"e": "alert", "school": school_id, "alert": alert, "cleared": cleared},
    )


def command(screen_id: int, command_id: int, name: str, payload: dict[str, Any]) -> None:
    publish(
        topics.screen(screen_id),
        {"e": "command", "screen": screen_id, "id": command_id, "name": name, "payload": payload},
    )


def close_screen(screen_id: int, code: int) -> None:
    publish(topics.screen(screen_id), {"e": "close", "screen": screen_id, "code": code})


def flags_changed() -> None:
    publish(topics.CONTROL, {"e": "flags"})


def dashboard(school_id: int, frame: dict[str, Any]) -> None:
    """Tell every live dashboard watching ``school_id`` (a staff frame, see docs/operations.md)."""
    publish(topics.dashboard(school_id), {"e": "frame", "frame": frame})


def user(user_id: int, frame: dict[str, Any]) -> None:
    """Tell one staff user's open dashboards (e.g. what became of a command they sent)."""
    publish(topics.user(user_id), {"e": "frame", "frame": frame})
