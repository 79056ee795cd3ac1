"""``hallboard serve --role gateway --processes N``: N gateway processes on one port.

One Python process uses one core and, here, at most ``ulimit -n`` sockets; a
machine with more of both runs several gateways. They share the display port
with SO_REUSEPORT: each child listens on the same address and port, and the
kernel spreads new connections over them by the connection's addresses, so no
proxy is needed in front of them on one machine.

The supervisor (this module, the process ``serve`` was started as) runs no
gateway itself:

- it opens one listening socket per child (SO_REUSEPORT, all on one port: the
  kernel spreads new connections over them); a port taken by another program
  fails at the first, once, with the reason, and port 0 picks a free port the
  others then share. It keeps them: each child is started
  with its slot's socket (``HALLBOARD_LISTEN_FD``) and accepts from it. A child
  that dies leaves its socket listening in the supervisor, so the connections
  the kernel gives that slot meanwhile wait in its queue (up to ``BACKLOG``) and
  the child started again accepts them, instead of every screen being refused
  and backing off while Python and Django start (a reconnect storm after all
  gateways died is then as long as their restart, not their restart plus the
  screens' backoff);
- it starts N children (``hallboard serve --role gateway --reuse-port``, the
  same options) and hears from each, through a pipe, when it is listening;
- a child that exits after it was listening is started again (its screens
  reconnect to the others meanwhile, and then to it), logged; a child that
  exits before it was listening, or more than ``RESTART_LIMIT`` restarts
  within ``RESTART_WINDOW`` seconds, stops every child and the supervisor
  exits 1 with the reason: a gateway that cannot start is not retried forever;
- SIGTERM or SIGINT: the supervisor closes its copies of the listening sockets
  (nothing more queues where no child will accept) and passes the signal to
  every child: each drains its screens with
  1001 in jittered batches (docs/deploy.md) at the same time; the supervisor
  waits for all (SIGKILL after ``drain_timeout``) and exits 0 when every child
  did.

Metrics: the children share a prometheus multiprocess directory (like ``--role
web --workers N``), so ``/metrics`` on the shared port shows every process's
counters whichever child answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

logger = logging.getLogger("hallboard.server.processes")

#: Restarts within RESTART_WINDOW seconds after which the supervisor gives up.
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
#: The environment variable naming the pipe a supervised child reports "listening" on.
READY_FD_ENV = "HALLBOARD_READY_FD"
#: The environment variable naming the listening socket a supervised child accepts from.
LISTEN_FD_ENV = "HALLBOARD_LISTEN_FD"
#: Seconds a child has to start listening (Django's start on a loaded machine included).
START_TIMEOUT = 120.0


def raise_fd_limit() -> tuple[int, int]:
    """Raise this process's file-descriptor limit to the hard limit (sockets are files)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft, hard


def supervised() -> bool:
    """Whether this process is a child of a supervisor (``--processes N``)."""
    return READY_FD_ENV in os.environ


def report_ready() -> None:
    """In a supervised child: tell the supervisor the gateway listens (once)."""
    value = os.environ.pop(READY_FD_ENV, None)
    if not value:
        return
    with contextlib.suppress(OSError, ValueError):
        fd = int(value)
        os.write(fd, b"ready\n")
        os.close(fd)


def reported_ready(pid: int) -> bool:
    """Whether the supervised child ``pid`` has told its supervisor it listens, seen from
    outside (Linux ``/proc``): it closes its ready pipe then (``report_ready``). For tools
    that watch a supervisor's children (the load generator): the port answering says
    nothing, since the supervisor holds the listening sockets from the start."""
    proc = Path(f"/proc/{pid}")
    try:
        environ = (proc / "environ").read_bytes().split(b"\0")
    except OSError:
        return False
    prefix = f"{READY_FD_ENV}=".encode()
    fds = [entry[len(prefix) :] for entry in environ if entry.startswith(prefix)]
    if not fds:
        return False
    try:
        target = os.readlink(proc / "fd" / fds[0].decode())
    except FileNotFoundError:
        return (proc / "fd").exists()  # closed, by a process that is still there
    except (OSError, UnicodeDecodeError):
        return False
    return not target.startswith("pipe:")


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` with SO_REUSEPORT (not yet listening: ``listener`` then listens).

    Raises OSError when the port is held by a listener that does not share it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listener(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` sharing it (SO_REUSEPORT) with the others, with
    the backlog a gateway's own listener has."""
    from hallboard.realtime.gateway.options import BACKLOG  # Django's: imported when serving

    sock = reserve_port(host, port)
    try:
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def inherited_listener() -> int | None:
    """In a supervised child: the listening socket's descriptor its supervisor gave it (once;
    None when the gateway must open its own)."""
    value = os.environ.pop(LISTEN_FD_ENV, None)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@dataclass
class Child:
    slot: int
    process: subprocess.Popen[bytes]
    ready_r: int
    started: float
    ready: bool = False


@dataclass
class Supervisor:
    """Keeps ``count`` copies of ``argv`` running (see the module docstring)."""

    argv: Sequence[str]
    count: int
    #: Seconds children get to drain after SIGTERM before they are killed.
    drain_timeout: float = 30.0
    env: dict[str, str] | None = None
    restart_limit: int = RESTART_LIMIT
    restart_window: float = RESTART_WINDOW
    start_timeout: float = START_TIMEOUT
    #: One listening socket per slot, kept across its child's restarts (``listener``);
    #: None: each child opens its own (``--reuse-port``).
    listeners: list[socket.socket] | None = None
    children: dict[int, Child] = field(default_factory=dict)
    restarts: deque[float] = field(default_factory=deque)
    _stop_signal: int | None = None

    # --- starting -------------------------------------------------------------------------
    def _spawn(self, slot: int) -> Child:
        ready_r, ready_w = os.pipe()
        env = dict(self.env if self.env is not None else os.environ)
        env[READY_FD_ENV] = str(ready_w)
        fds = [ready_w]
        if self.listeners is not None:
            fds.append(self.listeners[slot].fileno())
            env[LISTEN_FD_ENV] = str(fds[-1])
        try:
            process = subprocess.Popen(  # noqa: S603 - our own command line
                list(self.argv), env=env, pass_fds=tuple(fds)
            )
        finally:
            os.close(ready_w)
        child = Child(slot, process, ready_r, time.monotonic())
        self.children[slot] = child
        logger.info("gateway process %d started (pid %d)", slot + 1, process.pid)
        return child

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children.values()]

    # --- running ----------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT (0 when every child drained) or a failure (1)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for slot in range(self.count):
                self._spawn(slot)
            failure = self._watch()
            code = self._stop_all()
            if failure is not None:
                logger.error("gateway processes stopped: %s", failure)
                return 1
            return code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for child in self.children.values():
                with contextlib.suppress(OSError):
                    os.close(child.ready_r)

    def _watch(self) -> str | None:
        """Until a stop signal (None) or a reason to give up (the reason)."""
        while self._stop_signal is None:
            self._read_ready(timeout=0.2)
            now = time.monotonic()
            for slot, child in list(self.children.items()):
                code = child.process.poll()
                if code is None:
                    if not child.ready and now - child.started > self.start_timeout:
                        return (
                            f"gateway process {slot + 1} (pid {child.process.pid}) did not "
                            f"listen within {self.start_timeout:.0f} s"
                        )
                    continue
                if self._stop_signal is not None:
                    break
                if not child.ready:
                    return (
                        f"gateway process {slot + 1} (pid {child.process.pid}) exited with "
                        f"{_exit(code)} before it was listening"
                    )
                while self.restarts and now - self.restarts[0] > self.restart_window:
                    self.restarts.popleft()
                if len(self.restarts) >= self.restart_limit:
                    return (
                        f"gateway process {slot + 1} exited with {_exit(code)}, the "
                        f"{len(self.restarts) + 1}th exit within {self.restart_window:.0f} s"
                    )
                self.restarts.append(now)
                logger.warning(
                    "gateway process %d (pid %d) exited with %s; starting it again",
                    slot + 1,
                    child.process.pid,
                    _exit(code),
                )
                os.close(child.ready_r)
                self._spawn(slot)
        return None

    def _read_ready(self, timeout: float) -> None:
        waiting = {c.ready_r: c for c in self.children.values() if not c.ready}
        if not waiting:
            time.sleep(timeout)
            return
        try:
            readable, _, _ = select.select(list(waiting), [], [], timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; a signal's flag is set
            return
        for fd in readable:
            child = waiting[fd]
            data = b""
            with contextlib.suppress(OSError):
                data = os.read(fd, 64)
            if data.startswith(b"ready"):
                child.ready = True
                logger.info(
                    "gateway process %d (pid %d) listening", child.slot + 1, child.process.pid
                )
            elif child.process.poll() is None:
                time.sleep(0.01)  # closed without a word: its exit is seen by the next poll

    def _stop_all(self) -> int:
        """SIGTERM every child (they drain in parallel), SIGKILL after drain_timeout."""
        for sock in self.listeners or ():
            sock.close()  # the children's copies stay open until each stops accepting
        running = [c for c in self.children.values() if c.process.poll() is None]
        if running:
            logger.info("stopping %d gateway process(es): each drains its screens", len(running))
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.drain_timeout
        code = 0
        for child in self.children.values():
            try:
                status = child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "gateway process %d (pid %d) still draining after %.0f s; killed",
                    child.slot + 1,
                    child.process.pid,
                    self.drain_timeout,
                )
                child.process.kill()
                status = child.process.wait()
            if status != 0:
                code = 1
        return code


def _exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"status {code}"


def child_argv(
    host: str, port: int, *, graceful_timeout: int, log_level: str, python: str = sys.executable
) -> list[str]:
    """The command line of one supervised gateway process."""
    return [
        python,
        "-m",
        "hallboard",
        "serve",
        "--role",
        "gateway",
        "--host",
        host,
        "--gateway-port",
        str(port),
        "--graceful-timeout",
        str(graceful_timeout),
        "--log-level",
        log_level,
        "--reuse-port",
    ]
