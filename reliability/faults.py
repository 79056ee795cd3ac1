"""The fault run: replicas, screens pushing and polling, a writer, and one fault after another.

    python reliability/faults.py --replicas 3 --database-url postgres://postgres@127.0.0.1:5432/hb_faults

For each fault: the fault is injected, the writer keeps committing changes
through the management API for ``--fault-seconds``, the fault is repaired, the
writer goes on for a few seconds, and then every screen must come to show every
committed write (by revision) within ``--settle-seconds``. Reported per fault:
how long committed writes took to reach screens (push and poll screens apart),
how long after the repair every screen was current, what is missing (must be
nothing), and the close codes and answers seen. At the end: every announcement
the writer was answered for is in the database exactly once (no duplicate from
a retry, no write committed that was never answered).

Faults (``--fault`` to choose; those needing PostgreSQL are skipped on SQLite):

- ``redis-kill``: Redis SIGKILLed, started again on its port;
- ``redis-freeze``: Redis SIGSTOPped (the port accepts, nothing answers), then SIGCONT;
- ``replica-kill``: the last replica SIGKILLed, started again (screens fail over meanwhile);
- ``db-cut-one``: the database proxy of the last replica cut (PostgreSQL);
- ``db-cut-all``: every replica's database proxy cut (PostgreSQL);
- ``redis-and-db``: Redis killed and every database proxy cut; Redis comes back first;
- ``slow-clients``: sockets that never read what they are sent;
- ``flood-clients``: sockets that flood pings (before and after authentication) and messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from hallboard.loadtest import wsframes  # noqa: E402
from reliability.clients import Screen, Writer  # noqa: E402
from reliability.stack import Stack, fd_count, log, rss_bytes  # noqa: E402

FAULTS = [
    "redis-kill",
    "redis-freeze",
    "replica-kill",
    "db-cut-one",
    "db-cut-all",
    "redis-and-db",
    "slow-clients",
    "flood-clients",
]
NEEDS_POSTGRES = {"db-cut-one", "db-cut-all", "redis-and-db"}
NEEDS_REDIS = {"redis-kill", "redis-freeze", "redis-and-db"}
NEEDS_REPLICAS = {"replica-kill"}  # at least two: the screens fail over to another one
SPARE_PER_SCHOOL = 2  # seeded screens kept for the slow and flooding clients
#: The run's settings (the product's defaults, but a display's clock is shortened).
RUN_ENV = {
    # Screens poll every 2-6 s here instead of 8-45 s: allow them as many requests.
    "DISPLAY_RATE_LIMIT": "30/5second",
}


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


def process_figures(stack: Stack) -> dict[str, dict[str, int | None]]:
    return {
        name: {"rss_bytes": rss_bytes(pid), "fds": fd_count(pid)}
        for name, pid in stack.pids().items()
    }


# --- hostile clients ---
class RawClient:
    """A socket that completes the handshake and then misbehaves; reports how it ended."""

    def __init__(self, gateway: int, token: str, dk: str, behaviour: str) -> None:
        self.gateway = gateway
        self.token = token
        self.dk = dk
        self.behaviour = behaviour  # "slow", "ping-flood" or "message-flood"
        self.sent = 0
        self.dropped_after: float | None = None
        self.close_code: int | None = None
        self.status: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.gateway)
        except OSError:
            self.status = 0
            return
        key = wsframes.new_key()
        target = f"/ws/display/?token={self.token}&dk={self.dk}"
        writer.write(wsframes.handshake_request("127.0.0.1", self.gateway, target, key))
        buffer = bytearray()
        started = time.monotonic()
        try:
            while (parsed := wsframes.parse_handshake(buffer)) is None:
                chunk = await asyncio.wait_for(reader.read(4096), 10)
                if not chunk:
                    break
                buffer += chunk
            if parsed is not None:
                self.status = parsed[0].status
                buffer = buffer[parsed[1] :]
            started = time.monotonic()
            frames = {
                "ping-flood": wsframes.encode_frame(wsframes.OP_PING, b"x" * 100),
                "message-flood": wsframes.text(json.dumps({"type": "ping"})),
            }
            while not stop.is_set():
                if self.behaviour == "slow":
                    await asyncio.sleep(0.2)
                    if reader.at_eof():
                        break
                    continue
                writer.write(frames[self.behaviour] * 20)
                self.sent += 20
                await asyncio.wait_for(writer.drain(), 5)
        except (OSError, TimeoutError, wsframes.FrameError):
            self.dropped_after = round(time.monotonic() - started, 2)
        finally:
            self.close_code = await self._close_code(reader, bytes(buffer))
            writer.close()

    async def _close_code(self, reader: asyncio.StreamReader, buffered: bytes) -> int | None:
        """The close code the server sent, from what the client never read (None: none)."""
        parser = wsframes.FrameParser()
        data = buffered
        try:
            while len(data) < 1 << 22:
                chunk = await asyncio.wait_for(reader.read(65536), 0.5)
                if not chunk:
                    break
                data += chunk
        except (OSError, TimeoutError):
            pass
        try:
            for opcode, payload in parser.feed(data):
                if opcode == wsframes.OP_CLOSE:
                    return wsframes.parse_close(payload)[0]
        except wsframes.FrameError:
            return None
        return None


# --- the run ---
class FaultRun:
    def __init__(self, stack: Stack, args: argparse.Namespace) -> None:
        self.stack = stack
        self.args = args
        self.rng = random.Random(args.seed)
        screens = stack.screens()
        spare = {
            s["dk"]
            for school in stack.seed["schools"]
            for s in school["screens"][-SPARE_PER_SCHOOL:]
        }
        self.spare = [s for s in screens if s["dk"] in spare]
        endpoints = stack.endpoints()
        self.screens = [
            Screen(
                token=s["token"],
                dk=s["dk"],
                school=s["school"],
                endpoints=endpoints,
                home=i,
                push=i % 2 == 0,
                poll_min=args.poll_min,
                poll_max=args.poll_max,
                rng=random.Random(self.rng.random()),
            )
            for i, s in enumerate(x for x in screens if x["dk"] not in spare)
        ]
        self.writer = Writer(
            stack.api_key,
            endpoints,
            [school["slug"] for school in stack.seed["schools"]],
            interval=args.write_interval,
        )

    async def run(self, faults: list[str]) -> dict[str, Any]:
        stop = asyncio.Event()
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=500)) as client:
            tasks = [asyncio.create_task(s.run(client, stop)) for s in self.screens]
            phases: list[dict[str, Any]] = []
            try:
                for fault in ["none", *faults] if self.args.baseline else faults:
                    phases.append(await self.phase(client, fault, self.args.fault_seconds))
                counts = await self.writer.announcements(client)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        answered = len({c.key for c in self.writer.commits})
        return {
            "phases": phases,
            "screens": {
                "push": sum(s.push for s in self.screens),
                "poll": sum(not s.push for s in self.screens),
            },
            "writes": {
                "answered": answered,
                "never_answered": len(self.writer.pending),
                "announcements_in_database": sum(counts.values()),
                "attempts": self.writer.attempts,
            },
            "closes": dict(sum((s.closes for s in self.screens), Counter())),
        }

    async def phase(self, client: httpx.AsyncClient, fault: str, seconds: float) -> dict[str, Any]:
        args = self.args
        log(f"fault {fault}: {seconds:.0f} s, then repaired")
        first_commit = len(self.writer.commits)
        closes_before = sum((s.closes for s in self.screens), Counter())
        statuses_before = Counter(self.writer.statuses)
        figures_before = process_figures(self.stack)
        stop_writer = asyncio.Event()
        writer = asyncio.create_task(
            self.writer.run(client, stop_writer, retry_for=seconds + args.settle_seconds)
        )
        hostile_stop = asyncio.Event()
        hostile = await self.inject(fault, hostile_stop)
        await asyncio.sleep(seconds)
        figures_during = process_figures(self.stack)
        repaired_at = await self.repair(fault)
        hostile_stop.set()
        await asyncio.sleep(args.after_seconds)
        stop_writer.set()
        await writer
        commits = self.writer.commits[first_commit:]
        target: dict[str, int] = {}
        for c in commits:
            target[c.school] = max(target.get(c.school, 0), c.rev)
        deadline = time.monotonic() + args.settle_seconds
        while time.monotonic() < deadline and not all(
            s.rev >= target.get(s.school, 0) for s in self.screens
        ):
            await asyncio.sleep(0.1)
        if hostile:
            await asyncio.gather(*(c.task for c in hostile), return_exceptions=True)
        latencies: dict[str, list[float]] = {"push": [], "poll": []}
        missing = 0
        for c in commits:
            for s in self.screens:
                if s.school != c.school:
                    continue
                reached = s.reached_at(c.rev)
                if reached is None:
                    missing += 1
                else:
                    latencies["push" if s.push else "poll"].append(max(0.0, reached - c.at) * 1000)
        last_commit = {c.school: c.at for c in commits}
        current_at = [
            (s.reached_at(target[s.school]), last_commit[s.school])
            for s in self.screens
            if s.school in target
        ]
        everywhere = (
            round(max(max(0.0, r - at) for r, at in current_at if r is not None), 2)
            if current_at and all(r is not None for r, _ in current_at)
            else None
        )
        during = [
            max(0.0, (s.reached_at(c.rev) or deadline) - c.at) * 1000
            for c in commits
            if c.at < repaired_at
            for s in self.screens
            if s.school == c.school
        ]
        closes = sum((s.closes for s in self.screens), Counter())
        closes.subtract(closes_before)
        statuses = Counter(self.writer.statuses)
        statuses.subtract(statuses_before)
        return {
            "fault": fault,
            "fault_s": seconds,
            "commits": len(commits),
            "deliveries_expected": sum(
                1 for c in commits for s in self.screens if s.school == c.school
            ),
            "missing": missing,
            "convergence_ms": {kind: percentiles(v) for kind, v in latencies.items()},
            "last_write_everywhere_s": everywhere,
            "max_ms_committed_during_fault": round(max(during), 1) if during else None,
            "writer_answers": {k: v for k, v in statuses.items() if v},
            "screen_closes": {str(k): v for k, v in closes.items() if v},
            "processes_before": figures_before,
            "processes_during": figures_during,
            "processes_after": process_figures(self.stack),
            "hostile": [c.report() for c in hostile],
        }

    # --- faults ---
    async def inject(self, fault: str, stop: asyncio.Event) -> list[Hostile]:
        stack = self.stack
        redis = stack.redis_server
        last = stack.nodes[-1]
        if fault in ("redis-kill", "redis-and-db") and redis is not None:
            redis.kill()
        elif fault == "redis-freeze" and redis is not None:
            redis.freeze()
        elif fault == "replica-kill":
            stack.kill_replica(last.index)
        elif fault == "db-cut-one" and last.proxy is not None:
            last.proxy.cut()
        if fault in ("db-cut-all", "redis-and-db"):
            for node in stack.nodes:
                if node.proxy is not None:
                    node.proxy.cut()
        if fault in ("slow-clients", "flood-clients"):
            return self.hostile(fault, stop)
        return []

    async def repair(self, fault: str) -> float:
        stack = self.stack
        redis = stack.redis_server
        last = stack.nodes[-1]
        if fault == "redis-kill" and redis is not None:
            redis.start()
        elif fault == "redis-freeze" and redis is not None:
            redis.thaw()
        elif fault == "replica-kill":
            await asyncio.to_thread(stack.restart_replica, last.index)
        elif fault == "db-cut-one" and last.proxy is not None:
            last.proxy.restore()
        elif fault == "db-cut-all":
            for node in stack.nodes:
                if node.proxy is not None:
                    node.proxy.restore()
        elif fault == "redis-and-db" and redis is not None:
            redis.start()  # Redis first: the resync then finds the database still away
            await asyncio.sleep(min(3.0, self.args.fault_seconds / 2))
            for node in stack.nodes:
                if node.proxy is not None:
                    node.proxy.restore()
        return time.monotonic()

    def hostile(self, fault: str, stop: asyncio.Event) -> list[Hostile]:
        clients: list[Hostile] = []
        behaviours = ["slow"] if fault == "slow-clients" else ["ping-flood", "message-flood"]
        for i, screen in enumerate(self.spare):
            node = self.stack.nodes[i % len(self.stack.nodes)]
            behaviour = behaviours[i % len(behaviours)]
            clients.append(
                Hostile(RawClient(node.gateway, screen["token"], screen["dk"], behaviour), stop)
            )
        if fault == "flood-clients":  # and one flood before authentication, with a random token
            node = self.stack.nodes[0]
            token = "hbs_" + "".join(self.rng.choices("abcdefghijkmnopqrstuvwxyz", k=32))
            clients.append(
                Hostile(RawClient(node.gateway, token, "nobody-0001", "ping-flood"), stop)
            )
        return clients


class Hostile:
    def __init__(self, client: RawClient, stop: asyncio.Event) -> None:
        self.client = client
        self.task = asyncio.create_task(client.run(stop))

    def report(self) -> dict[str, Any]:
        c = self.client
        return {
            "behaviour": c.behaviour,
            "authenticated": not c.dk.startswith("nobody"),
            "handshake_status": c.status,
            "frames_sent": c.sent,
            "dropped_after_s": c.dropped_after,
            "close_code": c.close_code,
        }


def applicable(faults: list[str], stack: Stack) -> tuple[list[str], dict[str, str]]:
    run, skipped = [], {}
    for fault in faults:
        if fault in NEEDS_POSTGRES and not stack.database_url:
            skipped[fault] = "needs PostgreSQL"
        elif fault in NEEDS_REDIS and not stack.redis:
            skipped[fault] = "needs Redis"
        elif fault in NEEDS_REPLICAS and stack.replicas < 2:
            skipped[fault] = "needs two replicas"
        else:
            run.append(fault)
    return run, skipped


def run_faults(args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(
        replicas=args.replicas,
        database_url=args.database_url,
        redis=not args.no_redis,
        schools=args.schools,
        screens_per_school=args.screens + SPARE_PER_SCHOOL,
        env_extra=dict(RUN_ENV),
        keep=args.keep_logs,
    )
    started = time.time()
    with stack:
        faults, skipped = applicable(args.fault or FAULTS, stack)
        result = asyncio.run(FaultRun(stack, args).run(faults))
        result["tracebacks_logged"] = stack.tracebacks()
        if args.keep_logs:
            result["work"] = str(stack.work)
    result.update(
        {
            "skipped": skipped,
            "settings": {
                "replicas": args.replicas,
                "database": "PostgreSQL" if args.database_url else "SQLite",
                "redis": not args.no_redis,
                "schools": args.schools,
                "screens_per_school": args.screens,
                "fault_s": args.fault_seconds,
                "after_s": args.after_seconds,
                "settle_s": args.settle_seconds,
                "write_interval_s": args.write_interval,
                "poll_s": [args.poll_min, args.poll_max],
                "env": RUN_ENV,
                "seed": args.seed,
            },
            "elapsed_s": round(time.time() - started, 1),
        }
    )
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--database-url", default=os.environ.get("RELIABILITY_DATABASE_URL"))
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--schools", type=int, default=2)
    p.add_argument("--screens", type=int, default=8, help="screens per school")
    p.add_argument("--fault", action="append", choices=FAULTS)
    p.add_argument("--fault-seconds", type=float, default=8.0)
    p.add_argument("--after-seconds", type=float, default=3.0)
    p.add_argument("--settle-seconds", type=float, default=30.0)
    p.add_argument("--write-interval", type=float, default=1.0)
    p.add_argument("--poll-min", type=float, default=2.0)
    p.add_argument("--poll-max", type=float, default=6.0)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument(
        "--no-baseline", dest="baseline", action="store_false", help="no phase without a fault"
    )
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--json", type=Path, help="write the result here")
    return p


def main() -> None:
    args = parser().parse_args()
    result = run_faults(args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
