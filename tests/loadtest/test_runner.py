"""A small load test end to end: every expected delivery arrives, with no failures.

Correctness only: never a timing assertion (speed is measured in bench/).
One run drives a real `hallboard serve` process (polling included) through the
CLI; another drives the in-process gateway, so it also runs on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hallboard.loadtest import fleet as fleets
from hallboard.loadtest.clients import Target
from hallboard.loadtest.deliveries import Edit
from hallboard.loadtest.runner import LoadRun, RunOptions
from hallboard.loadtest.triggers import DbTrigger, in_thread
from tests.realtime.conftest import start_gateway

BOUND = 30.0  # seconds a test waits for something that happens at once on a quiet machine

SMALL = [
    "--no-progress", "--poll-min", "1", "--poll-max", "2", "--latency-edits", "30",
    "--latency-rate", "30", "--churn-duration", "3", "--push-all-repeat", "1",
    "--sync-edits", "2", "--school-gap", "0.5", "--delivery-timeout", "10",
]  # fmt: skip


def hallboard(
    env: dict[str, str], *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "hallboard", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def assert_all_delivered(result: dict[str, Any], scenarios: list[str]) -> None:
    assert result["ok"], result["problems"]
    assert sorted(result["scenarios"]) == sorted(scenarios)
    s = result["scenarios"]
    assert s["connect"]["connected"] == s["connect"]["attempted"] > 0
    assert s["connect"]["failures"] == {}
    busy = s["connect"]["machine_cpu_busy"]
    assert busy
    assert all(0 <= share <= 1 for share in busy.values())
    for name in ("sync", "latency", "push-all", "churn", "poll"):
        if name in s:
            r = s[name]
            assert r["expected"] > 0, name
            assert r["delivered"] == r["expected"], (name, r)
            assert r["missing"] == 0, (name, r)
    if "storm" in s:
        storm = s["storm"]
        assert storm["back"] == storm["current"] == storm["expected"] == storm["screens"] > 0
        assert storm["errors"] == {}
    if "poll" in s:
        poll = s["poll"]
        assert poll["push_off"]["missing"] == 0
        assert poll["push_off"]["close_codes"] == {"4409": poll["push_off"]["sockets"]}
        assert poll["refused"] == {"close:4409": poll["push_off"]["sockets"]}
        assert poll["push_back_on"]["missing"] == 0


@pytest.fixture
def served(tmp_path: Path) -> dict[str, str]:
    """A migrated data directory with 40 schools of 5 screens (SQLite), as the CLI sees it.

    The runs poll every 1-2 s to stay short, faster than displays may (at least 8 s, one
    request a second on average): the server's limit is raised to match.
    """
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path), "DISPLAY_RATE_LIMIT": "50/5second"}
    env.pop("REDIS_URL", None)
    assert hallboard(env, "migrate", "-v0").returncode == 0
    done = hallboard(env, "loadtest", "setup", "--schools", "40")
    assert done.returncode == 0, done.stderr
    return env


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_every_scenario_against_hallboard_serve(
    served: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    """All seven scenarios on 200 screens (push and polling) through Redis: nothing missing."""
    out = tmp_path / "result.json"
    env = {**served, "REDIS_URL": redis_url}
    done = hallboard(env, "loadtest", "run", "--spawn", "--trigger", "db", *SMALL,
                     "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["poll_screens"] > 0
    assert result["push_screens"] > 0
    assert_all_delivered(
        result, ["connect", "sync", "latency", "push-all", "poll", "churn", "storm"]
    )


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_api_edits_and_a_killed_server(served: dict[str, str], tmp_path: Path) -> None:
    """Edits through the management API; the server killed and restarted: all back, current."""
    out = tmp_path / "result.json"
    done = hallboard(served, "loadtest", "run", "--spawn", "--trigger", "api", "--storm", "kill",
                     "--scenario", "latency", "--scenario", "storm", *SMALL,
                     "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert_all_delivered(result, ["connect", "latency", "storm"])
    assert result["scenarios"]["storm"]["mode"] == "kill"


@pytest.mark.django_db(transaction=True)
async def test_push_scenarios_against_the_in_process_gateway(tmp_path: Path, settings: Any) -> None:
    """connect, sync, latency, push-all, churn and a dropped-sockets storm: nothing missing."""
    settings.REDIS_URL = ""
    # In a worker thread that gives its connection back (an open one would keep
    # PostgreSQL from dropping the test database).
    fleet, _ = await asyncio.to_thread(
        in_thread, fleets.setup, 20, 5, org="lt", path=tmp_path / "lt.json"
    )
    gateway = await start_gateway()
    scenarios = ["connect", "sync", "latency", "push-all", "churn", "storm"]
    options = RunOptions(
        target=Target("127.0.0.1", gateway.port, http_port=1),  # no polling screens here
        scenarios=scenarios,
        push_share=1.0,
        latency_edits=30,
        latency_rate=30,
        sync_edits=2,
        push_all_repeat=1,
        churn_duration=3,
        school_gap=0.5,
        max_duration=120,
    )
    try:
        result = await LoadRun(fleet, DbTrigger(same_process=True), options).run()
    finally:
        await gateway.shutdown()
    assert_all_delivered(result, scenarios)


def _run_of(schools: int, per_school: int, push_share: float = 1.0) -> LoadRun:
    screens = [
        fleets.ScreenCredentials(school * 100 + n, school, f"t{school}-{n}", "dk")
        for school in range(1, schools + 1)
        for n in range(per_school)
    ]
    fleet = fleets.Fleet("lt", 1, {s: f"s{s}" for s in range(1, schools + 1)}, {}, screens, "k")
    options = RunOptions(target=Target("127.0.0.1", 1, http_port=1), push_share=push_share)
    return LoadRun(fleet, DbTrigger(same_process=True), options)


def test_the_open_screens_of_a_school_follow_hellos_and_closes() -> None:
    """Hellos open a push screen and closes end it, per school and in screen order; a polling
    screen's rows never count as an open push screen; a school with none left is gone."""
    run = _run_of(schools=3, per_school=3, push_share=2 / 3)
    polling = {s.idx for s in run.screens if s.mode == "poll"}
    for idx in (5, 3, 4, 0):
        run._on_row([idx, "h", 1, 1.0, 0.5])
    opened = [i for i in (0, 3, 4, 5) if i not in polling]
    by_school = {school: [i for i in opened if i // 3 == school - 1] for school in (1, 2)}
    assert run._open_ws_of(2) == by_school[2] == sorted(by_school[2])
    assert run._open_ws_by_school() == {s: v for s, v in by_school.items() if v}
    for idx in (3, 4, 5):
        run._on_row([idx, "c", 1001, 2.0])
    assert run._open_ws_of(2) == []
    assert 2 not in run._open_ws_by_school()
    assert run._open_ws_of(1) == by_school[1]


def test_the_next_eligible_school_wraps_round_and_skips_recent_edits() -> None:
    """From a rotation point, the first school not edited within the gap, wrapping round;
    None when every school was edited within it."""
    run = _run_of(schools=4, per_school=1)
    schools = [10, 20, 30, 40]
    now = time.monotonic()
    run.last_edit = {30: now, 40: now}
    assert run._next_eligible(schools, 2) == 0
    assert run._next_eligible(schools, 1) == 1
    run.last_edit.update({10: now, 20: now})
    assert run._next_eligible(schools, 0) is None


async def test_a_dropped_storm_edits_only_once_the_clients_dropped_their_sockets() -> None:
    """The drop command only reaches the client processes: the storm's edit waits until
    they report no socket open, so it finds every screen away (made while the old sockets
    were still up, it reached them there and the storm measured no reconnect)."""
    run = _run_of(schools=2, per_school=2)
    for s in run.screens:
        run._on_row([s.idx, "h", 1, time.time(), time.time()])

    class Pool:
        count = 1

        def __init__(self) -> None:
            self.open = len(run.screens)

        async def send(self, command: dict[str, Any], ids: Any = None) -> None:
            if command["cmd"] == "drop":  # the clients act on it a moment later
                asyncio.get_running_loop().call_later(0.2, setattr, self, "open", 0)

        def total(self, key: str) -> int:
            return self.open if key == "open" else 0

    class Trigger:
        name = "db"
        last_publish_s = None
        open_at_edit: int | None = None

        async def edit(self, school_ids: list[int]) -> list[Edit]:
            Trigger.open_at_edit = pool.open
            return [Edit(school, 2, time.time()) for school in school_ids]

    pool = Pool()
    run.pool = pool  # type: ignore[assignment]
    run.trigger = Trigger()
    run.options.storm_timeout = 0.1  # nobody comes back here: only the order matters
    run.deadline = time.monotonic() + BOUND
    result = await run.storm()
    assert result["screens"] == len(run.screens)
    assert Trigger.open_at_edit == 0
