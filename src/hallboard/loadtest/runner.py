"""A load run: connect the simulated screens, play the scenarios, measure, report.

The seven scenarios of the seeds' load-test plan (seed 004), in the order
``all`` runs them (see docs/loadtest.md for what each measures):

``connect``  ramp every push screen in; connects/s, handshake latency, failures.
``sync``     several edits to one school: every screen of it, and their spread.
``latency``  per-school push latency: edits at a rate over many schools.
``push-all`` one edit to every school at once: the last screen, and none lost.
``poll``     push turned off: sockets close with 4409, screens converge by polling,
             reconnects are refused with 4409; then push back on.
``churn``    concurrent load: sockets closing and reopening while edits go on.
``storm``    every socket dropped (or the server killed): until every screen is
             back and current.

Every phase is bounded in time. Any expected delivery that did not arrive is
listed in the result (edit, school, screen): never hidden.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hallboard.loadtest import procstat, stats
from hallboard.loadtest.clients import ClientPool, SimScreen, Target
from hallboard.loadtest.deliveries import PUSH, Edit, Tracker
from hallboard.loadtest.fleet import Fleet
from hallboard.loadtest.server import ServerProcess
from hallboard.loadtest.triggers import Trigger, in_thread, revisions
from hallboard.realtime.core.close_codes import BACKOFF_SECONDS

SCENARIOS = ("connect", "sync", "latency", "push-all", "poll", "churn", "storm")
HELLO_OR_PUSH = frozenset({"h", "i", "a"})
POLL_OR_PUSH = frozenset({"p", "i", "a", "h"})
MAX_MISSING_LISTED = 50


@dataclass
class RunOptions:
    target: Target
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    screens: int | None = None  # None: every screen of the fleet
    push_share: float = 0.9  # the rest poll only
    rate: float = 0.0  # connects per second while ramping (0: as fast as in-flight allows)
    inflight: int = 512  # handshakes in flight at once
    workers: int | None = None
    client_cpus: list[int] | None = None
    server_pids: list[int] = field(default_factory=list)
    handshake_timeout: float = 10.0
    connect_timeout: float = 120.0
    hold: float = 0.0  # idle seconds after connecting (memory, idle CPU)
    warmup: int = 0  # connections opened before the memory baseline is taken
    delivery_timeout: float = 10.0
    school_gap: float = 2.5  # at least this long between edits of one school (coalescing)
    sync_edits: int = 5
    latency_edits: int = 200
    latency_rate: float = 50.0
    push_all_repeat: int = 3
    poll_min: float = 8.0
    poll_max: float = 45.0
    poll_edits: int = 10
    churn_duration: float = 20.0
    churn_share: float = 0.02  # of the push sockets closed and reopened per second
    churn_edit_rate: float = 5.0
    storm: str = "drop"  # or "kill" (needs `server`)
    storm_timeout: float = 60.0
    max_duration: float = 900.0
    seed: int = 1


Progress = Callable[[str, float, float, str], None]  # phase, done, total, detail


def _noop(phase: str, done: float, total: float, detail: str) -> None:
    pass


def select_screens(fleet: Fleet, count: int | None, push_share: float) -> list[SimScreen]:
    """The first ``count`` screens (whole schools first), every n-th one polling only.

    Polling screens are spread evenly (for a 0.9 push share, every tenth screen).
    """
    creds = sorted(fleet.screens, key=lambda c: (c.school, c.id))
    if count is not None:
        if count > len(creds):
            raise ValueError(f"{count} screens asked, the load-test file has {len(creds)}")
        creds = creds[:count]
    poll_share = 1.0 - push_share
    out = []
    for n, c in enumerate(creds):
        polling = int((n + 1) * poll_share + 1e-9) > int(n * poll_share + 1e-9)
        out.append(SimScreen(n, c.school, c.token, c.dk, "poll" if polling else "ws"))
    return out


class LoadRun:
    def __init__(
        self,
        fleet: Fleet,
        trigger: Trigger,
        options: RunOptions,
        *,
        server: ServerProcess | None = None,
        progress: Progress = _noop,
    ) -> None:
        self.fleet = fleet
        self.trigger = trigger
        self.options = options
        self.server = server
        self.progress = progress
        self.random = random.Random(options.seed)  # noqa: S311 - reproducible choices, not crypto
        self.screens = select_screens(fleet, options.screens, options.push_share)
        self.by_school: dict[int, list[SimScreen]] = {}
        for s in self.screens:
            self.by_school.setdefault(s.school, []).append(s)
        self.ws_ids = [s.idx for s in self.screens if s.mode == "ws"]
        self.poll_ids = [s.idx for s in self.screens if s.mode == "poll"]
        self.tracker = Tracker()
        self.open: set[int] = set()
        #: school → its push screens open now, kept as rows arrive: an edit looks up its
        #: school's screens without walking every screen (at 50,000 screens that walk held
        #: the GIL for milliseconds, and the publishing thread waited behind it).
        self._push_school = {s.idx: s.school for s in self.screens if s.mode == "ws"}
        self._open_by_school: dict[int, set[int]] = {}
        self.latest: dict[int, int] = {}
        self.hello_latency: list[tuple[float, float]] = []  # (hello time, seconds since attempt)
        self.fail_rows: list[tuple[float, str]] = []
        self.close_rows: list[tuple[float, int, int]] = []  # (time, screen, code)
        self.poll_errors: Counter[str] = Counter()
        self.last_edit: dict[int, float] = {}
        self.pool = ClientPool(
            options.target,
            self.screens,
            workers=options.workers,
            cpus=options.client_cpus,
            handshake_timeout=options.handshake_timeout,
        )
        self.pool.listeners.append(self._on_row)
        self.deadline = 0.0
        self.results: dict[str, Any] = {}

    # --- rows from the clients -------------------------------------------------------------
    def _on_row(self, row: list[Any]) -> None:
        idx, kind, value, t = row[0], row[1], row[2], row[3]
        if kind in ("h", "i", "a", "p"):
            if isinstance(value, int):
                self.latest[idx] = max(self.latest.get(idx, 0), value)
                self.tracker.observe(idx, kind, value, t)
            if kind == "h":
                self._opened(idx)
                self.hello_latency.append((t, t - row[4]))
        elif kind == "c":
            self._closed(idx)
            self.close_rows.append((t, idx, int(value)))
        elif kind == "f":
            self.fail_rows.append((t, str(value)))
        elif kind == "e":
            self.poll_errors[str(value)] += 1

    # --- helpers ------------------------------------------------------------------------------
    def _remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def _wait(
        self,
        done: Callable[[], bool],
        timeout: float,
        phase: str,
        total: float,
        count: Callable[[], float],
    ) -> bool:
        """Poll ``done`` every 50 ms up to ``timeout`` (and the run's deadline)."""
        end = time.monotonic() + min(timeout, self._remaining())
        while not done():
            self.progress(phase, count(), total, "")
            if time.monotonic() > end:
                return False
            await asyncio.sleep(0.05)
        self.progress(phase, count(), total, "")
        return True

    def _failures_since(self, t0: float, until: float | None = None) -> dict[str, int]:
        counts = Counter(r for t, r in self.fail_rows if t >= t0 and (until is None or t < until))
        return dict(counts.most_common())

    def _server_sample(self) -> dict[int, procstat.Sample | None]:
        return procstat.sample_all(self._server_pids())

    def _server_pids(self) -> list[int]:
        pids = list(self.options.server_pids)
        if self.server is not None and self.server.process is not None:
            pids = self.server.pids()  # the gateways of a supervisor, not the supervisor
        return pids

    def _opened(self, idx: int) -> None:
        self.open.add(idx)
        school = self._push_school.get(idx)
        if school is not None:
            self._open_by_school.setdefault(school, set()).add(idx)

    def _closed(self, idx: int) -> None:
        self.open.discard(idx)
        school = self._push_school.get(idx)
        if school is not None:
            screens = self._open_by_school.get(school)
            if screens is not None:
                screens.discard(idx)
                if not screens:
                    del self._open_by_school[school]

    def _open_ws_of(self, school: int) -> list[int]:
        """The school's push screens open now, in screen order."""
        return sorted(self._open_by_school.get(school, ()))

    def _open_ws_by_school(self) -> dict[int, list[int]]:
        """Every school with an open push screen → those screens, in screen order."""
        return {school: sorted(screens) for school, screens in sorted(self._open_by_school.items())}

    def _missing(self, edit_ids: list[int]) -> list[dict[str, Any]]:
        wanted = set(edit_ids)
        out = []
        for e, screen in self.tracker.missing():
            if e in wanted:
                edit = self.tracker.edits[e]
                out.append({"edit": e, "school": edit.school, "rev": edit.rev, "screen": screen})
        return out

    def _delivery_result(
        self,
        edit_ids: list[int],
        expected: int,
        missing: list[dict[str, Any]],
        kinds: frozenset[str] = PUSH,
    ) -> dict[str, Any]:
        return {
            "edits": len(edit_ids),
            "expected": expected,
            "delivered": self.tracker.delivered(edit_ids),
            "missing": len(missing),
            "missing_list": missing[:MAX_MISSING_LISTED],
            "latency_ms": stats.summary(self.tracker.latencies(edit_ids, kinds), scale=1000),
        }

    async def _settle_deliveries(
        self, edit_ids: list[int], expected: int, phase: str, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Wait until nothing the phase expects is outstanding (or the timeout); the missing."""
        await self._wait(
            lambda: self.tracker.outstanding == 0,
            self.options.delivery_timeout if timeout is None else timeout,
            phase,
            expected,
            lambda: self.tracker.delivered(edit_ids),
        )
        await asyncio.sleep(0.1)  # the last batch of rows in flight
        return self._missing(edit_ids)

    def _record_edits(self, edits: list[Edit]) -> list[int]:
        ids = []
        for edit in edits:
            ids.append(self.tracker.add_edit(edit))
            self.last_edit[edit.school] = time.monotonic()
        return ids

    async def _edit(self, school_ids: list[int]) -> list[int]:
        return self._record_edits(await self.trigger.edit(school_ids))

    def _next_eligible(self, schools: list[int], start: int) -> int | None:
        """The index of the first school from ``start`` on (wrapping round) not edited
        within the school gap; None when every one was."""
        now = time.monotonic()
        n = len(schools)
        for i in range(start, start + n):
            if self._free(schools[i % n], now):
                return i % n
        return None

    def _eligible(self, schools: list[int]) -> list[int]:
        now = time.monotonic()
        return [s for s in schools if self._free(s, now)]

    def _free(self, school: int, now: float) -> bool:
        """Not edited within the school gap (a second edit sooner would be coalesced)."""
        return now - self.last_edit.get(school, -1e9) >= self.options.school_gap

    # --- the run ---------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        o = self.options
        self.deadline = time.monotonic() + o.max_duration
        started = time.time()
        await self.trigger.start(self.fleet)
        await self.pool.start()
        problems: list[str] = []
        try:
            await self.pool.send(
                {"cmd": "poll", "min": o.poll_min, "max": o.poll_max, "stagger": o.poll_min}
            )
            self.results["connect"] = await self.connect()
            for name in o.scenarios:
                if name == "connect":
                    continue
                if self._remaining() <= 0:
                    problems.append(f"{name}: not run, the run's time bound was reached")
                    continue
                method = getattr(self, name.replace("-", "_"))
                self.results[name] = await method()
        finally:
            client_cpu = self.pool.cpu_seconds()
            client_gc = self.pool.gc_pauses()
            crashed = self.pool.crashed()
            await self.pool.stop()
            await self.trigger.close()
        problems += [f"client process failed:\n{c}" for c in crashed]
        problems += _problems(self.results)
        return {
            "started_at": started,
            "duration_s": round(time.time() - started, 3),
            "target": o.target.to_json(),
            "trigger": self.trigger.name,
            "screens": len(self.screens),
            "push_screens": len(self.ws_ids),
            "poll_screens": len(self.poll_ids),
            "schools": len(self.by_school),
            "client_processes": self.pool.count,
            "client_cpu_s": round(client_cpu, 3),
            "client_gc": client_gc,
            "server_pids": self._server_pids(),
            "scenarios": self.results,
            "ok": not problems,
            "problems": problems,
        }

    # --- scenarios -------------------------------------------------------------------------------
    async def connect(self) -> dict[str, Any]:
        o = self.options
        warm = self.ws_ids[: o.warmup]
        if warm:
            await self.pool.connect(warm, inflight=o.inflight)
            await self._wait(
                lambda: all(i in self.open for i in warm) or len(self.fail_rows) >= len(warm),
                30,
                "warm-up",
                len(warm),
                lambda: len(self.open),
            )
            await asyncio.sleep(0.5)
        rest = [i for i in self.ws_ids if i not in self.open]
        before = self._server_sample()
        slab_before = procstat.slab()
        cpu_client = self.pool.cpu_seconds()
        machine_before = procstat.cpu_jiffies()
        t0 = time.time()
        hello_mark = len(self.hello_latency)
        await self.pool.connect(rest, rate=o.rate, inflight=o.inflight)
        total = len(rest)
        fail_mark = len(self.fail_rows)

        def attempts_over() -> int:
            return len(self.hello_latency) - hello_mark + len(self.fail_rows) - fail_mark

        await self._wait(
            lambda: attempts_over() >= total,
            o.connect_timeout,
            "connect",
            total,
            lambda: len(self.hello_latency) - hello_mark,
        )
        hellos = self.hello_latency[hello_mark:]
        connected = len(hellos)
        elapsed = (max(t for t, _ in hellos) - t0) if hellos else 0.0
        after_connect = self._server_sample()
        machine_busy = procstat.cpu_busy(machine_before, procstat.cpu_jiffies())
        client_cpu = self.pool.cpu_seconds() - cpu_client
        result: dict[str, Any] = {
            "attempted": total,
            "connected": connected,
            "warmup": len(warm),
            "failures": self._failures_since(t0),
            "elapsed_s": round(elapsed, 3),
            "connects_per_s": stats.rate(connected, elapsed),
            "handshake_ms": stats.summary((d for _, d in hellos), scale=1000),
            "client_cpu_s": round(client_cpu, 3),
            "server": procstat.delta(before, after_connect),
            # Every CPU of the machine: whatever shares one with the load generator
            # (a database, Redis, the kernel's loopback work) shows here.
            "machine_cpu_busy": machine_busy,
        }
        if o.hold > 0:
            await asyncio.sleep(min(o.hold, self._remaining()))
            after_hold = self._server_sample()
            idle = procstat.delta(after_connect, after_hold)
            result["idle"] = {
                "seconds": o.hold,
                "server_cpu_share": None
                if idle["cpu_s"] is None
                else round(idle["cpu_s"] / o.hold, 4),
            }
            held = procstat.delta(before, after_hold)
            if held["rss_delta_bytes"] is not None and connected:
                result["kib_per_connection"] = round(held["rss_delta_bytes"] / connected / 1024, 2)
        # The kernel's side (both ends of every loopback connection, and whatever else
        # the machine did meanwhile): the slab caches' growth over connect and hold.
        result["slab"] = procstat.slab_delta(slab_before, procstat.slab())
        return result

    async def sync(self) -> dict[str, Any]:
        """Several edits to one school: all its screens hear each, nearly at the same time."""
        by_school = self._open_ws_by_school()
        if not by_school:
            return {"skipped": "no open push socket"}
        school = max(by_school, key=lambda s: len(by_school[s]))
        edit_ids: list[int] = []
        spreads = []
        expected = 0
        for n in range(self.options.sync_edits):
            wait = self.options.school_gap - (time.monotonic() - self.last_edit.get(school, -1e9))
            if wait > 0:
                await asyncio.sleep(wait)
            screens = self._open_ws_of(school)
            (edit,) = await self._edit([school])
            self.tracker.expect(edit, screens)
            expected += len(screens)
            edit_ids.append(edit)
            await self._settle_deliveries([edit], len(screens), f"sync {n + 1}")
            got = [
                self.tracker.latency[(edit, s)]
                for s in screens
                if (edit, s) in self.tracker.latency
            ]
            if got:
                spreads.append(max(got) - min(got))
        missing = self._missing(edit_ids)
        self.tracker.forget_pending()
        result = self._delivery_result(edit_ids, expected, missing)
        result["school"] = school
        result["screens"] = len(by_school[school])
        result["spread_ms"] = stats.summary(spreads, scale=1000)
        return result

    async def latency(self) -> dict[str, Any]:
        """Edits at ``latency_rate`` per second over many schools; every screen's latency."""
        o = self.options
        schools = list(self._open_ws_by_school())
        if not schools:
            return {"skipped": "no open push socket"}
        self.random.shuffle(schools)
        edit_ids: list[int] = []
        expected = 0
        pending: list[asyncio.Task[None]] = []
        t0 = time.monotonic()
        rotation = 0

        async def fire(school: int, screens: list[int]) -> None:
            nonlocal expected
            (edit,) = await self._edit([school])
            self.tracker.expect(edit, screens)
            expected += len(screens)
            edit_ids.append(edit)

        for n in range(o.latency_edits):
            due = t0 + n / o.latency_rate
            while True:
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                found = self._next_eligible(schools, rotation)
                if found is not None or self._remaining() <= 0:
                    break
                due = time.monotonic() + 0.05  # every school was edited too recently: wait
            if found is None:
                break
            school = schools[found]
            rotation = (found + 1) % len(schools)
            self.last_edit[school] = time.monotonic()
            screens = self._open_ws_of(school)
            pending.append(asyncio.create_task(fire(school, screens)))
            self.progress("latency: edits", n + 1, o.latency_edits, "")
        await asyncio.gather(*pending)
        fired_s = time.monotonic() - t0
        missing = await self._settle_deliveries(edit_ids, expected, "latency: deliveries")
        self.tracker.forget_pending()
        result = self._delivery_result(edit_ids, expected, missing)
        result["edit_rate"] = stats.rate(len(edit_ids), fired_s)
        return result

    async def push_all(self) -> dict[str, Any]:
        """One edit to every school at once (one transaction): every push screen hears it."""
        o = self.options
        rounds: list[dict[str, Any]] = []
        all_edits: list[int] = []
        expected_total = 0
        for n in range(o.push_all_repeat):
            by_school = self._open_ws_by_school()
            schools = sorted(by_school)
            if not schools:
                return {"skipped": "no open push socket"}
            wait = max(
                (o.school_gap - (time.monotonic() - self.last_edit.get(s, -1e9)) for s in schools),
                default=0,
            )
            if wait > 0:
                await asyncio.sleep(wait)
            before = self._server_sample()
            edit_ids = await self._edit(schools)
            publish_s = self.trigger.last_publish_s
            expected = 0
            for edit in edit_ids:
                screens = by_school[self.tracker.edits[edit].school]
                self.tracker.expect(edit, screens)
                expected += len(screens)
            missing = await self._settle_deliveries(edit_ids, expected, f"push-all {n + 1}")
            after = self._server_sample()
            delivered = self.tracker.delivered(edit_ids)
            lat = self.tracker.latencies(edit_ids)
            used = procstat.delta(before, after)
            cpu = used["cpu_s"]
            rounds.append(
                {
                    "expected": expected,
                    "delivered": delivered,
                    "missing": len(missing),
                    "last_ms": round(max(lat) * 1000, 3) if lat else None,
                    "latency_ms": stats.summary(lat, scale=1000),
                    "publish_ms": None if publish_s is None else round(publish_s * 1000, 3),
                    "server_cpu_s": None if cpu is None else round(cpu, 4),
                    "server_cpu_us_per_delivery": (
                        None if cpu is None or not delivered else round(cpu / delivered * 1e6, 2)
                    ),
                    "server_cpu_system_share": used["system_share"],
                }
            )
            all_edits += edit_ids
            expected_total += expected
        missing = self._missing(all_edits)
        self.tracker.forget_pending()
        result = self._delivery_result(all_edits, expected_total, missing)
        result["rounds"] = rounds
        result["last_ms"] = stats.summary(
            [r["last_ms"] for r in rounds if r["last_ms"] is not None]
        )
        return result

    async def poll(self) -> dict[str, Any]:
        """Push off → 4409 → polling converges; reconnects refused with 4409; push back on."""
        o = self.options
        schools = sorted(self.by_school)
        ws_open = [i for i in self.ws_ids if i in self.open]
        all_ids = [s.idx for s in self.screens]
        converge_timeout = o.poll_max * 1.5 + o.delivery_timeout
        t0 = time.time()
        try:
            off_edits = self._record_edits(await self.trigger.set_push(schools, on=False))
        except NotImplementedError:
            return {"skipped": f"the {self.trigger.name} trigger cannot turn push off"}
        closed_ok = await self._wait(
            lambda: not any(i in self.open for i in ws_open),
            o.delivery_timeout,
            "poll: sockets closed",
            len(ws_open),
            lambda: len(ws_open) - len(self.open),
        )
        opened = set(ws_open)
        codes = Counter(code for t, idx, code in self.close_rows if t >= t0 and idx in opened)
        # Every screen (push or not) converges on the revision of the push-off edit by polling.
        for edit in off_edits:
            school = self.tracker.edits[edit].school
            self.tracker.expect(edit, [s.idx for s in self.by_school[school]], POLL_OR_PUSH)
        missing_off = await self._settle_deliveries(
            off_edits, len(all_ids), "poll: converge", converge_timeout
        )
        self.tracker.forget_pending()
        # Refused: push screens trying again get 4409 and keep polling.
        t1 = time.time()
        await self.pool.connect(ws_open, inflight=o.inflight)
        await self._wait(
            lambda: sum(self._failures_since(t1).values()) + len(self.open) >= len(ws_open),
            o.delivery_timeout,
            "poll: refused",
            len(ws_open),
            lambda: sum(self._failures_since(t1).values()),
        )
        refused = self._failures_since(t1)
        # Edits while push is off reach every screen of those schools by polling.
        chosen = self._eligible(schools)[: o.poll_edits]
        edit_ids = await self._edit(chosen) if chosen else []
        expected = 0
        for edit in edit_ids:
            screens = [s.idx for s in self.by_school[self.tracker.edits[edit].school]]
            self.tracker.expect(edit, screens, frozenset({"p"}))
            expected += len(screens)
        missing = await self._settle_deliveries(edit_ids, expected, "poll: edits", converge_timeout)
        self.tracker.forget_pending()
        # Push back on: the push screens stop polling and reconnect (hello is current).
        on_edits = self._record_edits(await self.trigger.set_push(schools, on=True))
        await self.pool.send({"cmd": "poll_stop"})
        await self.pool.send({"cmd": "poll", "min": o.poll_min, "max": o.poll_max})
        t2 = time.time()
        await self.pool.connect(ws_open, inflight=o.inflight)
        for edit in on_edits:
            school = self.tracker.edits[edit].school
            self.tracker.expect(
                edit, [s.idx for s in self.by_school[school] if s.mode == "ws"], HELLO_OR_PUSH
            )
        missing_on = await self._settle_deliveries(
            on_edits, len(ws_open), "poll: push back on", o.connect_timeout
        )
        self.tracker.forget_pending()
        result = self._delivery_result(edit_ids, expected, missing, frozenset({"p"}))
        result["push_off"] = {
            "sockets": len(ws_open),
            "all_closed": closed_ok,
            "close_codes": {str(k): v for k, v in codes.most_common()},
            "converged_by_polling": len(all_ids) - len(missing_off),
            "screens": len(all_ids),
            "missing": len(missing_off),
            "missing_list": missing_off[:MAX_MISSING_LISTED],
            "convergence_ms": stats.summary(self.tracker.latencies(off_edits), scale=1000),
        }
        result["refused"] = refused
        result["push_back_on"] = {
            "reconnected": len(ws_open) - len(missing_on),
            "missing": len(missing_on),
            "missing_list": missing_on[:MAX_MISSING_LISTED],
            "failures": self._failures_since(t2),
        }
        result["poll_errors"] = dict(self.poll_errors)
        return result

    async def churn(self) -> dict[str, Any]:
        """Sockets closing and reopening while edits go on; every screen current at the end."""
        o = self.options
        schools = sorted(self._open_ws_by_school())
        if not schools:
            return {"skipped": "no open push socket"}
        t0 = time.time()
        until = t0 + min(o.churn_duration, self._remaining())
        # A socket that fails to come back retries as a display would (the core's policy).
        await self.pool.send({"cmd": "reconnect_policy", "policy": {"deadline": until + 30}})
        per_worker = o.churn_share * len(self.ws_ids) / self.pool.count
        await self.pool.send(
            {"cmd": "churn", "per_second": per_worker, "until": until, "delay": [0.2, 2.0]}
        )
        edit_ids: list[int] = []
        expected = 0
        n = 0
        start = time.monotonic()
        while time.time() < until:
            n += 1
            due = start + n / o.churn_edit_rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            eligible = self._eligible(schools)
            if not eligible:
                continue
            school = self.random.choice(eligible)
            self.last_edit[school] = time.monotonic()
            screens = self._open_ws_of(school)
            (edit,) = await self._edit([school])
            self.tracker.expect(edit, screens, HELLO_OR_PUSH)
            expected += len(screens)
            edit_ids.append(edit)
            self.progress("churn", time.time() - t0, until - t0, "")
        # Let every churned socket come back, then check every push screen is current.
        await self._wait(
            lambda: all(i in self.open for i in self.ws_ids),
            o.connect_timeout,
            "churn: back",
            len(self.ws_ids),
            lambda: len(self.open),
        )
        missing = await self._settle_deliveries(edit_ids, expected, "churn: deliveries")
        self.tracker.forget_pending()
        await self.pool.send({"cmd": "reconnect_policy", "policy": None})
        churned = sum(1 for t, _, code in self.close_rows if t >= t0 and code == 1000)
        result = self._delivery_result(edit_ids, expected, missing, PUSH)
        churn_edits = set(edit_ids)
        via = Counter(self.tracker.via[k] for k in self.tracker.via if k[0] in churn_edits)
        result["delivered_by"] = {"push": via["i"] + via["a"], "hello_after_reconnect": via["h"]}
        result["sockets_churned"] = churned
        result["failures"] = self._failures_since(t0)
        result["current_at_end"] = await self._current()
        return result

    async def storm(self) -> dict[str, Any]:
        """Every socket gone at once; measured until every screen is back and current."""
        o = self.options
        if o.storm == "kill" and self.server is None:
            return {"skipped": "--storm kill needs a server this run started (--spawn)"}
        ws_open = [i for i in self.ws_ids if i in self.open]
        # Sets built once: a membership test per screen against a list (or a set built
        # anew each time) is quadratic, minutes at 50,000 screens, and while the loop
        # runs no client process's rows are read, so their pipes fill and they stall.
        opened = set(ws_open)
        schools = sorted({s.school for s in self.screens if s.idx in opened})
        t0 = time.time()
        # Every screen reconnects as a display does after its socket ended without a close
        # frame (1006): the core's backoff with full jitter, from the moment it ended; an
        # attempt refused, reset or given up on (--handshake-timeout) backs off further.
        # The bound covers the server's restart (start timeout 90 s) and the storm.
        await self.pool.send(
            {
                "cmd": "reconnect_policy",
                "policy": {"deadline": t0 + 30 + 90 + o.storm_timeout},
            }
        )
        if o.storm == "kill":
            assert self.server is not None
            self.server.kill()
            await self._wait(
                lambda: not self.open,
                30,
                "storm: down",
                len(ws_open),
                lambda: len(ws_open) - len(self.open),
            )
        else:
            await self.pool.send({"cmd": "drop"})
            # The command only reaches the clients: the edit below must find the screens
            # away, or it reaches them on the sockets about to be dropped. The clients report
            # no socket open once they dropped them (every 50 ms; a screen comes back after a
            # backoff of a second at least).
            await self._wait(
                lambda: self.pool.total("open") == 0,
                30,
                "storm: down",
                len(ws_open),
                lambda: len(ws_open) - self.pool.total("open"),
            )
            for idx in ws_open:
                self._closed(idx)
        # Content changes while the screens are away: "current" means this revision.
        # (The api trigger edits through the server: with the server killed, it
        # edits as soon as the server is back, while the screens reconnect.)
        edit_later = o.storm == "kill" and self.trigger.name == "api"
        edit_ids = [] if edit_later else await self._edit(schools)
        t_connect = t0
        ready_at = time.time()
        if o.storm == "kill":
            assert self.server is not None
            ready_at = await asyncio.to_thread(self.server.start)
        if edit_later:
            edit_ids = await self._edit(schools)
        expected = 0
        for edit in edit_ids:
            school = self.tracker.edits[edit].school
            screens = [s.idx for s in self.by_school[school] if s.idx in opened]
            self.tracker.expect(edit, screens, HELLO_OR_PUSH)
            expected += len(screens)
        missing = await self._settle_deliveries(
            edit_ids, expected, "storm: back and current", o.storm_timeout
        )
        self.tracker.forget_pending()
        await self.pool.send({"cmd": "reconnect_policy", "policy": None})
        back_times = [t for t, _ in self.hello_latency if t >= t_connect]
        storm_edits = set(edit_ids)
        current_times = [
            self.tracker.edits[e].ts + lat
            for (e, _), lat in self.tracker.latency.items()
            if e in storm_edits
        ]
        failures_down = self._failures_since(t0, ready_at)
        errors = self._failures_since(ready_at)
        return {
            "mode": o.storm,
            "screens": len(ws_open),
            "back": len([i for i in ws_open if i in self.open]),
            "expected": expected,
            "current": expected - len(missing),
            "missing": len(missing),
            "missing_list": missing[:MAX_MISSING_LISTED],
            "server_restart_s": round(ready_at - t0, 3) if o.storm == "kill" else None,
            "all_back_s": round(max(back_times) - t0, 3) if back_times and not missing else None,
            "all_current_s": (
                round(max(current_times) - t0, 3) if current_times and not missing else None
            ),
            "all_current_after_ready_s": (
                round(max(current_times) - ready_at, 3) if current_times and not missing else None
            ),
            "retries_while_down": failures_down,
            "errors": errors,
            # How the screens came back (bench/scale.py's report states it).
            "reconnect": {
                "policy": "core",
                "backoff_s": list(BACKOFF_SECONDS),
                "handshake_timeout_s": o.handshake_timeout,
            },
        }

    async def _current(self) -> dict[str, Any]:
        """Whether every open push screen shows its school's revision in the database."""
        revs = await asyncio.to_thread(in_thread, revisions, sorted(self.by_school))
        stale = [
            i
            for i in self.ws_ids
            if i in self.open and self.latest.get(i, 0) < revs[self.screens[i].school]
        ]
        closed = [i for i in self.ws_ids if i not in self.open]
        return {
            "stale": len(stale),
            "not_connected": len(closed),
            "stale_list": stale[:MAX_MISSING_LISTED],
        }


def _problems(results: dict[str, Any]) -> list[str]:
    """Every missing delivery and failure, as a sentence (the run is then not ok)."""
    out = []
    for name, r in results.items():
        if "skipped" in r:
            continue
        if r.get("missing"):
            out.append(f"{name}: {r['missing']} of {r.get('expected')} expected deliveries missing")
        if r.get("failures"):
            out.append(f"{name}: connection failures {r['failures']}")
        if name == "connect" and r["connected"] < r["attempted"]:
            out.append(f"connect: {r['connected']} of {r['attempted']} connected")
        if name == "poll":
            off = r["push_off"]
            if off["missing"]:
                out.append(f"poll: {off['missing']} screens did not converge by polling")
            if r["push_back_on"]["missing"]:
                out.append(f"poll: {r['push_back_on']['missing']} screens not back on push")
            unexpected = {k: v for k, v in r["refused"].items() if k != "close:4409"}
            if unexpected:
                out.append(f"poll: reconnects failed otherwise than 4409: {unexpected}")
            if r.get("poll_errors"):
                out.append(f"poll: polling errors {r['poll_errors']}")
        if name == "churn":
            cur = r["current_at_end"]
            if cur["stale"] or cur["not_connected"]:
                out.append(
                    f"churn: at the end {cur['stale']} stale, {cur['not_connected']} not connected"
                )
        if name == "storm" and r.get("errors"):
            out.append(f"storm: errors after the server was ready {r['errors']}")
    return out
