"""The gateway's batched work behind callbacks: token lookups, writes, staff frames.

The database functions are replaced by recorders here (``tests/realtime/test_batches.py``
and ``test_deadlocks.py`` test them on a real database); what is checked is the batching:
what goes together, what happens when the database is away, and what follows a write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import OperationalError

from hallboard.realtime.core import node
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import Heartbeat
from hallboard.realtime.gateway import batches, db


class Tasks:
    """``spawn`` for the batchers, and a way to wait until everything spawned is done."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)
            pending = [t for t in self.tasks if not t.done()]
            if pending:
                await asyncio.gather(*pending)
        for task in self.tasks:
            task.result()  # raise what failed


@pytest.fixture
def executor() -> Any:
    pool = ThreadPoolExecutor(1)
    yield pool
    pool.shutdown()


async def test_handshakes_arriving_together_are_looked_up_by_one_query(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every handshake completed in one loop iteration joins one lookup, in order, up to the
    batch size; the next batch takes what queued meanwhile."""
    queries: list[list[tuple[str, str]]] = []

    def lookup(requests: list[tuple[str, str]]) -> list[db.Accepted | db.Refused]:
        queries.append(requests)
        return [db.Refused(CloseCode.INVALID_TOKEN)] * len(requests)

    monkeypatch.setattr(db, "authenticate_many", lookup)
    monkeypatch.setattr(db, "_fresh_connection", lambda func, *args: func(*args))
    admitted: list[tuple[list[str], list[Any]]] = []

    async def admit(batch: list[batches.Pending[str]], results: batches.Results) -> None:
        admitted.append(([p.sock for p in batch], results))

    tasks = Tasks()
    auth = batches.Authenticator[str](
        executor, tasks.spawn, admit, lambda batch: None, batch=3, concurrency=1
    )
    for n in range(5):
        auth.add(batches.Pending(f"s{n}", b"", f"t{n}", "device-0001"))
    await tasks.settle()
    assert queries == [
        [("t0", "device-0001"), ("t1", "device-0001"), ("t2", "device-0001")],
        [("t3", "device-0001"), ("t4", "device-0001")],
    ]
    assert [socks for socks, _ in admitted] == [["s0", "s1", "s2"], ["s3", "s4"]]


async def test_a_lookup_without_the_database_refuses_its_batch_with_1013(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database away: every socket of the batch is refused with 1013 (try again later),
    counted once."""

    def down(requests: list[tuple[str, str]]) -> list[db.Accepted | db.Refused]:
        raise OperationalError("connection refused")

    monkeypatch.setattr(db, "authenticate_many", down)
    monkeypatch.setattr(db, "_fresh_connection", lambda func, *args: func(*args))
    results: list[Any] = []

    async def admit(batch: list[batches.Pending[str]], found: batches.Results) -> None:
        results.extend(found)

    tasks = Tasks()
    auth = batches.Authenticator[str](
        executor, tasks.spawn, admit, lambda batch: None, batch=10, concurrency=1
    )
    auth.add(batches.Pending("a", b"", "t", "device-0001"))
    auth.add(batches.Pending("b", b"", "u", "device-0001"))
    await tasks.settle()
    assert results == [db.Refused(CloseCode.TRY_AGAIN_LATER)] * 2
    assert auth.errors == 1


async def test_staff_frames_of_a_round_go_out_in_one_publish_per_topic() -> None:
    """Frames queued in one loop iteration make one event per school and per user, all in
    one broker command."""
    published: list[list[tuple[str, bytes]]] = []

    async def publish(messages: list[tuple[str, bytes]]) -> None:
        published.append(messages)

    tasks = Tasks()
    frames = batches.StaffFrames(publish, tasks.spawn)
    frames.dashboard(1, {"n": 1})
    frames.dashboard(1, {"n": 2})
    frames.dashboard(2, {"n": 3})
    frames.user(7, {"n": 4})
    await tasks.settle()
    (command,) = published
    decoded = [(topic, json.loads(data)) for topic, data in command]
    assert [(t, e["e"], e["frames"]) for t, e in decoded] == [
        ("dash:1", "frames", [{"n": 1}, {"n": 2}]),
        ("dash:2", "frames", [{"n": 3}]),
        ("user:7", "frames", [{"n": 4}]),
    ]


async def test_what_the_node_stores_is_written_in_one_batch_then_told(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Heartbeats, acks, deliveries and disconnects queued together are one write; the
    heartbeat's dashboard frame and what became of the commands go out after it."""
    writes: list[db.Writes] = []

    def write(batch: db.Writes) -> db.Written:
        writes.append(batch)
        info = {"school": 1, "screen": 11, "id": 4, "status": "delivered", "user": 9}
        return db.Written(delivered=[info], acknowledged=[], rejected=[])

    monkeypatch.setattr(db, "write", write)
    monkeypatch.setattr(db, "_fresh_connection", lambda func, *args: func(*args))
    dash: list[tuple[int, dict[str, Any]]] = []
    users: list[tuple[int, dict[str, Any]]] = []
    tasks = Tasks()
    frames = batches.StaffFrames(lambda messages: asyncio.sleep(0), tasks.spawn)
    monkeypatch.setattr(frames, "dashboard", lambda s, f: dash.append((s, f)))
    monkeypatch.setattr(frames, "user", lambda u, f: users.append((u, f)))
    writer = batches.Writer(
        executor, tasks.spawn, frames, lambda *row: None, close_timeout=1.0, clock=lambda: 0.0
    )
    beat = Heartbeat(rev=5, mode="ws", uptime_s=1, health={})
    seen = {"type": "screen", "school": 1, "screen": 11, "event": "heartbeat"}
    writer.add(node.HeartbeatSeen(11, beat, seen))
    writer.add(node.CommandAcked(11, 3))
    writer.add(node.AlertAcked(11, 7, "shown"))
    writer.add(node.CommandsDelivered((4,)))
    writer.add(node.ScreenLeft(12))
    await tasks.settle()
    (batch,) = writes
    assert batch.heartbeats == {11: beat}
    assert (batch.acks, batch.alert_acks, batch.delivered) == ([(11, 3)], [(11, 7, "shown")], {4})
    assert list(batch.disconnected) == [12]
    command = {"type": "command", "school": 1, "screen": 11, "id": 4, "status": "delivered"}
    assert dash == [(1, seen), (1, command)]
    assert users == [(9, command)]
