"""`hallboard serve` processes: metrics summed over web workers, JSON logs, the summary line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.serving import Served, environment, serve

TOKEN = "serve-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def unauthorised_status_requests(server: Served) -> float:
    """hallboard_display_requests_total{endpoint="status",code="401"} as /metrics tells it."""
    status, body = server.get("/metrics", AUTH)
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == "hallboard_display_requests_total" and s.labels == {
                "endpoint": "status",
                "code": "401",
            }:
                return s.value
    return 0.0


def poll_status(server: Served, times: int) -> None:
    for _ in range(times):
        assert server.get("/api/display/status/")[0] == 401  # no token: counted as 401


def test_metrics_of_any_web_worker_are_the_sum_over_all(tmp_path: Path) -> None:
    """Two web workers: requests served by each one; /metrics from either shows the sum.

    Each worker is paused (SIGSTOP) in turn so that the other one alone
    accepts: worker A serves 3 requests, worker B 4, and each answers 7.
    """
    with serve(
        tmp_path,
        "--role",
        "web",
        "--workers",
        "2",
        METRICS_TOKEN=TOKEN,
        WS_METRICS_LOG_INTERVAL="0.5",
    ) as server:
        server.wait_until_up()
        deadline = time.monotonic() + 60
        while len(workers := server.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, f"expected two workers, found {workers}"
        a, b = workers

        def only(pid: int) -> None:
            os.kill(b if pid == a else a, signal.SIGSTOP)

        def both() -> None:
            for pid in workers:
                os.kill(pid, signal.SIGCONT)

        try:
            only(a)
            poll_status(server, 3)
            assert unauthorised_status_requests(server) == 3
            both()
            only(b)
            poll_status(server, 4)
            assert unauthorised_status_requests(server) == 7  # B served 4, sees A's 3 too
            both()
            only(a)
            assert unauthorised_status_requests(server) == 7
        finally:
            both()

        # The supervisor logs the summary for both workers (the default plain format).
        deadline = time.monotonic() + 30
        while not any("hallboard.metrics" in line for line in server.log_lines()):
            assert time.monotonic() < deadline, "no summary line"
            time.sleep(0.1)
        lines = server.log_lines()
        merged = re.search(r"metrics of the workers are merged in (\S+)", "\n".join(lines))
        assert merged is not None
        directory = Path(merged.group(1))
        assert directory.is_dir()
        assert not any(line.startswith("{") for line in lines)  # plain unless configured
    assert not directory.exists()  # the server's own temporary directory, removed at exit


def test_json_logs_and_the_summary_line_of_a_gateway(tmp_path: Path) -> None:
    """HALLBOARD_LOG_FORMAT=json: every line is one JSON object; the summary has the figures."""
    with serve(
        tmp_path,
        "--role",
        "gateway",
        HALLBOARD_LOG_FORMAT="json",
        WS_METRICS_LOG_INTERVAL="0.2",
    ) as server:
        deadline = time.monotonic() + 60
        summary = None
        while summary is None:
            assert server.process.poll() is None, "\n".join(server.log_lines())
            assert time.monotonic() < deadline, "no summary line:\n" + "\n".join(server.log_lines())
            for line in server.log_lines():
                record = json.loads(line)  # every line: one JSON object
                if record.get("logger") == "hallboard.metrics":
                    summary = record
            time.sleep(0.1)
    assert {"timestamp", "level", "logger", "message"} <= set(summary)
    assert summary["message"].startswith("metrics: connections 0 open")
    figures = summary["metrics"]
    for field in ("connections_active", "connections_failed", "broadcasts_sent", "health"):
        assert field in figures
    assert "health " + figures["health"] in summary["message"]
    lines = server.log_lines()
    assert any(json.loads(line)["logger"] == "hallboard.realtime.gateway" for line in lines)


@pytest.mark.parametrize("value", ["xml", "JSON "])
def test_an_unknown_log_format_is_refused(tmp_path: Path, value: str) -> None:
    """HALLBOARD_LOG_FORMAT other than plain or json stops the command with the reason."""
    result = subprocess.run(
        [sys.executable, "-m", "hallboard", "check"],
        env=environment(tmp_path, HALLBOARD_LOG_FORMAT=value),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert b"HALLBOARD_LOG_FORMAT" in result.stderr
