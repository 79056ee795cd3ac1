"""`hallboard serve --role gateway --processes N`: N gateways on one port, supervised."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from hallboard.server import processes
from tests.deploy.localcompose import free_port

HALLBOARD = [sys.executable, "-m", "hallboard"]
#: A bound, not a timing: Django's start on a loaded machine (per child).
START_BOUND = 120.0

_READY_THEN_EXIT = (
    "import os, sys; os.write(int(os.environ['HALLBOARD_READY_FD']), b'ready\\n'); sys.exit(3)"
)


def test_a_child_that_keeps_dying_is_restarted_then_the_supervisor_gives_up() -> None:
    """A child that exits after it was listening is started again, but more than the
    restart limit of exits within the window stops the supervisor with 1 (never a loop)."""
    supervisor = processes.Supervisor(
        [sys.executable, "-c", _READY_THEN_EXIT], 1, restart_limit=2, restart_window=60
    )
    assert supervisor.run() == 1
    assert len(supervisor.restarts) == 2  # started 3 times in all: 2 restarts, then gave up


def test_a_child_that_fails_before_listening_is_not_restarted() -> None:
    """A child that exits before it reports listening (a bad port, a bad setting) is not
    retried: every other child is stopped and the supervisor exits 1."""
    supervisor = processes.Supervisor(
        [sys.executable, "-c", "import time, sys; time.sleep(0.2); sys.exit(2)"], 2
    )
    assert supervisor.run() == 1
    assert not supervisor.restarts
    assert all(c.process.returncode is not None for c in supervisor.children.values())


def test_sigterm_reaches_every_child_and_a_clean_stop_exits_zero() -> None:
    """SIGTERM to the supervisor is passed to every child; when all exit 0, so does it."""
    child = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "os.write(int(os.environ['HALLBOARD_READY_FD']), b'ready\\n')\n"
        "time.sleep(60); sys.exit(5)\n"
    )
    supervisor = processes.Supervisor([sys.executable, "-c", child], 2, drain_timeout=30)
    loop_pid = os.getpid()

    def stop_soon() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(supervisor.children) == 2 and all(c.ready for c in supervisor.children.values()):
                break
            time.sleep(0.05)
        os.kill(loop_pid, signal.SIGTERM)

    import threading

    thread = threading.Thread(target=stop_soon)
    thread.start()
    try:
        assert supervisor.run() == 0
    finally:
        thread.join()
    assert [c.process.returncode for c in supervisor.children.values()] == [0, 0]


def test_a_child_is_seen_ready_from_outside_once_it_reported_listening() -> None:
    """``reported_ready`` (what the load generator watches) is false while a supervised
    child has not reported listening, true once it has (it closed its ready pipe), and
    false for a process that is gone or was never supervised."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = (
        "import os, time\n"
        f"os.read({go_r}, 1)\n"
        "from hallboard.server import processes\n"
        "processes.report_ready()\n"
        "time.sleep(60)\n"
    )
    env = dict(os.environ, **{processes.READY_FD_ENV: str(ready_w)})
    process = subprocess.Popen(  # noqa: S603 - our own child
        [sys.executable, "-c", child], env=env, pass_fds=(ready_w, go_r)
    )
    os.close(ready_w)
    os.close(go_r)
    try:
        assert not processes.reported_ready(process.pid)
        os.write(go_w, b"x")
        assert os.read(ready_r, 64) == b"ready\n"  # waits for the child, not a timing
        deadline = time.monotonic() + 30
        while not processes.reported_ready(process.pid):
            assert time.monotonic() < deadline, "the child's report was not seen"
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()
        for fd in (ready_r, go_w):
            os.close(fd)
    assert not processes.reported_ready(process.pid)
    assert not processes.reported_ready(os.getpid())  # not supervised


def test_a_port_taken_without_sharing_is_refused_with_the_reason() -> None:
    """The supervisor opens its first listener before any child: held by a listener that
    does not share it, the port fails there (`listener`, what `serve` turns into the reason)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            processes.listener("127.0.0.1", taken.getsockname()[1])


# --- the real thing ------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(p) for p in path.read_text().split())


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _established_inodes(port: int) -> dict[int, int]:
    """Server-side established sockets on ``port``: inode -> the peer's port."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port and state == "01" and inode:
            out[inode] = int(remote.split(":")[1], 16)
    return out


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_two_gateway_processes_share_the_port_restart_and_drain(tmp_path: Path) -> None:
    """`serve --role gateway --processes 2`: two children listen on one port and the kernel
    spreads connections over both; a display gets its hello through either; a child killed
    with SIGKILL is started again and serves; with every child killed, a screen that
    connects meanwhile is queued, not refused, and answered once they are back; SIGTERM
    drains every screen with 1001 and the supervisor exits 0."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env["HALLBOARD_DATA_DIR"] = str(tmp_path)
    run = {"env": env, "capture_output": True, "text": True, "timeout": 180, "check": True}
    subprocess.run([*HALLBOARD, "migrate", "-v0"], **run)  # type: ignore[call-overload]  # noqa: S603
    demo = json.loads(subprocess.run([*HALLBOARD, "seed-demo", "--json"], **run).stdout)  # type: ignore[call-overload]  # noqa: S603
    tokens = [s["token"] for school in demo["schools"] for s in school["screens"]]
    assert len(tokens) >= 6
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(  # noqa: S603 - our own command on loopback
            [
                *HALLBOARD,
                "serve",
                "--role",
                "gateway",
                "--processes",
                "2",
                "--gateway-port",
                f"{port}",
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def tail() -> str:
        return "\n".join(log.read_text(errors="replace").splitlines()[-30:])

    def ready() -> set[int]:
        """Children the supervisor heard "listening" from (each accepts from the socket the
        supervisor opened for its slot, which it holds from its start)."""
        found = re.findall(r"gateway process \d+ \(pid (\d+)\) listening", log.read_text())
        return {int(pid) for pid in found}

    def wait_listening(count: int, exclude: frozenset[int] = frozenset()) -> list[int]:
        deadline = time.monotonic() + START_BOUND
        while True:
            assert server.poll() is None, f"the supervisor exited:\n{tail()}"
            kids = [k for k in _children(server.pid) if k not in exclude]
            if len(kids) >= count and set(kids) <= ready():
                assert all(_listens(k, port) for k in kids)
                return kids
            assert time.monotonic() < deadline, f"children did not listen:\n{tail()}"
            time.sleep(0.2)

    async def hello(token: str, dk: str) -> dict[str, object]:
        url = f"ws://127.0.0.1:{port}/ws/display/?token={token}&dk={dk}"
        async with connect(url, open_timeout=30) as ws:
            return dict(json.loads(await asyncio.wait_for(ws.recv(), 30)))

    try:
        kids = wait_listening(2)
        assert len(kids) == 2
        # Forty plain TCP connections: the kernel spreads them over both listeners.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
        try:
            deadline = time.monotonic() + 30
            while True:
                established = _established_inodes(port)
                owners = {k: len(_socket_inodes(k) & set(established)) for k in kids}
                if sum(owners.values()) >= 40 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert sum(owners.values()) == 40, owners
            assert all(count > 0 for count in owners.values()), owners
        finally:
            for c in clients:
                c.close()
        first = asyncio.run(hello(tokens[0], "proc-test-1"))
        assert first["type"] == "hello"

        # One child killed: the supervisor starts another; the port keeps serving.
        os.kill(kids[0], signal.SIGKILL)
        again = wait_listening(2, exclude=frozenset({kids[0]}))
        assert kids[1] in again  # the other one was not touched
        assert len(again) == 2
        assert "starting it again" in log.read_text(errors="replace")
        assert asyncio.run(hello(tokens[1], "proc-test-2"))["type"] == "hello"

        # Every child killed at once: their listening sockets stay open in the supervisor,
        # so a screen connecting before any child is back waits in the queue (it is not
        # refused) and is answered by a restarted child on that same connection.
        listening_before = ready()
        for kid in again:
            os.kill(kid, signal.SIGKILL)
        for kid in again:
            _wait_gone(kid)
        waiting = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            assert ready() == listening_before, "a child was back before the screen connected"
            waiting.settimeout(START_BOUND)
            waiting.sendall(_upgrade(tokens[2], "proc-drain-0"))  # the drain below reuses it
            answer = b""
            while b"hello" not in answer:
                chunk = waiting.recv(4096)
                assert chunk, f"closed without an answer: {answer!r}\n{tail()}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 101 "), answer
        finally:
            waiting.close()
        wait_listening(2, exclude=frozenset(again))

        async def drained() -> list[int | None]:
            sockets = []
            for n, token in enumerate(tokens[2:6]):
                url = f"ws://127.0.0.1:{port}/ws/display/?token={token}&dk=proc-drain-{n}"
                ws = await connect(url, open_timeout=30)
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "hello"
                sockets.append(ws)
            server.send_signal(signal.SIGTERM)
            codes = []
            for ws in sockets:
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 60)
                except Exception:  # noqa: S110 - the close ends the wait
                    pass
                codes.append(ws.close_code)
            return codes

        assert asyncio.run(drained()) == [1001] * 4
        assert server.wait(timeout=90) == 0, tail()
    finally:
        if server.poll() is None:
            server.kill()  # our own supervisor, by its handle; its children then see EOF
            server.wait()
        for kid in _orphans(tmp_path):
            os.kill(kid, signal.SIGKILL)


def _wait_gone(pid: int) -> None:
    """Until ``pid`` (another process's child) has exited: gone, or a zombie."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not exit")


def _upgrade(token: str, dk: str) -> bytes:
    """A display's WebSocket upgrade request, as bytes for a plain socket."""
    return (
        f"GET /ws/display/?token={token}&dk={dk} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _listens(pid: int, port: int) -> bool:
    """Whether ``pid`` holds a listening socket on ``port``."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            listening.add(int(fields[9]))
    try:
        return bool(_socket_inodes(pid) & listening)
    except OSError:
        return False


def _orphans(data_dir: Path) -> list[int]:
    """Gateway processes of this test left running (their environment names its data dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"--reuse-port" in cmdline and f"HALLBOARD_DATA_DIR={data_dir}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_processes_needs_the_gateway_role(tmp_path: Path) -> None:
    """`--processes 2` with any other role is refused with the reason (web: --workers)."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    done = subprocess.run(  # noqa: S603 - our own command
        [*HALLBOARD, "serve", "--processes", "2", "--migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "--processes N needs --role gateway" in done.stderr
