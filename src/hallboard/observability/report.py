"""The deployment's figures in one document: ``/api/display/ws-metrics/`` and the summary line.

Where the figures come from:

- this process (or, with several web workers, all of them: ``multiprocess``):
  publishes, display requests, and the gateway's figures when this process
  runs one (``--role all``);
- with ``REDIS_URL``, the gateways in other processes and hosts
  (``fleet``): their fresh reports are added. The reports of processes whose
  figures this process's registry already holds are skipped: its own gateway's,
  and those of the gateways sharing its metrics directory (``serve --processes
  N``: each reports only its own figures, and a scrape here merges them all).

The seed's fields keep the seed's meaning, as lifetime counters; the health
verdict is judged on what changed over the last 5 minutes (``health``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from hallboard.observability import figures as fig
from hallboard.observability import fleet, gcpause, health, multiprocess

#: This process's recent figures (the window of the health verdict).
LOCAL_HISTORY = fig.History(fleet.WINDOW)


@dataclass
class Source:
    """Where a set of gateway figures came from (this process, or a fleet report)."""

    id: str
    origin: str  # "local" or "fleet"
    figures: fig.Figures
    age_s: float = 0.0


@dataclass
class Snapshot:
    lifetime: fig.Figures
    window: fig.Figures
    window_s: float | None
    gateways: list[Source] = field(default_factory=list)
    fleet: dict[str, Any] = field(default_factory=dict)
    verdict: health.Verdict = field(default_factory=lambda: health.Verdict("ok"))


def _gateway_part(figures: fig.Figures) -> fig.Figures:
    return {k: v for k, v in figures.items() if fig.root(k) in fig.GATEWAY_KEYS}


def _runs_gateway(gateway_figures: fig.Figures) -> bool:
    """Whether these figures show a gateway (it sets its broker state when it starts)."""
    return any(fig.root(k) == "broker_connected" or v for k, v in gateway_figures.items())


def collect(*, now: float | None = None) -> Snapshot:
    """Read every source, observe this process's window, judge health."""
    now = time.time() if now is None else now
    gcpause.flush()
    local = fig.read(multiprocess.registry())
    local_window, window_s = LOCAL_HISTORY.observe(local)
    own_gateway = _gateway_part(local)
    gateways: list[Source] = []
    if _runs_gateway(own_gateway):
        gateways.append(Source(fleet.process_id(), "local", own_gateway))
    reports: list[fleet.Report] = []
    fleet_info: dict[str, Any] = {"redis": bool(settings.REDIS_URL)}
    fleet_error = ""
    if settings.REDIS_URL:
        try:
            counted = {fleet.process_id(), *fleet.merged_ids()}
            reports = [r for r in fleet.read(settings.REDIS_URL, now=now) if r.id not in counted]
        except Exception as exc:  # Redis down: answer with what this process knows
            fleet_error = f"Redis unreachable ({type(exc).__name__})"
        fleet_info["reporting"] = len(reports)
        if fleet_error:
            fleet_info["error"] = fleet_error
    for report in reports:
        gateways.append(Source(report.id, "fleet", report.figures, round(now - report.ts, 1)))
    fleet_lifetime, fleet_window = fleet.total(reports)
    lifetime = fig.add(local, fleet_lifetime)
    window = fig.add(local_window, fleet_window)
    down = tuple(
        f"{broker} on {source.id}"
        for source in gateways
        for broker in health.brokers_down(source.figures)
    )
    verdict = health.verdict(
        health.Totals.of(lifetime, down),
        health.Totals.of(window),
        window_s=window_s,
        fleet_error=fleet_error,
    )
    return Snapshot(lifetime, window, window_s, gateways, fleet_info, verdict)


def _seed_fields(totals: health.Totals) -> dict[str, Any]:
    return {
        "connections_active": totals.connections_active,
        "connections_total": totals.connections_accepted,
        "connections_failed": totals.connections_failed,
        "broadcasts_sent": totals.broadcasts_sent,
        "broadcasts_failed": totals.broadcasts_failed,
        "broadcast_latency_avg_ms": round(totals.latency_avg_ms, 2),
    }


def _ints(values: dict[str, float]) -> dict[str, int]:
    return {key: int(value) for key, value in sorted(values.items())}


def _connections(figures: fig.Figures) -> dict[str, dict[str, int]]:
    by_kind: dict[str, dict[str, int]] = {}
    for key, value in fig.labelled(figures, "connections").items():
        kind, _, state = key.partition(".")
        by_kind.setdefault(kind, {})[state] = int(value)
    return by_kind


def _gateway(source: Source) -> dict[str, Any]:
    totals = health.Totals.of(source.figures)
    return {
        "id": source.id,
        "source": source.origin,
        "age_s": source.age_s,
        **_seed_fields(totals),
        "delivered": int(fig.total(source.figures, "delivered")),
        "failed": int(fig.total(source.figures, "failed")),
        "slow_client_disconnects": int(source.figures.get("slow_client_disconnects", 0)),
        "broker": {k: bool(v) for k, v in fig.labelled(source.figures, "broker_connected").items()},
    }


def document(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON of ``/api/display/ws-metrics/``: the seed's fields first, then the details."""
    lifetime = health.Totals.of(snapshot.lifetime)
    window = health.Totals.of(snapshot.window)
    verdict = snapshot.verdict
    return {
        **_seed_fields(lifetime),
        "health": verdict.status,
        "health_reasons": [
            {"rule": r.rule, "status": r.status, "detail": r.detail} for r in verdict.reasons
        ],
        "window": {
            "seconds": None if snapshot.window_s is None else round(snapshot.window_s, 1),
            "connections_accepted": window.connections_accepted,
            "connections_failed": window.connections_failed,
            "broadcasts_sent": window.broadcasts_sent,
            "broadcasts_failed": window.broadcasts_failed,
            "broadcast_latency_avg_ms": round(window.latency_avg_ms, 2),
        },
        "connections": _connections(snapshot.lifetime),
        "refused": _ints(fig.labelled(snapshot.lifetime, "refused")),
        "closed": _ints(fig.labelled(snapshot.lifetime, "closed")),
        "messages_delivered": _ints(fig.labelled(snapshot.lifetime, "delivered")),
        "messages_failed": _ints(fig.labelled(snapshot.lifetime, "failed")),
        "slow_client_disconnects": int(snapshot.lifetime.get("slow_client_disconnects", 0)),
        "published": _ints(fig.labelled(snapshot.lifetime, "published")),
        "publish_failed": _ints(fig.labelled(snapshot.lifetime, "publish_failed")),
        "gateways": [_gateway(source) for source in snapshot.gateways],
        "fleet": snapshot.fleet,
    }
