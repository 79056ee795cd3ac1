"""Real `hallboard serve` processes for the operations tests (loopback only, stopped by PID)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read()

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, body = self.get(path, headers)
        return status, json.loads(body)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def wait_until_up(self, path: str = "/healthz") -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("hallboard serve exited:\n" + "\n".join(self.log_lines()[-30:]))
            try:
                if self.get(path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail("hallboard serve did not answer:\n" + "\n".join(self.log_lines()[-30:]))

    def children(self) -> list[int]:
        """PIDs of the worker processes (multiprocessing children, not its resource tracker)."""
        pid = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.append(int(entry.name))
        return sorted(found)


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any service of its own: SQLite in tmp_path, no Redis."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(HALLBOARD_DATA_DIR=str(tmp_path), GATEWAY_PORT=str(free_port()))
    env.update(extra)
    return env


@contextmanager
def serve(tmp_path: Path, *args: str, **env: str) -> Iterator[Served]:
    """``hallboard serve ARGS`` on a free port, its stderr in a file; stopped (SIGTERM) after.

    Its own SQLite database is migrated first (``--migrate``); with a DATABASE_URL of
    the test's, serving starts on that database as it is.
    """
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    migrate = [] if "DATABASE_URL" in env else ["--migrate"]
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own command, on loopback
            [sys.executable, "-m", "hallboard", "serve", "--port", str(port), *migrate, *args],
            env=environment(tmp_path, **env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, port, log)
    try:
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
