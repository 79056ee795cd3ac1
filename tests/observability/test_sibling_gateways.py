"""Gateways under one supervisor (``serve --processes N``) share a metrics directory: each
reports only its own figures to the fleet, and a process that merges its siblings' figures
does not add their reports again, so every figure is the true total, never N times it.

Real processes in prometheus_client's multiprocess mode (it is chosen at import, so not in
this test's process), one after the other on one directory; the fleet's Redis is replaced by
the reports they print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GATEWAY = r"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hallboard.settings")
import django
django.setup()
from django.conf import settings
from hallboard.observability import fleet, metrics, report

metrics.gateway_connections_total.labels(kind="display").inc(int(sys.argv[1]))
metrics.broker_connected.labels(broker="redis").set(1)
own = fleet.local_gateway_figures()
siblings = [fleet.Report(**r) for r in json.loads(sys.argv[2])]
mine = fleet.Report(fleet.process_id(), 1000.0, 0.0, own, own, None)
settings.REDIS_URL = "redis://127.0.0.1:1/0"  # never reached: the reports are given
fleet.read = lambda url, now: [*siblings, mine]
summary = report.collect(now=1001.0)
print(json.dumps({
    "report": {"id": mine.id, "ts": mine.ts, "started": 0.0, "figures": own,
               "window": own, "window_s": None},
    "summary_accepted": summary.lifetime.get("accepted.display"),
}))
"""


def gateway(directory: Path, accepted: int, siblings: list[dict[str, Any]]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(directory), HALLBOARD_DATA_DIR=str(directory.parent))
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", GATEWAY, str(accepted), json.dumps(siblings)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_each_gateway_reports_its_own_figures_and_the_totals_count_each_once(
    tmp_path: Path,
) -> None:
    """Three gateways sharing a metrics directory accept 3, 5 and 7 sockets: each reports
    its own count; the reports add up to 15 (a web process's view through Redis), and the
    summary of a gateway, which merges the directory, is 15 too."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    reports: list[dict[str, Any]] = []
    summaries = []
    for accepted in (3, 5, 7):
        out = gateway(directory, accepted, reports)
        reports.append(out["report"])
        summaries.append(out["summary_accepted"])
    assert [r["figures"]["accepted.display"] for r in reports] == [3, 5, 7]
    assert sum(r["figures"]["accepted.display"] for r in reports) == 15
    assert summaries[-1] == 15
