"""The periodic summary line: every figure in it, on an interval, once per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from hallboard.observability import report, summary
from hallboard.observability.health import Reason, Verdict

FIGURES = {
    "connections.display.open": 30.0,
    "connections.staff.open": 2.0,
    "accepted.display": 40.0,
    "refused.4401": 1.0,
    "refused.1013": 4.0,
    "delivered.invalidate": 300.0,
    "failed.invalidate": 2.0,
    "slow_client_disconnects": 1.0,
    "push_latency.sum": 0.3,
    "push_latency.count": 100.0,
    "broker_connected.redis": 1.0,
    "published.invalidate": 12.0,
    "publish_failed.invalidate": 1.0,
}


def document(**changes: Any) -> dict[str, Any]:
    snapshot = report.Snapshot(
        lifetime=FIGURES,
        window=FIGURES,
        window_s=300.0,
        gateways=[report.Source("host-a:1", "fleet", FIGURES, 1.0)],
        fleet={"redis": True, "reporting": 1},
        **changes,
    )
    return report.document(snapshot)


def test_the_line_names_every_figure() -> None:
    """Connections, refusals, published/delivered/failed, latency, broker and health in one line."""
    text = summary.line(document())
    for part in (
        "connections 32 open (display 30, staff 2)",
        "40 accepted",
        "refused 5 (1013: 4, 4401: 1)",
        "published 12",
        "publish failed 1",
        "delivered 300",
        "delivery failed 2",
        "slow clients 1",
        "push latency avg 3.0 ms",
        "broker redis connected (host-a:1)",
        "health ok",
    ):
        assert part in text


def test_the_line_gives_the_reasons_of_a_bad_verdict() -> None:
    """A warning carries its reasons in the line."""
    verdict = Verdict("warning", (Reason("broker", "warning", "broker disconnected (redis)"),))
    text = summary.line(document(verdict=verdict))
    assert "health warning (broker disconnected (redis))" in text


def test_log_once_logs_the_figures_as_text_and_as_fields(
    caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    """One record on hallboard.metrics: the line as message, the document as "metrics"."""
    settings.REDIS_URL = ""
    with caplog.at_level(logging.INFO, logger="hallboard.metrics"):
        doc = summary.log_once()
    (record,) = [r for r in caplog.records if r.name == "hallboard.metrics"]
    assert record.getMessage().startswith("metrics: connections ")
    assert f"health {doc['health']}" in record.getMessage()
    assert record.metrics == doc  # type: ignore[attr-defined]


async def test_run_logs_once_per_interval(caplog: pytest.LogCaptureFixture, settings: Any) -> None:
    """Driven by its sleep: one line after each interval, never before the first."""
    settings.REDIS_URL = ""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 3:
            raise asyncio.CancelledError

    with (
        caplog.at_level(logging.INFO, logger="hallboard.metrics"),
        pytest.raises(asyncio.CancelledError),
    ):
        await summary.run(300.0, sleep=fake_sleep)
    lines = [r for r in caplog.records if r.name == "hallboard.metrics"]
    assert slept == [300.0] * 4
    assert len(lines) == 3


async def test_start_runs_one_summary_per_process(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The first start makes the task; later ones (another role, another caller) do not."""
    monkeypatch.setattr(summary, "_started", False)
    settings.WS_METRICS_LOG_INTERVAL = 3600
    task = summary.start()
    try:
        assert task is not None
        assert summary.start() is None
        assert summary.start_thread() is None
    finally:
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_interval_zero_turns_summaries_off(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """WS_METRICS_LOG_INTERVAL=0: no summary thread or task."""
    monkeypatch.setattr(summary, "_started", False)
    settings.WS_METRICS_LOG_INTERVAL = 0
    assert summary.start_thread() is None
