"""The Redis Cluster broker against a real cluster of ``redis-server`` processes on loopback.

Skipped when ``redis-server``/``redis-cli`` are not installed. Every cluster is started by
the test that needs it and its processes ended by PID.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from redis.crc import key_slot

from hallboard.api.models import ApiKey
from hallboard.realtime import publish
from hallboard.realtime.brokers import broker_for, configured_url
from hallboard.realtime.brokers import cluster as clusterbroker
from hallboard.realtime.brokers.cluster import ClusterBroker, channel, parse, partition_of
from hallboard.realtime.core import topics
from hallboard.schools.models import School
from tests.conftest import Tenant, make_school, make_screen, revision_of, sample
from tests.realtime.brokers.test_redis import GatewayProcess, Port, in_thread
from tests.realtime.conftest import open_display, receive_type
from tests.realtime.rediscluster import LocalCluster, binaries

needs_cluster = pytest.mark.skipif(
    binaries() is None,
    reason="redis-server 7.0 or later and redis-cli are needed for a local cluster",
)


# --- the URL and the partitions ------------------------------------------------------------


def test_a_cluster_url_names_nodes_credentials_and_partitions() -> None:
    """redis+cluster:// lists seed nodes; user, password, TLS and ?partitions= are read."""
    plain = parse("redis+cluster://10.0.0.1:7000,10.0.0.2:7001,redis-3")
    assert plain.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("redis-3", 6379))
    assert (plain.username, plain.password, plain.tls, plain.partitions) == (None, None, False, 64)
    full = parse("rediss+cluster://hb:s%40cret@a:1,b:2/?partitions=16")
    assert full.nodes == (("a", 1), ("b", 2))
    assert (full.username, full.password, full.tls, full.partitions) == ("hb", "s@cret", True, 16)
    for bad, why in (
        ("redis+cluster://", "no cluster nodes"),
        ("redis+cluster://a:1?partitions=0", "partitions must be"),
        ("redis://a:1", "not a cluster URL"),
    ):
        with pytest.raises(ValueError, match=why):
            parse(bad)


def test_every_channel_of_a_partition_lies_in_one_slot() -> None:
    """Topics of one partition share their hash tag, hence their slot; the partition is the
    same in every process (crc32), and the topic comes back out of the channel's name."""
    by_partition: dict[int, set[int]] = {}
    for n in range(2000):
        topic = topics.school(n)
        name = channel(topic, 64)
        assert name.startswith(b"hallboard:{hb:p%d}:" % partition_of(topic, 64))
        assert clusterbroker.topic_of(name) == topic
        assert clusterbroker.partition_in(name) == partition_of(topic, 64)
        by_partition.setdefault(partition_of(topic, 64), set()).add(key_slot(name))
    assert len(by_partition) == 64  # 2,000 schools use every partition...
    assert all(len(slots) == 1 for slots in by_partition.values())  # ...each in one slot
    assert partition_of("school:17", 64) == zlib.crc32(b"school:17") % 64  # not hash()
    assert clusterbroker.topic_of(b"hallboard:school:1") is None
    assert clusterbroker.partition_in(b"hallboard:school:1") is None


def test_the_broker_url_chooses_the_cluster_broker(settings: Any) -> None:
    """HALLBOARD_BROKER_URL wins over REDIS_URL; a redis+cluster:// URL gives the cluster
    broker, redis:// the plain one."""
    settings.REDIS_URL = "redis://127.0.0.1:6390/0"
    settings.BROKER_URL = ""
    assert configured_url() == "redis://127.0.0.1:6390/0"
    assert broker_for(configured_url()).name == "redis"
    settings.BROKER_URL = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
    assert configured_url() == settings.BROKER_URL
    assert isinstance(broker_for(configured_url()), ClusterBroker)
    with pytest.raises(ValueError, match="redis\\+cluster://"):
        broker_for("nats://127.0.0.1:4222")


# --- brokers on a 3-master cluster -----------------------------------------------------------


@pytest.fixture
def three_masters() -> Iterator[LocalCluster]:
    if binaries() is None:
        pytest.skip("redis-server 7.0 or later and redis-cli are needed for a local cluster")
    cluster = LocalCluster(masters=3, replicas=0, node_timeout_ms=1000)
    cluster.start()
    yield cluster
    cluster.stop()


class Listener:
    """A broker's callbacks: what arrived, and how many resyncs were asked for."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.resyncs = 0

    def __call__(self, topic: str, data: bytes) -> None:
        self.got.append((topic, data))

    async def resync(self) -> None:
        self.resyncs += 1

    async def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        for _ in range(int(timeout / 0.02)):
            if len(self.got) >= count:
                return True
            await asyncio.sleep(0.02)
        return len(self.got) >= count


async def started(url: str, listener: Listener) -> ClusterBroker:
    broker = ClusterBroker(url, backoff_cap=0.5, health_interval=1.0)
    await broker.start(listener, listener.resync)
    assert await broker.wait_connected(10)
    return broker


def publish_elsewhere(url: str, pairs: list[tuple[str, bytes]]) -> list[int]:
    """Publish as the web side does (another process: a foreign origin); failed indexes."""
    failed, _ = clusterbroker.publish_sync(url, [(t, b"elsewhere " + d) for t, d in pairs])
    return failed


async def until(check: Any, timeout: float = 20.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return bool(check())


@needs_cluster
async def test_two_brokers_get_exactly_their_topics_over_one_connection_per_master(
    three_masters: LocalCluster,
) -> None:
    """Two gateways' brokers subscribe overlapping sets of 300 topics: each holds one
    connection per master (3, not 300) and receives exactly the events of its own topics."""
    url = three_masters.url
    a, b = Listener(), Listener()
    broker_a, broker_b = await started(url, a), await started(url, b)
    try:
        await broker_a.subscribe(*(topics.school(n) for n in range(300)))
        await broker_b.subscribe(*(topics.school(n) for n in range(200, 500)))
        assert len(broker_a._subs) == len(broker_b._subs) == 3
        await asyncio.sleep(0.3)  # the SSUBSCRIBEs are on their way
        events = [(topics.school(n), b'{"n":%d}' % n) for n in range(500)]
        assert await asyncio.to_thread(publish_elsewhere, url, events) == []
        assert await a.wait_for(300)
        assert await b.wait_for(300)
        await asyncio.sleep(0.3)  # nothing more is coming
        assert sorted(a.got) == sorted(events[:300])
        assert sorted(b.got) == sorted(events[200:])
        # A gateway's own publish (staff frames) reaches the other, not itself twice.
        a.got.clear()
        b.got.clear()
        await broker_a.publish([(topics.school(250), b'{"staff":1}')])
        assert await b.wait_for(1)
        await asyncio.sleep(0.3)
        assert b.got == [(topics.school(250), b'{"staff":1}')]
        assert a.got == [(topics.school(250), b'{"staff":1}')]  # once: the in-process bus
        assert (broker_a.topology_changes, a.resyncs, broker_a.reconnects) == (0, 0, 0)
    finally:
        await broker_a.close()
        await broker_b.close()


@needs_cluster
async def test_unsubscribing_stops_delivery_and_is_not_taken_for_a_topology_change(
    three_masters: LocalCluster,
) -> None:
    """SUNSUBSCRIBE's confirmations are told apart from a node dropping channels itself:
    leaving and re-joining topics at once changes nothing but the delivery."""
    url = three_masters.url
    listener = Listener()
    broker = await started(url, listener)
    try:
        names = [topics.screen(n) for n in range(50)]
        await broker.subscribe(*names)
        await broker.unsubscribe(*names[:25])
        await broker.subscribe(*names[:5])  # back at once: the confirmations come after
        await asyncio.sleep(0.3)
        assert await asyncio.to_thread(publish_elsewhere, url, [(t, b"{}") for t in names]) == []
        assert await listener.wait_for(30)
        await asyncio.sleep(0.3)
        assert sorted(t for t, _ in listener.got) == sorted(names[:5] + names[25:])
        assert broker.topology_changes == 0
        assert listener.resyncs == 0
        assert broker.state == "connected"
    finally:
        await broker.close()


def ssubscribe_calls(cluster: LocalCluster, reset: bool = False) -> dict[int, int]:
    """SSUBSCRIBE commands each node ran since the last reset (nodes that ran none left out)."""
    calls = {}
    for node in cluster.nodes:
        with node.client() as client:
            if reset:
                client.config_resetstat()
                continue
            stats = client.info("commandstats").get("cmdstat_ssubscribe")
            if stats:
                calls[node.port] = int(stats["calls"])
    return calls


def migrate_slot(cluster: LocalCluster, slot: int) -> tuple[int, int]:
    """Move an empty ``slot`` to another master, as ``redis-cli --cluster reshard`` does;
    (old owner's port, new owner's port)."""
    source = cluster.owner_of(slot)
    target = next(n for n in cluster.masters_now() if n is not source)
    ids = {n.port: n.client().execute_command("CLUSTER", "MYID").decode() for n in cluster.nodes}
    with target.client() as t, source.client() as s:
        t.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source.port])
        s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.port])
        t.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])
        s.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])
    for node in cluster.nodes:
        if node not in (source, target):
            with node.client() as c:
                c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])
    return source.port, target.port


@needs_cluster
async def test_a_partition_whose_slot_migrates_is_followed_to_its_new_master(
    three_masters: LocalCluster,
) -> None:
    """When a partition's slot moves to another master, the old one drops its channels
    (an unasked sunsubscribe); the broker re-reads the slot map, subscribes the partition's
    topics on the new owner in one SSUBSCRIBE (not one per topic), and asks for a resync
    (messages may have been missed in between); later events of those topics arrive again."""
    url = three_masters.url
    listener = Listener()
    broker = await started(url, listener)
    try:
        schools = [topics.school(n) for n in range(4000)]
        moving = [t for t in schools if partition_of(t, 64) == 7]
        staying = [t for t in schools if partition_of(t, 64) == 8]
        assert len(moving) > 40
        await broker.subscribe(*moving, *staying)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(ssubscribe_calls, three_masters, reset=True)
        slot = key_slot(clusterbroker.hash_tag(7))
        old, new = await asyncio.to_thread(migrate_slot, three_masters, slot)
        assert await until(lambda: listener.resyncs >= 1)
        assert broker.topology_changes >= 1
        assert broker._owners[7] == ("127.0.0.1", new) != ("127.0.0.1", old)
        assert broker.state == "connected"
        # The partition's topics were resubscribed in one command, on the new owner only.
        assert await asyncio.to_thread(ssubscribe_calls, three_masters) == {new: 1}
        listener.got.clear()
        events = [(t, b"{}") for t in moving + staying]
        assert await asyncio.to_thread(publish_elsewhere, url, events) == []
        assert await listener.wait_for(len(events))
        assert sorted(t for t, _ in listener.got) == sorted(moving + staying)
    finally:
        await broker.close()


@needs_cluster
async def test_a_password_in_the_url_is_used_and_a_wrong_one_keeps_it_down() -> None:
    """redis+cluster://:secret@… subscribes on a cluster with requirepass, and the web side
    publishes to it; a wrong password never counts as connected."""
    cluster = LocalCluster(masters=3, replicas=0, password="s3cret")
    await asyncio.to_thread(cluster.start)
    try:
        listener = Listener()
        good = await started(cluster.url, listener)
        try:
            names = [topics.school(n) for n in range(100)]
            await good.subscribe(*names)
            await asyncio.sleep(0.3)
            events = [(t, b"{}") for t in names]
            assert await asyncio.to_thread(publish_elsewhere, cluster.url, events) == []
            assert await listener.wait_for(100)
            assert sorted(t for t, _ in listener.got) == sorted(names)
        finally:
            await good.close()
        bad = ClusterBroker(cluster.url.replace("s3cret", "wrong"), backoff_cap=0.3)
        await bad.start(listener, listener.resync)
        try:
            assert not await bad.wait_connected(2)
            assert bad.state != "connected"
        finally:
            await bad.close()
    finally:
        await asyncio.to_thread(cluster.stop)


def slot_owners(cluster: LocalCluster) -> list[tuple[int, int, int]]:
    """(first slot, last slot, master's port) as the cluster says now."""
    node = next(n for n in cluster.nodes if n.alive())
    with node.client() as client:
        return [(a, b, int(m[1])) for a, b, m, *_ in client.execute_command("CLUSTER", "SLOTS")]


def port_of(owners: list[tuple[int, int, int]], topic: str) -> int:
    slot = key_slot(channel(topic, 64))
    return next(port for a, b, port in owners if a <= slot <= b)


@needs_cluster
async def test_with_a_master_down_only_its_partitions_events_are_lost(
    three_masters: LocalCluster, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A master dies (no replica): the web side's events for the schools it served fail and
    are counted as failed; every other school's event is published and delivered to a
    gateway, whose broker keeps the other masters' partitions meanwhile (and says "down")."""
    settings.BROKER_URL = three_masters.url
    settings.REDIS_URL = ""
    # The gateway is another process: nothing reaches it through this one's bus, and what
    # this one publishes is not its own.
    monkeypatch.setattr(publish.BUS, "publish", lambda topic, data: 0)
    monkeypatch.setattr(publish, "ORIGIN", b"web-process")
    names = [topics.school(n) for n in range(300)]
    owners = slot_owners(three_masters)
    dead = three_masters.node_at(port_of(owners, names[0]))
    on_dead = {t for t in names if port_of(owners, t) == dead.port}
    listener = Listener()
    broker = await started(three_masters.url, listener)
    try:
        await broker.subscribe(*names)
        await asyncio.sleep(0.3)
        published = sample("hallboard_realtime_published_total", kind="invalidate")
        failed = sample("hallboard_realtime_publish_failed_total", kind="invalidate")
        await asyncio.to_thread(dead.kill)
        for n in range(300):
            publish.invalidate(n, 1)
        assert await asyncio.to_thread(publish.flush, 30)
        assert sample("hallboard_realtime_publish_failed_total", kind="invalidate") == (
            failed + len(on_dead)
        )
        assert sample("hallboard_realtime_published_total", kind="invalidate") == (
            published + 300 - len(on_dead)
        )
        assert await listener.wait_for(300 - len(on_dead))
        await asyncio.sleep(0.3)
        assert {t for t, _ in listener.got} == set(names) - on_dead
        assert broker.state == "down"  # not every partition is served
    finally:
        await broker.close()


# --- 3 masters + 3 replicas: a master frozen, a master killed; both failed over ---------------


@pytest.fixture
def six_nodes() -> Iterator[LocalCluster]:
    if binaries() is None:
        pytest.skip("redis-server 7.0 or later and redis-cli are needed for a local cluster")
    cluster = LocalCluster(masters=3, replicas=1, node_timeout_ms=500)
    cluster.start()
    yield cluster
    cluster.stop()


@needs_cluster
async def test_a_frozen_master_is_left_for_its_promoted_replica(six_nodes: LocalCluster) -> None:
    """A master that stops answering (SIGSTOP: no reset, no FIN) is noticed by its silence;
    once its replica has taken over, the broker serves its partitions from there, resyncs,
    and every topic's events arrive again."""
    listener = Listener()
    broker = ClusterBroker(six_nodes.url, backoff_cap=0.5, health_interval=0.5)
    await broker.start(listener, listener.resync)
    assert await broker.wait_connected(10)
    names = [topics.school(n) for n in range(200)]
    frozen = six_nodes.node_at(port_of(slot_owners(six_nodes), names[0]))
    assert frozen.process is not None
    try:
        await broker.subscribe(*names)
        await asyncio.sleep(0.3)
        os.kill(frozen.process.pid, signal.SIGSTOP)
        try:
            slot = key_slot(channel(names[0], 64))
            promoted = await asyncio.to_thread(six_nodes.wait_failover, slot, frozen)
            assert await until(lambda: listener.resyncs >= 1 and broker.state == "connected")
        finally:
            os.kill(frozen.process.pid, signal.SIGCONT)
        assert broker._owners[partition_of(names[0], 64)] == ("127.0.0.1", promoted.port)
        listener.got.clear()
        assert (
            await asyncio.to_thread(publish_elsewhere, six_nodes.url, [(t, b"{}") for t in names])
            == []
        )
        assert await listener.wait_for(200)
        assert sorted(t for t, _ in listener.got) == sorted(names)
    finally:
        await broker.close()


@pytest.fixture
def cluster_gateways(
    six_nodes: LocalCluster, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[GatewayProcess]]:
    """Two `hallboard serve --role gateway` processes on the cluster broker; this process
    (the web side) publishes to the cluster too."""
    settings.BROKER_URL = six_nodes.url
    settings.REDIS_URL = ""
    monkeypatch.setenv("HALLBOARD_BROKER_URL", six_nodes.url)
    with ThreadPoolExecutor(2) as pool:  # both start at once: a process takes a while here
        gateways = list(pool.map(lambda _: GatewayProcess("", tmp_path), range(2)))
    yield gateways
    for gateway in gateways:
        gateway.stop()


async def current(ws: Any, revision: int, timeout: float = 30.0) -> int:
    """The revision ``ws`` is told once it reaches ``revision`` (earlier ones skipped: creating
    the screens bumped the school too)."""
    deadline = asyncio.get_running_loop().time() + timeout
    rev = 0
    while rev < revision:
        left = max(0.01, deadline - asyncio.get_running_loop().time())
        rev = int((await receive_type(ws, "invalidate", timeout=left))["rev"])
    return rev


def post_announcement(secret: str, slug: str, title: str) -> int:
    response = Client().post(
        f"/api/v1/schools/{slug}/announcements",
        json.dumps({"title": title}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return int(response.status_code)


db_transactions = pytest.mark.django_db(transaction=True)


@needs_cluster
@db_transactions
async def test_a_master_killed_fails_over_and_every_screen_ends_current(
    tenant: Tenant,
    six_nodes: LocalCluster,
    cluster_gateways: list[GatewayProcess],
    tmp_path: Path,
) -> None:
    """Two gateway processes on the cluster broker, screens of two schools on each. Edits
    reach every gateway. The master serving one school's partition is killed: edits of the
    other school keep arriving during the outage; edits of this one are lost in flight, and
    once the replica has taken over every gateway resyncs (the revision rule) and its
    screens show the latest revision."""
    _, secret = await in_thread(
        lambda: ApiKey.create(name="t", organisation=tenant.organisation, role="admin")
    )
    hit = tenant.school
    hit_slot = key_slot(channel(topics.school(hit.pk), 64))
    hit_owner = six_nodes.owner_of(hit_slot)
    # A second school whose partition another master serves.
    n = 0
    while True:
        n += 1
        other = await in_thread(make_school, tenant.organisation, f"other-{n}")
        other_slot = key_slot(channel(topics.school(other.pk), 64))
        if six_nodes.owner_of(other_slot) is not hit_owner:
            break
    screens = {}
    for school in (hit, other):
        for g, gateway in enumerate(cluster_gateways):
            _, token = await in_thread(make_screen, school, f"{school.slug}-{g}")
            ws = await open_display(Port(gateway.port), token, f"device-{school.pk:04d}-{g}")  # type: ignore[arg-type]
            await receive_type(ws, "hello")
            screens[(school.slug, g)] = ws

    # Before: an edit of either school reaches its screens on both gateways.
    for school in (hit, other):
        assert await in_thread(post_announcement, secret, school.slug, "Before") == 201
        expected = await in_thread(revision_of, school)
        for g in range(2):
            assert await current(screens[(school.slug, g)], expected, timeout=15) == expected

    await asyncio.to_thread(hit_owner.kill)
    # During the outage the other school's edits still arrive on both gateways...
    assert await in_thread(post_announcement, secret, other.slug, "During") == 201
    expected_other = await in_thread(revision_of, other)
    for g in range(2):
        assert await current(screens[(other.slug, g)], expected_other, timeout=15) == expected_other
    # ...and the hit school's edits succeed (publishing never fails a write), their events
    # lost with the master, and another edit bypasses the publisher altogether.
    assert await in_thread(post_announcement, secret, hit.slug, "Lost 1") == 201
    await in_thread(lambda: School.objects.filter(pk=hit.pk).update(revision=F("revision") + 3))
    latest = await in_thread(revision_of, hit)

    await asyncio.to_thread(six_nodes.wait_failover, hit_slot, hit_owner)
    for g in range(2):
        assert await current(screens[(hit.slug, g)], latest) == latest
    for gateway in cluster_gateways:
        log = (tmp_path / f"gateway-{gateway.port}.log").read_text()
        assert "cluster broker recovered; resyncing" in log
    for ws in screens.values():
        await ws.close()
