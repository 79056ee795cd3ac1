"""Push across replicas through Redis, and through a Redis outage."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection, connections
from django.db.models import F
from django.test import Client

from hallboard.api.models import ApiKey
from hallboard.realtime.brokers.redis import RedisBroker
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen, revision_of, sample
from tests.realtime.conftest import (
    RedisProcess,
    closed_with,
    open_display,
    receive_type,
    start_gateway,
)

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(func: Any, *args: Any) -> Any:
    def run() -> Any:
        try:
            return func(*args)
        finally:
            connections.close_all()

    return asyncio.to_thread(run)


def test_database_url() -> str:
    """The URL of the test database, for gateway processes to share it."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HALLBOARD = [sys.executable, "-m", "hallboard"]


class GatewayProcess:
    """`hallboard serve --role gateway` in its own process, stopped by PID."""

    def __init__(self, redis_url: str, tmp: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": test_database_url(),
            "HALLBOARD_DATA_DIR": str(tmp),
            "REALTIME_COALESCE_SECONDS": "0.2",
        }
        self.log = (tmp / f"gateway-{self.port}.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own command, loopback only
            [*HALLBOARD, "serve", "--role", "gateway", "--gateway-port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gateway exited: {(tmp / f'gateway-{self.port}.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        pytest.fail("gateway process did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Port:
    """What open_display needs of a gateway: its port."""

    def __init__(self, port: int) -> None:
        self.port = port


@pytest.fixture
def replicas(
    redis_process: RedisProcess, tmp_path: Path, settings: Any
) -> Iterator[list[GatewayProcess]]:
    settings.REDIS_URL = redis_process.url  # the web side publishes to it
    gateways = [GatewayProcess(redis_process.url, tmp_path) for _ in range(3)]
    yield gateways
    for gateway in gateways:
        gateway.stop()


def post_announcement(secret: str, title: str) -> int:
    response = Client().post(
        "/api/v1/schools/alpha/announcements",
        json.dumps({"title": title}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return int(response.status_code)


async def test_an_edit_reaches_screens_on_every_replica_and_survives_a_redis_restart(
    tenant: Tenant, replicas: list[GatewayProcess], redis_process: RedisProcess
) -> None:
    """Three gateway processes; an API edit reaches them all; edits during a Redis outage
    succeed and every screen sees the latest revision after Redis is back (resync)."""
    _, secret = await in_thread(
        lambda: ApiKey.create(name="t", organisation=tenant.organisation, role="admin")
    )
    tokens = [(await in_thread(make_screen, tenant.school, f"S{n}"))[1] for n in range(3)]
    sockets = [
        await open_display(Port(gw.port), token, f"device-{n:04d}")  # type: ignore[arg-type]
        for n, (gw, token) in enumerate(zip(replicas, tokens, strict=True))
    ]
    for ws in sockets:
        await receive_type(ws, "hello")

    # One edit through the management API reaches every replica's screen.
    assert await in_thread(post_announcement, secret, "Everyone") == 201
    expected = await in_thread(revision_of, tenant.school)
    for ws in sockets:
        assert (await receive_type(ws, "invalidate", timeout=15))["rev"] == expected

    # Redis goes away: edits still succeed (publishing never fails a write).
    redis_process.stop()
    for title in ("During outage 1", "During outage 2"):
        assert await in_thread(post_announcement, secret, title) == 201
    latest = await in_thread(revision_of, tenant.school)
    assert latest == expected + 2

    # Redis is back: every gateway reconnects, resubscribes and resyncs.
    redis_process.start()
    for ws in sockets:
        rev = 0
        while rev < latest:
            rev = (await receive_type(ws, "invalidate", timeout=30))["rev"]
        assert rev == latest
    for ws in sockets:
        await ws.close()


async def test_revoking_on_one_replica_closes_the_socket_on_another(
    tenant: Tenant, replicas: list[GatewayProcess]
) -> None:
    """A token revoked here closes the screen's socket held by another process (4401)."""
    screen, token = await in_thread(make_screen, tenant.school, "Far away")
    ws = await open_display(Port(replicas[1].port), token)  # type: ignore[arg-type]
    await receive_type(ws, "hello")
    await in_thread(lambda: Screen.objects.get(pk=screen.pk).revoke_token())
    assert await closed_with(ws, timeout=15) == 4401


async def test_with_redis_down_local_screens_are_still_told(tenant: Tenant, settings: Any) -> None:
    """With Redis unreachable an edit succeeds and this process's screens still get it."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    gw = await start_gateway(RedisBroker(settings.REDIS_URL, backoff_cap=0.5))
    try:
        _, token = await in_thread(make_screen, tenant.school, "Local")
        ws = await open_display(gw, token)
        hello = await receive_type(ws, "hello")
        assert gw.broker.state == "down"
        _, secret = await in_thread(
            lambda: ApiKey.create(name="t", organisation=tenant.organisation, role="admin")
        )
        assert await in_thread(post_announcement, secret, "Still here") == 201
        assert (await receive_type(ws, "invalidate"))["rev"] == hello["rev"] + 1
        await ws.close()
    finally:
        await gw.shutdown()


async def test_a_gateway_started_during_an_outage_resyncs_when_redis_comes(
    tenant: Tenant, redis_process: RedisProcess, settings: Any
) -> None:
    """Screens connected while Redis was down get the current revision once it is up."""
    redis_process.stop()
    gw = await start_gateway(RedisBroker(redis_process.url, backoff_cap=0.3))
    try:
        _, token = await in_thread(make_screen, tenant.school, "Early")
        ws = await open_display(gw, token)
        hello = await receive_type(ws, "hello")
        # An edit made by another process (not through this process's bus).
        await in_thread(
            lambda: School.objects.filter(pk=tenant.school.pk).update(revision=F("revision") + 5)
        )
        redis_process.start()
        assert (await receive_type(ws, "invalidate", timeout=30))["rev"] == hello["rev"] + 5
        assert gw.broker.reconnects >= 1
        await ws.close()
    finally:
        await gw.shutdown()


async def test_a_redis_that_stops_answering_is_noticed_and_left(
    tenant: Tenant, redis_process: RedisProcess
) -> None:
    """A frozen Redis (no FIN, no RST: a partition) is detected by unanswered PINGs; the
    broker goes down and comes back with a resync when Redis answers again."""
    import os
    import signal

    broker = RedisBroker(redis_process.url, backoff_cap=0.3, health_interval=0.3)
    gw = await start_gateway(broker)
    try:
        assert await broker.wait_connected(10)
        assert redis_process.process is not None
        os.kill(redis_process.process.pid, signal.SIGSTOP)
        try:
            for _ in range(200):
                if broker.state == "down":
                    break
                await asyncio.sleep(0.05)
            assert broker.state == "down"
        finally:
            os.kill(redis_process.process.pid, signal.SIGCONT)
        assert await broker.wait_connected(30)
        for _ in range(200):
            if broker.reconnects >= 1:
                break
            await asyncio.sleep(0.05)
        assert broker.reconnects >= 1
    finally:
        await gw.shutdown()


async def test_a_password_in_the_url_is_used_and_a_wrong_one_keeps_it_down() -> None:
    """redis://:secret@host subscribes against a Redis with requirepass; a wrong password
    never counts as connected."""
    server = RedisProcess(password="s3cret")
    server.start()
    got: list[tuple[str, bytes]] = []

    async def resync() -> None:
        return None

    try:
        good = RedisBroker(server.url, backoff_cap=0.3)
        await good.start(lambda topic, data: got.append((topic, data)), resync)
        try:
            assert await good.wait_connected(10)
            await good.subscribe("school:77")
            await asyncio.sleep(0.2)
            client = redis.Redis.from_url(server.url)
            client.publish("hallboard:school:77", b"elsewhere {}")
            client.close()
            for _ in range(100):
                if got:
                    break
                await asyncio.sleep(0.05)
            assert got == [("school:77", b"{}")]
        finally:
            await good.close()
        bad = RedisBroker(server.url.replace("s3cret", "wrong"), backoff_cap=0.3)
        await bad.start(lambda topic, data: None, resync)
        try:
            assert not await bad.wait_connected(1.5)
            assert bad.state == "down"
        finally:
            await bad.close()
    finally:
        server.stop()


@pytest.fixture
def cut_database(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cut(True)``: the database is away for the gateway's worker threads (``gw-db…``):
    every connection they ask for fails as when the server is unreachable."""
    import threading

    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    state = {"cut": False}
    original = BaseDatabaseWrapper.ensure_connection

    def ensure_connection(self: BaseDatabaseWrapper) -> None:
        if state["cut"] and threading.current_thread().name.startswith("gw-db"):
            raise OperationalError("connection refused: the database is cut (test)")
        original(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", ensure_connection)

    def cut(away: bool) -> None:
        state["cut"] = away

    return cut


def broker_connected() -> float:
    return sample("hallboard_broker_connected", broker="redis")


async def until(check: Any, timeout: float = 30.0) -> bool:
    """Wait (bounded) until ``check()`` is true; whether it became true."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return bool(check())


async def test_redis_back_before_the_database_keeps_cross_replica_push_alive(
    tenant: Tenant, redis_process: RedisProcess, cut_database: Any
) -> None:
    """Redis killed and the database cut together; Redis restored first (the resync fails:
    no database), then the database. The resync is retried until it succeeds and the
    broker lives on: the next Redis outage shows in hallboard_broker_connected, and after
    it pushes from another replica arrive."""
    broker = RedisBroker(redis_process.url, backoff_cap=0.3)
    gw = await start_gateway(broker)
    try:
        assert await broker.wait_connected(10)
        _, token = await in_thread(make_screen, tenant.school, "Hall")
        ws = await open_display(gw, token)
        hello = await receive_type(ws, "hello")

        cut_database(True)
        redis_process.stop()
        assert await until(lambda: broker_connected() == 0)
        # Another replica's edit while both are away.
        await in_thread(
            lambda: School.objects.filter(pk=tenant.school.pk).update(revision=F("revision") + 3)
        )
        failures = sample("hallboard_broker_resync_failures_total")
        redis_process.start()
        # Redis is back, the database is not: the resync fails, and is tried again.
        assert await until(lambda: sample("hallboard_broker_resync_failures_total") >= failures + 2)
        assert broker_connected() == 1
        cut_database(False)
        rev = 0
        while rev < hello["rev"] + 3:
            rev = (await receive_type(ws, "invalidate", timeout=30))["rev"]
        assert rev == hello["rev"] + 3

        # The next outage is noticed (the metric tells the truth), and heals.
        redis_process.stop()
        assert await until(lambda: broker_connected() == 0)
        redis_process.start()
        assert await until(lambda: broker_connected() == 1)
        # A push from another replica: published to Redis by another process.
        client = redis.Redis.from_url(redis_process.url)
        event = {"e": "invalidate", "school": tenant.school.pk, "rev": hello["rev"] + 4}
        for _ in range(100):  # until this gateway's subscription is back
            client.publish(
                f"hallboard:school:{tenant.school.pk}",
                b"another-replica " + json.dumps(event).encode(),
            )
            try:
                message = await receive_type(ws, "invalidate", timeout=0.3)
            except TimeoutError:
                continue
            if message["rev"] == hello["rev"] + 4:
                break
        else:
            pytest.fail("no push from another replica arrived")
        client.close()
        await ws.close()
    finally:
        await gw.shutdown()


async def test_a_callback_that_raises_does_not_end_the_broker(
    redis_process: RedisProcess,
) -> None:
    """The gateway's handling of one message raises: the broker logs and counts it, stays
    connected on the same subscription, and hands over the next message."""
    got: list[bytes] = []

    def on_message(topic: str, data: bytes) -> None:
        if data == b"bad":
            raise ValueError("a bug in the gateway")
        got.append(data)

    async def resync() -> None:
        return None

    broker = RedisBroker(redis_process.url, backoff_cap=0.3)
    await broker.start(on_message, resync)
    try:
        assert await broker.wait_connected(10)
        await broker.subscribe("school:5")
        client = redis.Redis.from_url(redis_process.url)
        for _ in range(100):  # until the subscription is in place
            client.publish("hallboard:school:5", b"elsewhere bad")
            client.publish("hallboard:school:5", b"elsewhere good")
            if await until(lambda: bool(got), timeout=0.1):
                break
        client.close()
        assert got[:1] == [b"good"]
        assert broker.state == "connected"
        assert broker.reconnects == 0
        assert broker.callback_errors >= 1
    finally:
        await broker.close()
