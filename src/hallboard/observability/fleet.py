"""The gateways' figures across processes and hosts, through one Redis hash.

In a split deployment (``hallboard serve --role web`` beside ``--role
gateway`` processes, with ``REDIS_URL``) the web process answering
``/api/display/ws-metrics/`` holds no socket: the gateways do. Each gateway
runs ``report_forever(get_figures)``: every few seconds it writes its
figures (lifetime, and what changed over the last 5 minutes) with a timestamp
to the hash ``hallboard:fleet:gateways``, one field per gateway process, and
removes its field when it stops. ``read()`` returns the fresh entries; an
entry older than ``FRESH_FOR`` (a gateway that died without cleaning up) is
ignored, and dropped after ``FORGET_AFTER``.

Prometheus does not need this: it scrapes each gateway. This is for the JSON
endpoint and the summary line, which answer for the whole deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings

from hallboard.observability import figures as fig
from hallboard.observability import multiprocess

logger = logging.getLogger("hallboard.observability.fleet")

KEY = "hallboard:fleet:gateways"
#: Seconds between two reports of a gateway.
REPORT_INTERVAL = 5.0
#: Seconds one report may take before it is given up (the next one comes anyway).
REPORT_TIMEOUT = 2.0
#: A report older than this is not counted (three missed reports).
FRESH_FOR = 15.0
#: A report older than this is removed from the hash by the next reader.
FORGET_AFTER = 600.0
#: What changed over this many seconds is reported beside the lifetime figures.
WINDOW = 300.0


def process_id() -> str:
    """This process's name in the fleet: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def merged_ids() -> set[str]:
    """The fleet names of the processes whose figures this process's registry already merges:
    the gateways sharing its metrics directory on this host (``serve --processes N``)."""
    host = socket.gethostname()
    return {f"{host}:{pid}" for pid in multiprocess.pids()}


@dataclass(frozen=True)
class Report:
    id: str
    ts: float
    started: float
    figures: fig.Figures
    window: fig.Figures
    #: Length of ``window`` in seconds; None when it holds the lifetime figures.
    window_s: float | None

    def encode(self) -> str:
        return json.dumps(
            {
                "ts": self.ts,
                "started": self.started,
                "figures": self.figures,
                "window": self.window,
                "window_s": self.window_s,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, gateway_id: str, raw: str | bytes) -> Report:
        data = json.loads(raw)
        return cls(
            id=gateway_id,
            ts=float(data["ts"]),
            started=float(data["started"]),
            figures={str(k): float(v) for k, v in data["figures"].items()},
            window={str(k): float(v) for k, v in data["window"].items()},
            window_s=None if data.get("window_s") is None else float(data["window_s"]),
        )


def local_gateway_figures() -> fig.Figures:
    """This process's own gateway figures, as ``report_forever`` sends them.

    Only its own: gateways under one supervisor (``serve --processes N``) share a metrics
    directory, and each reports for itself, so a reader adding the reports counts each
    process once (reporting the merged directory, every process's figures were counted
    N times).
    """
    return fig.read(multiprocess.own_registry(), gateway_only=True)


async def report_forever(
    get_figures: Callable[[], Mapping[str, float]] = local_gateway_figures,
    *,
    redis_url: str | None = None,
    interval: float = REPORT_INTERVAL,
    gateway_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Report ``get_figures()`` to Redis every ``interval`` seconds until cancelled.

    Run it as a task beside the gateway; cancel it on shutdown (the entry is
    then removed). Keep the default ``gateway_id`` (host and pid): a web app
    in the same process (``--role all``) recognises its own gateway's report
    by it and does not count those figures twice.

    Redis being down is logged once per outage and retried at the next
    interval: reporting never stops the gateway. Without a Redis URL (the
    embedded default) there is no one to report to, and it returns.
    """
    from redis.exceptions import RedisError

    from hallboard import redisconn

    url = settings.REDIS_URL if redis_url is None else redis_url
    if not url:
        return
    gid = gateway_id or process_id()
    client = redisconn.async_client(url, REPORT_TIMEOUT)
    history = fig.History(WINDOW)
    started = clock()
    failing = False
    try:
        while True:
            figures = dict(get_figures())
            window, window_s = history.observe(figures)
            report = Report(gid, clock(), started, figures, window, window_s)
            try:
                await client.hset(KEY, gid, report.encode())
            except (RedisError, OSError, TimeoutError) as exc:  # never fatal
                if not failing:
                    logger.warning("gateway figures not reported to Redis: %s", exc)
                failing = True
            else:
                if failing:
                    logger.info("gateway figures reported to Redis again")
                failing = False
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.hdel(KEY, gid), 2)
        with contextlib.suppress(Exception):
            await client.aclose()


def read(redis_url: str, *, now: float | None = None, fresh_for: float = FRESH_FOR) -> list[Report]:
    """The fresh reports in Redis (raises ``redis.RedisError`` when Redis cannot be read)."""
    from hallboard import redisconn

    client = redisconn.client(redis_url)  # short timeouts, no retries: a web request waits
    now = time.time() if now is None else now
    fresh: list[Report] = []
    forgotten: list[bytes] = []
    for field, raw in client.hgetall(KEY).items():
        gateway_id = field.decode() if isinstance(field, bytes) else str(field)
        try:
            report = Report.decode(gateway_id, raw)
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignored a malformed fleet report from %s", gateway_id)
            continue
        age = now - report.ts
        if age > FORGET_AFTER:
            forgotten.append(field)
        elif age <= fresh_for:
            fresh.append(report)
    if forgotten:
        client.hdel(KEY, *forgotten)
    return sorted(fresh, key=lambda r: r.id)


def total(reports: Iterable[Report]) -> tuple[fig.Figures, fig.Figures]:
    """The reports' lifetime figures and window figures, each summed."""
    reports = list(reports)
    return fig.add(*(r.figures for r in reports)), fig.add(*(r.window for r in reports))
