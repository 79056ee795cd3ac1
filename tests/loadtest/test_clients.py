"""The coordinator's side of the client processes: what each is told, commands split by
owner, rows and totals collected. Fake processes where lines suffice; real worker
processes against a refused port on 127.0.0.1 once. (Source addresses: test_sources.py.)"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from hallboard.loadtest import clients, worker
from hallboard.loadtest.clients import ClientPool, SimScreen, Target, _Worker

BOUND = 30.0  # seconds a test waits for something that happens at once on a quiet machine


class FakeStdin:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.lines += [json.loads(line) for line in data.splitlines()]

    async def drain(self) -> None:
        pass


class FakeProcess:
    """A worker process as the pool sees it: lines written to it, its output fed by the test."""

    def __init__(self, returncode: int | None = None, stops: bool = True) -> None:
        self.stdin = FakeStdin()
        self.stdout = asyncio.StreamReader()
        self.stderr = asyncio.StreamReader()
        self.returncode = returncode
        self.stops = stops
        self.killed = False
        self._ended = asyncio.Event()

    async def wait(self) -> int:
        if self.stops or self.killed:
            self.returncode = self.returncode or 0
            return self.returncode
        await self._ended.wait()
        return -9

    def kill(self) -> None:
        self.killed = True
        self._ended.set()


def screens(n: int, mode: str = "ws") -> list[SimScreen]:
    return [SimScreen(i, 100 + i // 5, f"t{i}", f"dk-{i:08d}", mode) for i in range(n)]


def pool_of(count: int, n: int = 6, **kwargs: Any) -> tuple[ClientPool, list[FakeProcess]]:
    """A pool of ``count`` fake workers for ``n`` screens."""
    pool = ClientPool(Target("127.0.0.1", 9001, 9000), screens(n), workers=count, **kwargs)
    processes = [FakeProcess() for _ in range(count)]
    pool.workers = [_Worker(i, p) for i, p in enumerate(processes)]  # type: ignore[arg-type]
    return pool, processes


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connect to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_workers_needed_is_asked_for_or_one_per_fifteen_thousand() -> None:
    """A requested count wins (at least one); otherwise one process per MAX_PER_WORKER
    screens, at least one."""
    per = clients.MAX_PER_WORKER
    assert clients.workers_needed(50_000, 3) == 3
    assert clients.workers_needed(10, 0) == 1
    assert clients.workers_needed(0) == 1
    assert clients.workers_needed(per) == 1
    assert clients.workers_needed(per + 1) == 2


def test_each_worker_is_told_the_target_and_only_its_own_screens() -> None:
    """Screens are dealt round-robin (screen n to worker n mod count); each worker's first
    line carries the target, its screens, CPUs, source addresses and the handshake and
    fallback settings, and a worker built from it has exactly those."""
    target = Target("127.0.0.1", 9001, 9000, ws_path="/ws/x/", more_ws_ports=(9002,))
    pool = ClientPool(
        target, screens(7), workers=3, cpus=[1], handshake_timeout=2.5, poll_fallback=False
    )
    configs = [json.loads(json.dumps(pool.config(i))) for i in range(3)]
    assert [[s[0] for s in c["screens"]] for c in configs] == [[0, 3, 6], [1, 4], [2, 5]]
    assert configs[1]["screens"][0] == [1, 100, "t1", "dk-00000001", "ws"]
    assert all(c["target"] == target.to_json() and c["cpus"] == [1] for c in configs)
    built = worker.Worker(configs[0])
    assert sorted(built.screens) == [0, 3, 6]
    assert (built.ws_ports, built.http_port, built.ws_path) == ([9001, 9002], 9000, "/ws/x/")
    assert (built.handshake_timeout, built.fallback) == (2.5, False)
    assert built.sources == pool.sources[0] == configs[0]["sources"]


async def test_a_command_for_some_screens_goes_to_their_owners_only() -> None:
    """With ids, each worker gets only the ids it owns (none: no line); without, every
    worker gets the command as it is."""
    pool, processes = pool_of(3)
    await pool.send({"cmd": "poll"}, ids=[0, 3, 4])
    assert [p.stdin.lines for p in processes] == [
        [{"cmd": "poll", "ids": [0, 3]}],
        [{"cmd": "poll", "ids": [4]}],
        [],
    ]
    await pool.send({"cmd": "drop"})
    assert [p.stdin.lines[-1] for p in processes] == [{"cmd": "drop"}] * 3


async def test_connect_shares_the_rate_and_the_handshakes_in_flight() -> None:
    """``connect(rate, inflight)`` is a total: each of the workers gets its share."""
    pool, processes = pool_of(2)
    await pool.connect(rate=100.0, inflight=10)
    assert [p.stdin.lines for p in processes] == [
        [{"cmd": "connect", "rate": 50.0, "inflight": 5}]
    ] * 2
    await pool.connect(ids=[1], inflight=1)
    assert processes[1].stdin.lines[-1] == {
        "cmd": "connect",
        "rate": 0.0,
        "inflight": 1,
        "ids": [1],
    }
    assert len(processes[0].stdin.lines) == 1


async def test_rows_go_to_every_listener_and_failures_are_counted_by_reason() -> None:
    """Every row a worker reports reaches each listener in order; ``f`` rows are counted by
    reason; its first line marks it ready; its stats are the last it sent."""
    pool, processes = pool_of(1)
    seen: list[list[Any]] = []
    also: list[list[Any]] = []
    pool.listeners += [seen.append, also.append]
    out = processes[0].stdout
    rows = [[0, "h", 1, 5.0, 4.0], [1, "f", "refused", 5.0], [2, "f", "refused", 5.1]]
    out.feed_data(json.dumps({"ev": "rows", "rows": rows, "stats": {"open": 1}}).encode() + b"\n")
    out.feed_data(json.dumps({"ev": "rows", "rows": [[3, "f", "timeout", 6.0]]}).encode() + b"\n")
    out.feed_eof()
    async with asyncio.timeout(BOUND):
        await pool._read(pool.workers[0])
    assert pool.workers[0].ready.is_set()
    assert seen == also == [*rows, [3, "f", "timeout", 6.0]]
    assert pool.failures == {"refused": 2, "timeout": 1}
    assert pool.workers[0].stats == {"open": 1}


async def test_a_workers_error_output_keeps_its_last_fifty_lines() -> None:
    """What a worker writes to stderr is kept, the last 50 lines."""
    pool, processes = pool_of(1)
    processes[0].stderr.feed_data(b"".join(b"line %d\n" % n for n in range(60)))
    processes[0].stderr.feed_eof()
    async with asyncio.timeout(BOUND):
        await pool._read_stderr(pool.workers[0])
    assert pool.workers[0].stderr == [f"line {n}" for n in range(10, 60)]


async def test_totals_add_up_every_workers_last_stats() -> None:
    """Open sockets, counters and CPU seconds are the sums over the workers (a worker that
    has not reported yet counts nothing)."""
    pool, _ = pool_of(3)
    pool.workers[0].stats = {"open": 2, "cpu": 1.5, "counters": {"attempts": 3}}
    pool.workers[1].stats = {"open": 1, "cpu": 0.25, "counters": {"attempts": 1, "failed": 1}}
    assert pool.total("open") == 3
    assert pool.counter("attempts") == 4
    assert pool.counter("failed") == 1
    assert pool.cpu_seconds() == 1.75


async def test_only_workers_that_exited_with_an_error_are_crashed() -> None:
    """``crashed`` gives the last 10 stderr lines of each worker that exited non-zero; one
    still running or exited cleanly is not listed."""
    pool, processes = pool_of(3)
    processes[0].returncode = 1
    pool.workers[0].stderr = [f"e{n}" for n in range(12)]
    processes[1].returncode = 0
    pool.workers[1].stderr = ["fine"]
    assert pool.crashed() == ["\n".join(f"e{n}" for n in range(2, 12))]


async def test_stop_kills_a_worker_that_does_not_stop() -> None:
    """Every worker is told to stop; one still running after ``timeout`` is killed."""
    pool, processes = pool_of(2)
    processes[1].stops = False
    async with asyncio.timeout(BOUND):
        await pool.stop(timeout=0.05)
    assert [p.stdin.lines[-1] for p in processes] == [{"cmd": "stop"}] * 2
    assert [p.killed for p in processes] == [False, True]


async def test_worker_processes_report_back_and_stop(refused_port: int) -> None:
    """Two real worker processes: each reports ready, connects its screens when told
    (refused here: every screen's failure comes back, counted), and ends cleanly on stop."""
    pool = ClientPool(Target("127.0.0.1", refused_port, refused_port), screens(4), workers=2)
    try:
        async with asyncio.timeout(BOUND):
            await pool.start()
            assert all(w.ready.is_set() for w in pool.workers)
            await pool.connect(ids=[0, 1, 2])
            while pool.failures.total() < 3 or pool.counter("failed") < 3:
                await asyncio.sleep(0.02)
        assert pool.failures == {"refused": 3}
        assert pool.counter("attempts") == 3
    finally:
        await pool.stop()
    assert [w.process.returncode for w in pool.workers] == [0, 0]
    assert pool.crashed() == []
