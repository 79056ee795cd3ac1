"""Server processes the load test starts itself: started until their ports accept, stopped
or killed by their own PID, with trivial children on 127.0.0.1 (how long a drain may take:
test_drain_timeout.py)."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallboard.loadtest import server as servers
from hallboard.loadtest.server import ServerError, ServerProcess, SupervisedGateways
from hallboard.server.processes import reported_ready

#: A child that listens on 127.0.0.1:<argv[1]> and ignores SIGTERM (a stop must kill it).
DEAF_LISTENER = (
    "import signal, socket, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(120)\n"
)

#: A stand-in for ``serve --role gateway --processes N``: N children on one port
#: (SO_REUSEPORT, ``--reuse-port`` in their command line), each started again when it dies;
#: on SIGTERM it exits and leaves its children behind.
SUPERVISOR = r"""
import os, signal, subprocess, sys, time
port, count = sys.argv[1], int(sys.argv[2])
# A gateway as hallboard's supervisor runs one: it listens, then reports so on its ready pipe.
GATEWAY = (
    "import os, socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "time.sleep(0.5)  # listening, not yet ready (Django still starting)\n"
    "fd = int(os.environ['HALLBOARD_READY_FD']); os.write(fd, b'ready\\n'); os.close(fd)\n"
    "time.sleep(120)\n"
)
readers = []
def spawn():
    r, w = os.pipe()
    env = dict(os.environ, HALLBOARD_READY_FD=str(w))
    argv = [sys.executable, "-c", GATEWAY, port, "--reuse-port"]
    child = subprocess.Popen(argv, env=env, pass_fds=(w,))
    os.close(w)
    readers.append(r)
    return child
gateways = [spawn() for _ in range(count)]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    for i, g in enumerate(gateways):
        if g.poll() is not None:
            gateways[i] = spawn()
    time.sleep(0.05)
"""


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def gone(pid: int, within: float = 30.0) -> bool:
    """Whether ``pid`` has ended (or is a zombie) within ``within`` seconds: a SIGKILL is
    delivered asynchronously."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def http_server(port: int, **kwargs: object) -> ServerProcess:
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return ServerProcess(argv, ports=[port], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def started() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; whatever is still running at its end is killed by its PID."""
    made: list[ServerProcess] = []
    yield made
    for server in made:
        server.kill()


def test_free_port_is_one_nothing_listens_on() -> None:
    """``free_port`` gives a loopback port that accepts no connection and can be bound."""
    port = servers.free_port()
    assert not servers.port_open("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_port_open_is_whether_a_connection_is_accepted() -> None:
    """A listening socket's port is open; the same port is closed once it stops listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert servers.port_open("127.0.0.1", port)
    assert not servers.port_open("127.0.0.1", port)


def test_a_server_is_ready_when_its_port_accepts_and_stops_on_sigterm(
    started: list[ServerProcess],
) -> None:
    """``start`` returns once the child's port accepts connections; ``pid`` and ``pids`` name
    that child; ``stop`` ends it with SIGTERM and reaps it; the port is free again."""
    port = servers.free_port()
    server = http_server(port)
    started.append(server)
    ready = server.start(timeout=60)
    assert servers.port_open("127.0.0.1", port)
    assert server.started_at <= ready == server.ready_at
    process = server.process
    assert process is not None
    assert server.pid == process.pid
    assert server.pids() == [process.pid]
    server.stop()
    assert process.returncode == -signal.SIGTERM
    assert server.process is None
    assert not servers.port_open("127.0.0.1", port)
    with pytest.raises(ServerError, match="not running"):
        _ = server.pid
    server.stop()  # stopping what is not running does nothing


def test_kill_is_sigkill(started: list[ServerProcess]) -> None:
    """``kill`` (the storm's crash) ends the child with SIGKILL, not a graceful stop."""
    port = servers.free_port()
    server = http_server(port)
    started.append(server)
    server.start(timeout=60)
    process = server.process
    assert process is not None
    server.kill()
    assert process.returncode == -signal.SIGKILL
    assert server.process is None
    assert not servers.port_open("127.0.0.1", port)


def test_stop_kills_a_child_that_ignores_sigterm(
    started: list[ServerProcess], tmp_path: Path
) -> None:
    """A child still running ``timeout`` seconds after SIGTERM is killed (SIGKILL)."""
    port = servers.free_port()
    argv = [sys.executable, "-c", DEAF_LISTENER, str(port)]
    server = ServerProcess(argv, ports=[port], log_path=tmp_path / "deaf.log")
    started.append(server)
    server.start(timeout=60)
    process = server.process
    assert process is not None
    server.stop(timeout=0.5)
    assert process.returncode == -signal.SIGKILL
    assert "listening" in (tmp_path / "deaf.log").read_text()


def test_start_refuses_a_port_already_in_use() -> None:
    """A port something else already listens on is refused before anything is started."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = http_server(port)
        with pytest.raises(ServerError, match="already in use"):
            server.start()
    assert server.process is None


def test_a_child_that_exits_is_reported_with_its_code_and_log(tmp_path: Path) -> None:
    """A child that exits before listening: an error with its exit code and its log's tail."""
    argv = [sys.executable, "-c", "import sys; print('no database'); sys.exit(3)"]
    server = ServerProcess(argv, ports=[servers.free_port()], log_path=tmp_path / "server.log")
    with pytest.raises(ServerError, match="exited with 3") as raised:
        server.start(timeout=60)
    assert "no database" in str(raised.value)


def test_a_child_that_never_listens_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    """A child that does not listen within ``timeout``: an error, and the child is stopped."""
    log = tmp_path / "server.log"
    argv = [sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"]
    server = ServerProcess(argv, ports=[servers.free_port()], log_path=log)
    try:
        with pytest.raises(ServerError, match="did not listen within"):
            server.start(timeout=0.5)
    finally:
        server.kill()
    assert server.process is None
    if log.read_text().strip():  # it printed its PID before the timeout
        assert gone(int(log.read_text().split()[0]))


def test_the_log_file_is_not_left_open_in_this_process(
    started: list[ServerProcess], tmp_path: Path
) -> None:
    """The child writes its log itself: a start leaves no file object of it open here (a
    storm's restarts would otherwise leak one file descriptor each)."""
    port = servers.free_port()
    server = http_server(port, log_path=tmp_path / "server.log")
    started.append(server)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        server.start(timeout=60)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    server.stop()


def test_a_spawned_server_is_pinned_to_its_cpus(started: list[ServerProcess]) -> None:
    """``cpus`` pins the child (and only it) to those CPUs."""
    port = servers.free_port()
    server = http_server(port, cpus=[0])
    started.append(server)
    server.start(timeout=60)
    assert os.sched_getaffinity(server.pid) == {0}
    server.stop()


def test_children_lists_a_processes_children() -> None:
    """``children`` names the processes a process started; none for one that is gone."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)']); print(p.pid, flush=True); p.wait()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert servers.children(parent.pid) == [child]
        os.kill(child, signal.SIGKILL)
        parent.wait(timeout=30)
    finally:
        parent.kill()
        parent.wait(timeout=30)
        assert parent.stdout is not None
        parent.stdout.close()
    assert servers.children(parent.pid) == []


def test_supervised_gateways_are_killed_restarted_and_stopped_by_pid() -> None:
    """``kill`` SIGKILLs every gateway but not the supervisor; ``start`` then waits until the
    supervisor's new gateways have reported listening (the killed ones are not counted);
    ``stop`` ends the supervisor and kills, by PID, the gateways it left behind."""
    port = servers.free_port()
    argv = [sys.executable, "-c", SUPERVISOR, str(port), "2"]
    gateways = SupervisedGateways(argv, processes=2, ports=[port])
    seen: set[int] = set()
    try:
        gateways.start(timeout=60)
        first = gateways.pids()
        seen.update(first)
        assert len(first) == 2
        assert all(reported_ready(pid) for pid in first)  # not merely the port answering
        assert gateways.pid not in first
        gateways.kill()
        assert gateways.process is not None
        assert gateways.process.poll() is None  # the supervisor lives on
        assert all(gone(pid) for pid in first)
        assert not set(gateways.pids()) & set(first)
        gateways.start(timeout=60)
        second = gateways.pids()
        seen.update(second)
        assert len(second) == 2
        assert all(reported_ready(pid) for pid in second)
        assert not set(second) & set(first)
        assert servers.port_open("127.0.0.1", port)
        gateways.stop(timeout=30)
        assert gateways.process is None
        assert all(gone(pid) for pid in second)
    finally:
        for pid in seen:
            with contextlib.suppress(OSError):
                if b"--reuse-port" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
        if gateways.process is not None:
            gateways.process.kill()
            gateways.process.wait(timeout=30)


@pytest.mark.parametrize(
    ("role", "ports"), [("all", [8100, 8101]), ("web", [8100]), ("gateway", [8101])]
)
def test_hallboard_serve_waits_for_the_ports_of_its_role(role: str, ports: list[int]) -> None:
    """``hallboard_serve``: ``serve`` on 127.0.0.1 with both ports and the role; ready when
    the ports that role listens on accept (not started here)."""
    server = servers.hallboard_serve(8100, 8101, role=role, python="python")
    assert server.argv[:4] == ["python", "-m", "hallboard", "serve"]
    for flag, value in (("--host", "127.0.0.1"), ("--port", "8100"), ("--role", role)):
        assert server.argv[server.argv.index(flag) + 1] == value
    assert server.argv[server.argv.index("--gateway-port") + 1] == "8101"
    assert server.ports == ports
    assert server.process is None
