"""The human side of a load test run: the summary table and the progress bar
(loadtest.report)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from hallboard.loadtest.report import ProgressBar, render

LAT = {"count": 10, "p50": 5, "p95": 9, "p99": 12, "max": 15}


def result(**scenarios: Any) -> dict[str, Any]:
    return {
        "screens": 100,
        "push_screens": 90,
        "poll_screens": 10,
        "schools": 4,
        "trigger": "orm",
        "duration_s": 30,
        "client_processes": 2,
        "client_cpu_s": 1.5,
        "problems": [],
        "scenarios": scenarios,
    }


def shown(data: dict[str, Any]) -> str:
    console = Console(record=True, width=400, color_system=None)
    render(data, console)
    return console.export_text()


def row(text: str, scenario: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"│ {scenario} "))


def test_the_title_names_the_fleet_and_the_run() -> None:
    """The table's title says screens (push/polling), schools, trigger and duration."""
    text = shown(result())
    title = "hallboard load test: 100 screens (90 push, 10 polling) in 4 schools, trigger orm, 30 s"
    assert title in " ".join(text.split())  # the title wraps to the table's width
    assert "client processes: 2, client CPU 1.5 s" in text


def test_a_clean_run_says_every_delivery_arrived() -> None:
    """No problems: the last line says every expected delivery arrived."""
    assert shown(result()).rstrip().endswith("Every expected delivery arrived; no failures.")


def test_problems_are_listed_one_per_line() -> None:
    """A run with problems lists each, and does not claim success."""
    data = result()
    data["problems"] = ["sync: 3 screens missed the edit", "churn: 1 stale"]
    text = shown(data)
    assert "Problems:" in text
    assert "  • sync: 3 screens missed the edit" in text
    assert "  • churn: 1 stale" in text
    assert "Every expected delivery arrived" not in text


def test_connect_shows_rate_handshake_memory_and_failures() -> None:
    """connect: connected/attempted, connects per second, handshake percentiles, KiB each."""
    text = shown(
        result(
            connect={
                "connected": 98,
                "attempted": 100,
                "connects_per_s": 250,
                "handshake_ms": LAT,
                "kib_per_connection": 12.5,
                "failures": {"refused": 2},
            }
        )
    )
    line = row(text, "connect")
    assert "98/100 connected" in line
    assert "250 connects/s · handshake p50 5 · p95 9 · p99 12 · max 15 ms" in line
    assert "12.5 KiB/connection" in line
    assert "failures {'refused': 2}" in line


def test_delivery_scenarios_show_missing_deliveries_and_their_figures() -> None:
    """sync shows its spread, push-all its last screen; missing deliveries are named."""
    sync = {"delivered": 97, "expected": 100, "missing": 3, "latency_ms": LAT, "spread_ms": LAT}
    push_all = {"delivered": 100, "expected": 100, "latency_ms": LAT, "last_ms": LAT}
    text = shown(result(sync=sync, **{"push-all": push_all}))
    line = row(text, "sync")
    assert "97/100 (3 MISSING)" in line
    assert "spread p50 5" in line
    push = row(text, "push-all")
    assert "100/100" in push
    assert "MISSING" not in push
    assert push.split("│")[3].strip().startswith("last screen p50 5")


def test_latency_without_samples_is_a_dash() -> None:
    """A scenario with no latency samples shows '—', not zeros."""
    text = shown(result(latency={"delivered": 0, "expected": 0, "latency_ms": {"count": 0}}))
    assert row(text, "latency").split("│")[3].strip() == "—"


def test_churn_shows_sockets_churned_and_stale_screens() -> None:
    """churn: sockets churned, deliveries by reconnect, stale screens at the end."""
    text = shown(
        result(
            churn={
                "delivered": 50,
                "expected": 50,
                "latency_ms": LAT,
                "sockets_churned": 20,
                "delivered_by": {"hello_after_reconnect": 7},
                "current_at_end": {"stale": 0},
            }
        )
    )
    assert "20 sockets churned, by reconnect 7 · at the end 0 stale" in row(text, "churn")


def test_skipped_scenarios_say_why() -> None:
    """A skipped scenario shows 'skipped' and the reason."""
    text = shown(
        result(
            sync={"skipped": "no push screens"},
            poll={"skipped": "no polling screens"},
            storm={"skipped": "not asked for"},
        )
    )
    assert "skipped" in row(text, "sync")
    assert "no push screens" in row(text, "sync")
    assert "no polling screens" in row(text, "poll")
    assert "not asked for" in row(text, "storm")


def test_poll_and_storm_rows() -> None:
    """poll shows convergence with push off; storm how long until all are back and current."""
    text = shown(
        result(
            poll={
                "delivered": 10,
                "expected": 10,
                "latency_ms": LAT,
                "refused": 0,
                "push_off": {
                    "close_codes": 90,
                    "converged_by_polling": 90,
                    "screens": 90,
                    "convergence_ms": LAT,
                },
            },
            storm={
                "current": 99,
                "screens": 100,
                "missing": 1,
                "mode": "restart",
                "all_back_s": 4.2,
                "all_current_s": 5.0,
                "server_restart_s": 1.1,
                "errors": None,
            },
        )
    )
    assert "push off: 90 closed, 90/90 converged by polling" in row(text, "poll")
    storm = row(text, "storm")
    assert "99/100 current (1 MISSING)" in storm
    assert "restart: all back 4.2 s, all current 5.0 s (server restart 1.1 s)" in storm


def test_the_progress_bar_starts_a_bar_per_phase() -> None:
    """Each new phase gets its own bar; calls within a phase update it."""
    console = Console(record=True, width=120, color_system=None)
    with ProgressBar(console) as bar:
        bar("connect", 5, 10, "")
        first = bar.task
        bar("connect", 10, 10, "")
        assert bar.task == first
        bar("sync", 0, 0, "")
        assert bar.task != first
        assert bar.phase == "sync"
    text = console.export_text()
    assert "connect" in text
    assert "10/10" in text
    assert "sync" in text


def test_a_disabled_progress_bar_prints_nothing() -> None:
    """Not on a terminal (enabled=False), the bar is silent."""
    console = Console(record=True, width=120, color_system=None)
    with ProgressBar(console, enabled=False) as bar:
        bar("connect", 1, 2, "")
    assert console.export_text() == ""
