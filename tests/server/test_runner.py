"""`hallboard serve` stops cleanly on SIGTERM: the gateway beside the web app drains first."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.deploy.localcompose import free_port

HALLBOARD = [sys.executable, "-m", "hallboard"]


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_sigterm_drains_the_gateway_and_exits_zero(tmp_path: Path) -> None:
    """`hallboard serve` (web and gateway in one process) on SIGTERM: open screens are closed
    with 1001 (the drain) before the process ends, and it exits 0, not by the signal."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    run = {"env": env, "capture_output": True, "text": True, "timeout": 180, "check": True}
    subprocess.run([*HALLBOARD, "migrate", "-v0"], **run)  # type: ignore[call-overload]  # noqa: S603
    demo = json.loads(subprocess.run([*HALLBOARD, "seed-demo", "--json"], **run).stdout)  # type: ignore[call-overload]  # noqa: S603
    token = demo["schools"][0]["screens"][0]["token"]
    web, gateway = free_port(), free_port()
    server = subprocess.Popen(  # noqa: S603 - our own command on loopback
        [*HALLBOARD, "serve", "--port", str(web), "--gateway-port", str(gateway)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.1)

        async def screen() -> int | None:
            url = f"ws://127.0.0.1:{gateway}/ws/display/?token={token}&dk=runner-test-1"
            async with connect(url, open_timeout=30) as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert hello["type"] == "hello"
                server.send_signal(signal.SIGTERM)
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 30)
                except Exception:  # noqa: S110 - the close ends the wait
                    pass
                return ws.close_code

        assert asyncio.run(screen()) == 1001
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
