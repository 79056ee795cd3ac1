"""`hallboard demo --port P` really serves: its pages on P, its push gateway on P + 1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.deploy.localcompose import free_port

HALLBOARD = [sys.executable, "-m", "hallboard"]


def free_pair() -> int:
    """A free loopback port whose next port is free too."""
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_demo_serves_pages_on_its_port_and_push_on_the_next(tmp_path: Path) -> None:
    """The demo as a user starts it: the web app answers on --port (health, a printed display
    URL's page, that screen's snapshot telling it the gateway on --port + 1), and a screen
    gets `hello` from that gateway. The web app never tries to bind the gateway's port."""
    web = free_pair()
    gateway = web + 1
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    env.pop("GATEWAY_PORT", None)
    env.pop("HALLBOARD_PUBLIC_URL", None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(  # noqa: S603 - our own command on loopback
            [*HALLBOARD, "demo", "--port", str(web)], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=2):
                    break
            except OSError:
                assert demo.poll() is None, f"demo exited:\n{log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "demo did not answer"
                time.sleep(0.2)
        printed = log.read_text()
        match = re.search(rf"(http://127\.0\.0\.1:{web}/display/\?token=(hbs_\S+))", printed)
        assert match, printed
        url, token = match.group(1), match.group(2)
        with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310 - loopback
            assert page.status == 200
            assert "text/html" in page.headers["Content-Type"]
        snapshot_url = f"http://127.0.0.1:{web}/api/display/snapshot/?token={token}&dk=demo-serve-1"
        with urllib.request.urlopen(snapshot_url, timeout=10) as response:
            meta = json.load(response)["meta"]
        assert meta["ws_url"] == f"ws://127.0.0.1:{gateway}/ws/display/"

        async def hello() -> str:
            async with connect(f"{meta['ws_url']}?token={token}&dk=demo-serve-1") as ws:
                return str(json.loads(await asyncio.wait_for(ws.recv(), 30))["type"])

        assert asyncio.run(hello()) == "hello"
        assert "address already in use" not in log.read_text()
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
