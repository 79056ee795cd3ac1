"""The fault run, small: every committed write reaches every screen through a fault."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reliability import faults
from reliability.stack import Stack


def run(stack: Stack, *chosen: str) -> dict[str, object]:
    args = faults.parser().parse_args(
        [
            *("--fault-seconds", "3", "--after-seconds", "1", "--settle-seconds", "40"),
            *("--write-interval", "0.7", "--no-baseline"),
        ]
    )
    return asyncio.run(faults.FaultRun(stack, args).run(list(chosen)))


def test_redis_killed_every_committed_write_reaches_every_screen(small_stack: Stack) -> None:
    """Redis is killed while the writer commits, then started again: every screen (pushing
    and polling) comes to show every committed write, each write is in the database once,
    and the replica logged no traceback."""
    if not small_stack.redis:
        pytest.skip("no redis-server binary")
    result = run(small_stack, "redis-kill")
    (phase,) = result["phases"]  # type: ignore[misc]
    assert phase["fault"] == "redis-kill"
    assert phase["commits"] >= 2
    assert phase["deliveries_expected"] == phase["commits"] * 4
    assert phase["missing"] == 0
    writes = result["writes"]
    assert writes["announcements_in_database"] == writes["answered"]  # type: ignore[index]
    assert small_stack.tracebacks() == 0


def test_flooding_clients_are_dropped_and_cost_the_others_nothing(small_stack: Stack) -> None:
    """Ping floods (one before authentication) and message floods from clients that never
    read are dropped by the gateway, and the other screens still get every write."""
    result = run(small_stack, "flood-clients")
    (phase,) = result["phases"]  # type: ignore[misc]
    assert phase["missing"] == 0
    hostile = phase["hostile"]
    assert {h["behaviour"] for h in hostile} == {"ping-flood", "message-flood"}
    assert any(not h["authenticated"] for h in hostile)
    assert all(h["handshake_status"] == 101 for h in hostile)
    assert all(h["dropped_after_s"] is not None for h in hostile), hostile
    assert small_stack.tracebacks() == 0


def test_faults_that_need_what_the_stack_lacks_are_skipped_and_say_why(tmp_path: Path) -> None:
    """On SQLite with one replica, the database and replica faults are reported as skipped."""
    stack = Stack(replicas=1, database_url=None, redis=False, work_dir=tmp_path)
    run_now, skipped = faults.applicable(faults.FAULTS, stack)
    assert skipped == {
        "replica-kill": "needs two replicas",
        "db-cut-one": "needs PostgreSQL",
        "db-cut-all": "needs PostgreSQL",
        "redis-and-db": "needs PostgreSQL",
        "redis-kill": "needs Redis",
        "redis-freeze": "needs Redis",
    }
    assert run_now == ["slow-clients", "flood-clients"]
