"""The gateway's batched work: database lookups and writes, and staff frames to publish.

Batching is what keeps a reconnect storm cheap: sockets whose handshakes
arrive together are authenticated by one query (``Authenticator``), what
sockets report (heartbeats, acknowledgements, deliveries, disconnects) is
written by one transaction at a time (``Writer``), and the staff frames of a
round go out in one broker command (``StaffFrames``). A batch starts as soon as
the previous one is done, so under light load nothing waits, and under heavy
load batches grow instead of queues.

Each class knows only callbacks (``spawn`` a coroutine, what to do with a
result): none imports the gateway, the socket or the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError
from django.utils import timezone

from hallboard.realtime.core import events, node
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway import db

logger = logging.getLogger("hallboard.realtime.gateway")

S = TypeVar("S")
Spawn = Callable[[Coroutine[Any, Any, None]], None]
#: A row of a batch the database refused: (kind, what, error).
OnRejected = Callable[[str, str, str], None]


@dataclass(slots=True)
class Pending(Generic[S]):
    """A display socket handshaken and waiting for its token lookup."""

    sock: S
    handshake: bytes
    token: str
    device_key: str
    address: str = ""  # for hallboard.throttle


Results = list[db.Accepted | db.Refused]


class Authenticator(Generic[S]):
    """Token lookups, ``batch`` sockets per query, ``concurrency`` queries at once.

    ``admit(batch, results)`` gets every batch's answers (all 1013 when the database
    is away); ``abandon(batch)`` a batch whose lookup was cancelled (shutdown)."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        spawn: Spawn,
        admit: Callable[[list[Pending[S]], Results], Awaitable[None]],
        abandon: Callable[[list[Pending[S]]], None],
        *,
        batch: int,
        concurrency: int,
    ) -> None:
        self.executor, self.spawn, self.admit, self.abandon = executor, spawn, admit, abandon
        self.batch, self.concurrency = batch, concurrency
        self.errors = 0
        self._queue: list[Pending[S]] = []
        self._scheduled = False
        self._inflight = 0

    def add(self, pending: Pending[S]) -> None:
        self._queue.append(pending)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and self._queue:
            self._scheduled = True
            # call_soon: every handshake completed in this loop iteration joins the batch.
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        while self._queue and self._inflight < self.concurrency:
            batch = self._queue[: self.batch]
            del self._queue[: self.batch]
            self._inflight += 1
            self.spawn(self._authenticate(batch))

    async def _authenticate(self, batch: list[Pending[S]]) -> None:
        try:
            try:
                results = await db.run_db(
                    self.executor,
                    db.authenticate_many,
                    [(p.token, p.device_key) for p in batch],
                )
            except DatabaseError as exc:
                # The database is down (or deadlocked past the retries): displays keep
                # their last snapshot (stale banner) and retry with backoff.
                self.errors += 1
                logger.warning(
                    "%d display socket(s) refused with 1013: %s", len(batch), db.describe(exc)
                )
                results = [db.Refused(CloseCode.TRY_AGAIN_LATER)] * len(batch)
        except BaseException:
            self.abandon(batch)
            raise
        else:
            await self.admit(batch, results)
        finally:
            self._inflight -= 1
            self._schedule()


class StaffFrames:
    """Staff frames to publish: one ``frames`` event per school (or user) per round, all
    rounds' events in one broker command, one round at a time: a storm of ten thousand
    connects costs a few pipelined publishes, not ten thousand."""

    def __init__(
        self, publish: Callable[[list[tuple[str, bytes]]], Awaitable[None]], spawn: Spawn
    ) -> None:
        self.publish, self.spawn = publish, spawn
        self.stopped = False
        self._dash: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._user: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._scheduled = False

    def dashboard(self, school_id: int, frame: dict[str, Any]) -> None:
        self._dash[school_id].append(frame)
        self._schedule()

    def user(self, user_id: int, frame: dict[str, Any]) -> None:
        self._user[user_id].append(frame)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and (self._dash or self._user):
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.spawn, self._publish())

    async def _publish(self) -> None:
        try:
            while self._dash or self._user:
                dash, self._dash = self._dash, defaultdict(list)
                users, self._user = self._user, defaultdict(list)
                ts = time.time()
                out = [events.StaffFrames.dashboard(s, *f) for s, f in dash.items()]
                out += [events.StaffFrames.user(u, *f) for u, f in users.items()]
                await self.publish([(e.topic, events.encode(e, ts)) for e in out])
        finally:
            self._scheduled = False
            if not self.stopped:
                self._schedule()


class Writer:
    """What sockets report, written one transaction at a time; then the staff frames that
    wait for it (a heartbeat's, what became of a command) go out."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        spawn: Spawn,
        frames: StaffFrames,
        rejected: OnRejected,
        *,
        close_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.executor, self.spawn, self.frames, self.rejected = executor, spawn, frames, rejected
        self.close_timeout, self.clock = close_timeout, clock
        self.errors = 0
        self.stopped = False
        self._writes = db.Writes()
        self._after: list[tuple[int, dict[str, Any]]] = []  # (school, frame) once written
        self._writing = False

    def add(self, item: node.StoreItem) -> None:
        """One thing the node says to store (written with the next batch)."""
        w = self._writes
        if isinstance(item, node.HeartbeatSeen):
            w.heartbeats[item.screen] = item.message
            w.heartbeat_at[item.screen] = timezone.now()
            if item.frame is not None:
                self._after.append((item.frame["school"], item.frame))
        elif isinstance(item, node.CommandAcked):
            w.acks.append((item.screen, item.command))
        elif isinstance(item, node.AlertAcked):
            w.alert_acks.append((item.screen, item.alert, item.state))
        elif isinstance(item, node.CommandsDelivered):
            w.delivered.update(item.commands)
        else:
            w.disconnected[item.screen] = timezone.now()
        self._schedule()

    def connected(self, screen: int) -> None:
        """A display admitted (its hello sent): marked on push by the next batch, not by
        its token lookup (off the handshake's path: ``db.authenticate_many``)."""
        self._writes.connected[screen] = timezone.now()
        self._schedule()

    def _schedule(self) -> None:
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().call_soon(self.spawn, self._write())

    async def _write(self) -> None:
        try:
            while self._writes:
                batch, self._writes = self._writes, db.Writes()
                frames, self._after = self._after, []
                try:
                    written = await db.run_db(self.executor, db.write, batch)
                except DatabaseError as exc:
                    # Database away (or deadlocked past the retries). A lost heartbeat
                    # or ack must not drop the push channel; the next ones are written.
                    self.errors += 1
                    logger.warning("what screens reported was not written: %s", db.describe(exc))
                    continue
                for row in written.rejected:
                    self.rejected(row.kind, row.what, row.error)
                for school_id, frame in frames:
                    self.frames.dashboard(school_id, frame)
                for info in [*written.delivered, *written.acknowledged]:
                    user_id = info.pop("user")
                    frame = {"type": "command", **info}
                    self.frames.dashboard(info["school"], frame)
                    if user_id is not None:
                        self.frames.user(user_id, frame)
        finally:
            self._writing = False
            if self._writes and not self.stopped:
                self._schedule()

    async def flush(self) -> None:
        """At shutdown: let the batch being written finish, then write what is left, so no
        write runs in the database threads after the gateway has stopped."""
        self.stopped = True
        deadline = self.clock() + self.close_timeout
        while self._writing and self.clock() < deadline:
            await asyncio.sleep(0.01)
        if self._writes:
            with contextlib.suppress(Exception):
                await db.run_db(self.executor, db.write, self._writes)
            self._writes = db.Writes()
