"""A server process the load test (or the benchmark) started itself: start, wait, kill, restart.

Only processes started here are ever signalled, by their own PID. ``ready``
means every listed port accepts TCP connections. The kill is SIGKILL: the
reconnect storm measures a crash, not a graceful drain.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hallboard.server.processes import reported_ready


class ServerError(Exception):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ServerProcess:
    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        ports: list[int],
        host: str = "127.0.0.1",
        cpus: list[int] | None = None,
        log_path: Path | None = None,
        user: str | None = None,
    ) -> None:
        self.argv = argv
        self.user = user  # run as this user (a database server refuses to run as root)
        self.env = env
        self.ports = ports
        self.host = host
        self.cpus = cpus
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_at = 0.0

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServerError("not running")
        return self.process.pid

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait until every port accepts; returns when it became ready (time.time())."""
        if any(port_open(self.host, port) for port in self.ports):
            raise ServerError(f"a port of {self.ports} is already in use on {self.host}")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.started_at = time.time()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, user=self.user
            )
        finally:
            if not isinstance(log, int):
                log.close()  # the child has its own copy: keep no descriptor of it here
        if self.cpus:
            os.sched_setaffinity(self.process.pid, set(self.cpus))
        deadline = time.monotonic() + timeout
        while not all(port_open(self.host, port) for port in self.ports):
            if self.process.poll() is not None:
                raise ServerError(
                    f"{self.argv[:4]} exited with {self.process.returncode}{self._tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"{self.argv[:4]} did not listen within {timeout:.0f} s{self._tail()}"
                )
            time.sleep(0.02)
        self.ready_at = time.time()
        return self.ready_at

    def _tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return "\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        return ""

    def pids(self) -> list[int]:
        """The processes that serve: this one, or the gateways of a supervisor."""
        return [self.pid]

    def kill(self) -> None:
        """SIGKILL (a crash), then reap."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after ``timeout``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc/<pid>/task/*/children)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)


#: Gateway CPU allowed per socket for closing it in a drain (its close frame, the peer's
#: answer, its last rows), the processes sharing the server's cores: an allowance, not a
#: measurement, about 30 times what a delivered message costs a gateway (docs/scale.md).
CLOSE_WORK_SECONDS = 0.001
#: Seconds added to a drain's bound for the processes' own exit.
DRAIN_MARGIN = 10.0
#: Seconds the load test waits beyond the supervisor's drain timeout before it kills what
#: is left itself (the supervisor kills its gateways at the drain timeout).
STOP_MARGIN = 30.0


def drain_timeout_for(screens: int, processes: int) -> float:
    """How long ``processes`` gateways holding ``screens`` together may take to drain when
    the load test stops them: the longest drain of one process's share
    (``hallboard.server.drain``: batches, pauses, the last closing handshakes), plus
    ``CLOSE_WORK_SECONDS`` for every socket of them all (they drain at once on the same
    cores), plus ``DRAIN_MARGIN``. It grows with the screens held."""
    from hallboard.server.drain import longest_drain_seconds

    per_process = math.ceil(screens / max(processes, 1))
    return round(
        longest_drain_seconds(per_process) + screens * CLOSE_WORK_SECONDS + DRAIN_MARGIN, 1
    )


class SupervisedGateways(ServerProcess):
    """``hallboard serve --role gateway --processes N``: the gateways are its children.

    ``kill()`` SIGKILLs every gateway (a crash of them all), not the supervisor, which
    starts them again; ``start()`` after that waits until every gateway listens again.
    CPU and memory are read from the gateways (``pids``).
    ``drain_timeout``: how long the supervisor lets them drain when stopped (its
    ``--drain-timeout``); ``stop()`` waits that long and ``STOP_MARGIN`` more.
    """

    def __init__(
        self,
        argv: list[str],
        *,
        processes: int,
        drain_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(argv, **kwargs)
        self.processes = processes
        self.drain_timeout = drain_timeout
        self._killed: set[int] = set()

    def pids(self) -> list[int]:
        return [p for p in children(self.pid) if p not in self._killed]

    def start(self, timeout: float = 90.0) -> float:
        """Start the supervisor (or, after ``kill()``, let it start the gateways again) and
        wait until every gateway listens: each has reported so to the supervisor
        (``processes.reported_ready``). The port alone says nothing: the supervisor holds
        the listening sockets from the start, and connections wait in their queues."""
        if self.process is None or self.process.poll() is not None:
            super().start(timeout)
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if len(pids) >= self.processes and all(reported_ready(p) for p in pids):
                break
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"the supervisor exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise ServerError(f"the gateways were not back within {timeout:.0f} s")
            time.sleep(0.01)
        self.ready_at = time.time()
        return self.ready_at

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM to the supervisor (every gateway drains); what is left after ``timeout``
        (default: the drain timeout and ``STOP_MARGIN``, at least 120 s) is killed, the
        gateways by their own PIDs."""
        if timeout is None:
            timeout = max(120.0, (self.drain_timeout or 0.0) + STOP_MARGIN)
        gateways = self.pids() if self.process is not None else []
        super().stop(timeout)
        for pid in gateways:
            with contextlib.suppress(OSError):  # gone: nothing to do
                # Still one of ours (not a PID used again since)?
                if b"--reuse-port" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL every gateway process (the supervisor restarts them)."""
        gateways = self.pids()
        for pid in gateways:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._killed = set(gateways)


def hallboard_serve(
    port: int,
    gateway_port: int,
    *,
    env: dict[str, str] | None = None,
    cpus: list[int] | None = None,
    log_path: Path | None = None,
    role: str = "all",
    python: str = sys.executable,
) -> ServerProcess:
    """``hallboard serve`` on loopback (not started yet)."""
    argv = [python, "-m", "hallboard", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--gateway-port", str(gateway_port), "--role", role, "--log-level", "warning"]
    ports = {"all": [port, gateway_port], "web": [port], "gateway": [gateway_port]}[role]
    return ServerProcess(argv, env=env, ports=ports, cpus=cpus, log_path=log_path)


def gateway_processes(
    gateway_port: int,
    processes: int,
    *,
    drain_timeout: float | None = None,
    env: dict[str, str] | None = None,
    cpus: list[int] | None = None,
    log_path: Path | None = None,
    python: str = sys.executable,
) -> SupervisedGateways:
    """``hallboard serve --role gateway --processes N`` on loopback (not started yet), its
    supervisor letting them drain ``drain_timeout`` seconds when stopped (``--drain-timeout``;
    None: the supervisor's default)."""
    argv = [python, "-m", "hallboard", "serve", "--host", "127.0.0.1", "--role", "gateway"]
    argv += ["--processes", str(processes), "--gateway-port", str(gateway_port)]
    if drain_timeout is not None:
        argv += ["--drain-timeout", f"{drain_timeout:g}"]
    argv += ["--log-level", "warning"]
    return SupervisedGateways(
        argv,
        processes=processes,
        drain_timeout=drain_timeout,
        env=env,
        ports=[gateway_port],
        cpus=cpus,
        log_path=log_path,
    )
