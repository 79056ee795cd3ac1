"""The coordinator's side of the client processes: start them, command them, collect their rows.

Screens are spread round-robin over ``workers`` processes (one process holds
at most ~19,000 sockets under the 20,000 file-descriptor limit). When the
target is on loopback, each worker connects from loopback source addresses of
its own (127.0.0.2, .3, ...), as many as keep every address under
``PER_SOURCE`` sockets: a source address and target have about 28,000
ephemeral ports (``ip_local_port_range``), which 50,000 screens, or a
reconnect storm while the old connections are still closing, would exhaust.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Sockets one worker is given at most (file descriptors: 20,000 per process here).
MAX_PER_WORKER = 15_000
#: Sockets one loopback source address carries at most (a third of the ephemeral range:
#: room for the connections of a storm while the old ones are still closing).
PER_SOURCE = 10_000


def source_address(n: int) -> str:
    """The n-th loopback source address (n from 0): 127.0.0.2, ..., 127.0.0.254, 127.0.1.1, ...

    (All of 127/8 is loopback on Linux; 127.0.0.1 is left to everything else.)
    """
    third, fourth = divmod(n + 1, 254)
    return f"127.0.{third}.{fourth + 1}"


Row = list[Any]


@dataclass(frozen=True)
class Target:
    host: str
    ws_port: int
    http_port: int
    ws_path: str = "/ws/display/"
    status_path: str = "/api/display/status/"
    #: More gateway replicas: screen n connects to the (n mod replicas)-th port.
    more_ws_ports: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "ws_port": self.ws_port,
            "more_ws_ports": list(self.more_ws_ports),
            "http_port": self.http_port,
            "ws_path": self.ws_path,
            "status_path": self.status_path,
        }


@dataclass(frozen=True, slots=True)
class SimScreen:
    idx: int
    school: int
    token: str
    dk: str
    mode: str  # "ws" (push, polling as the fallback) or "poll" (polling only)


def workers_needed(screens: int, requested: int | None = None) -> int:
    if requested:
        return max(1, requested)
    return max(1, math.ceil(screens / MAX_PER_WORKER))


class _Worker:
    def __init__(self, index: int, process: asyncio.subprocess.Process) -> None:
        self.index = index
        self.process = process
        self.stats: dict[str, Any] = {}
        self.ready = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.stderr: list[str] = []


class ClientPool:
    def __init__(
        self,
        target: Target,
        screens: list[SimScreen],
        *,
        workers: int | None = None,
        cpus: list[int] | None = None,
        handshake_timeout: float = 10.0,
        poll_fallback: bool = True,
    ) -> None:
        self.target = target
        self.screens = screens
        self.count = workers_needed(len(screens), workers)
        self.cpus = cpus
        self.handshake_timeout = handshake_timeout
        self.poll_fallback = poll_fallback
        self.workers: list[_Worker] = []
        self.owner = {s.idx: s.idx % self.count for s in screens}
        self.listeners: list[Callable[[Row], None]] = []
        self.failures: Counter[str] = Counter()
        self.sources = self._sources()

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        for index in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hallboard.loadtest.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=1 << 26,
            )
            worker = _Worker(index, process)
            self.workers.append(worker)
            await self._write(worker, self.config(index))
            worker.reader = asyncio.create_task(self._read(worker))
            asyncio.create_task(self._read_stderr(worker))  # noqa: RUF006 - ends with the process
        for worker in self.workers:
            await asyncio.wait_for(worker.ready.wait(), 30)

    def config(self, index: int) -> dict[str, Any]:
        """What worker ``index`` is told at start (its first line on stdin)."""
        return {
            "target": self.target.to_json(),
            "screens": [
                [s.idx, s.school, s.token, s.dk, s.mode]
                for s in self.screens
                if self.owner[s.idx] == index
            ],
            "cpus": self.cpus,
            "sources": self.sources[index],
            "handshake_timeout": self.handshake_timeout,
            "poll_fallback": self.poll_fallback,
        }

    def _sources(self) -> list[list[str]]:
        """Each worker's loopback source addresses (none for another target)."""
        if self.target.host != "127.0.0.1":
            return [[] for _ in range(self.count)]
        ports = 1 + len(self.target.more_ws_ports)
        out, n = [], 0
        for index in range(self.count):
            # Per gateway port (screen n goes to port n mod ports, as the worker does):
            # each (source, target) pair has its own ephemeral range.
            per_port = Counter(s.idx % ports for s in self.screens if self.owner[s.idx] == index)
            count = max(1, math.ceil(max(per_port.values(), default=0) / PER_SOURCE))
            out.append([source_address(n + k) for k in range(count)])
            n += count
        return out

    async def stop(self, timeout: float = 10.0) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                await self._write(worker, {"cmd": "stop"})
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout)
            except TimeoutError:
                worker.process.kill()  # our own child, by its handle
                await worker.process.wait()
            if worker.reader is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.reader, 2)

    # --- commands -----------------------------------------------------------------------
    async def _write(self, worker: _Worker, message: dict[str, Any]) -> None:
        assert worker.process.stdin is not None
        worker.process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await worker.process.stdin.drain()

    async def send(self, command: dict[str, Any], ids: Iterable[int] | None = None) -> None:
        """Send ``command`` to every worker; with ``ids``, each gets only its own screens."""
        if ids is None:
            for worker in self.workers:
                await self._write(worker, command)
            return
        split: dict[int, list[int]] = {w.index: [] for w in self.workers}
        for idx in ids:
            split[self.owner[idx]].append(idx)
        for worker in self.workers:
            if split[worker.index]:
                await self._write(worker, {**command, "ids": split[worker.index]})

    async def connect(
        self, ids: Iterable[int] | None = None, rate: float = 0.0, inflight: int = 512
    ) -> None:
        """Open push sockets (all not open, or ``ids``) at ``rate`` per second in total."""
        per_worker_rate = rate / self.count if rate else 0.0
        per_worker_inflight = max(1, inflight // self.count)
        command = {"cmd": "connect", "rate": per_worker_rate, "inflight": per_worker_inflight}
        await self.send(command, ids)

    # --- events ---------------------------------------------------------------------------
    async def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        while True:
            line = await worker.process.stdout.readline()
            if not line:
                return
            message = json.loads(line)
            worker.stats = message.get("stats", worker.stats)
            worker.ready.set()
            for row in message.get("rows", ()):
                if row[1] == "f":
                    self.failures[row[2]] += 1
                for listener in self.listeners:
                    listener(row)

    async def _read_stderr(self, worker: _Worker) -> None:
        assert worker.process.stderr is not None
        while True:
            line = await worker.process.stderr.readline()
            if not line:
                return
            worker.stderr.append(line.decode(errors="replace").rstrip())
            del worker.stderr[:-50]

    # --- totals ---------------------------------------------------------------------------
    def total(self, key: str) -> int:
        return sum(int(w.stats.get(key, 0)) for w in self.workers)

    def counter(self, key: str) -> int:
        return sum(int(w.stats.get("counters", {}).get(key, 0)) for w in self.workers)

    def cpu_seconds(self) -> float:
        return sum(float(w.stats.get("cpu", 0.0)) for w in self.workers)

    def gc_pauses(self) -> dict[str, float]:
        """The client processes' own collector pauses: how many, and the longest (ms)."""
        longest = (float(w.stats.get("gc_longest_ms", 0.0)) for w in self.workers)
        return {"pauses": self.total("gc_pauses"), "longest_ms": max(longest, default=0.0)}

    def crashed(self) -> list[str]:
        """Stderr tails of workers that exited on their own."""
        return [
            "\n".join(w.stderr[-10:]) for w in self.workers if w.process.returncode not in (None, 0)
        ]
