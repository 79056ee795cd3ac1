"""The periodic summary line: the deployment's figures in the log every few minutes.

Every ``WS_METRICS_LOG_INTERVAL`` seconds (default 300, the seed's name and
interval) each serving process logs one line on ``hallboard.metrics``: open
sockets, refusals, published / delivered / failed, push latency, broker state
and the health verdict, the same figures ``/api/display/ws-metrics/`` answers
(``report``). With ``HALLBOARD_LOG_FORMAT=json`` the line also carries them
as a ``metrics`` object.

Started once per serving process by ``hallboard serve``: ``start(loop)`` in a
process with an event loop (roles all, gateway, web with one worker),
``start_thread()`` in the supervisor of several web workers (which merges the
workers' figures; the workers log none of their own).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from hallboard.observability import report

logger = logging.getLogger("hallboard.metrics")

_started = False
_start_lock = threading.Lock()


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in values.items())


def line(doc: dict[str, Any]) -> str:
    """The summary as one readable line (every figure named)."""
    kinds = ", ".join(
        f"{kind} {states.get('open', 0)}" for kind, states in sorted(doc["connections"].items())
    )
    refused = sum(doc["refused"].values())
    brokers = []
    for gateway in doc["gateways"]:
        for name, up in gateway["broker"].items():
            brokers.append(f"{name} {'connected' if up else 'DOWN'} ({gateway['id']})")
    parts = [
        f"connections {doc['connections_active']} open" + (f" ({kinds})" if kinds else ""),
        f"{doc['connections_total']} accepted",
        f"refused {refused}" + (f" ({_counts(doc['refused'])})" if refused else ""),
        f"published {doc['broadcasts_sent']}",
        f"publish failed {doc['broadcasts_failed']}",
        f"delivered {sum(doc['messages_delivered'].values())}",
        f"delivery failed {sum(doc['messages_failed'].values())}",
        f"slow clients {doc['slow_client_disconnects']}",
        f"push latency avg {doc['broadcast_latency_avg_ms']} ms",
        "broker " + ("; ".join(brokers) if brokers else "none in this view"),
        f"health {doc['health']}",
    ]
    text = "metrics: " + ", ".join(parts)
    if doc["health_reasons"]:
        text += " (" + "; ".join(r["detail"] for r in doc["health_reasons"]) + ")"
    return text


def log_once() -> dict[str, Any]:
    """Collect the figures and log the summary line; the document logged."""
    doc = report.document(report.collect())
    level = logging.INFO if doc["health"] == "ok" else logging.WARNING
    logger.log(level, "%s", line(doc), extra={"metrics": doc})
    return doc


async def run(
    interval: float,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """Log a summary every ``interval`` seconds, forever (collection in a thread)."""
    loop = asyncio.get_running_loop()
    while True:
        await sleep(interval)
        try:
            await loop.run_in_executor(None, log_once)
        except Exception:  # a summary must never take the server down
            logger.exception("metrics summary failed")


def _claim() -> bool:
    global _started
    with _start_lock:
        if _started:
            return False
        _started = True
        return True


def start(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[None] | None:
    """Start the summary task on ``loop`` (default: the running one); once per process.

    Returns the task, or None when this process already has one or the
    interval is 0 (summaries off).
    """
    interval = float(settings.WS_METRICS_LOG_INTERVAL)
    if interval <= 0 or not _claim():
        return None
    loop = loop or asyncio.get_running_loop()
    return loop.create_task(run(interval), name="metrics-summary")


def _log_forever(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            log_once()
        except Exception:
            logger.exception("metrics summary failed")


def start_thread(stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the summary in a daemon thread (a process without an event loop); once per process."""
    interval = float(settings.WS_METRICS_LOG_INTERVAL)
    if interval <= 0 or not _claim():
        return None
    thread = threading.Thread(
        target=_log_forever,
        args=(interval, stop or threading.Event()),
        name="metrics-summary",
        daemon=True,
    )
    thread.start()
    return thread
