"""The Redis Cluster broker: sharded pub/sub (SSUBSCRIBE/SPUBLISH) over fixed partitions.

Chosen by a URL listing some of the cluster's nodes (the rest are discovered)::

    redis+cluster://host:port,host:port[,...][?partitions=64]
    rediss+cluster://user:secret@host:port,host:port     (TLS, ACL user)

**Partitions.** Every topic lies in one of ``partitions`` partitions (64 unless
the URL says otherwise; every process of an install must use the same URL):
``crc32(topic) % partitions``. The topic's channel is
``hallboard:{hb:p<n>}:<topic>``; the hash tag ``{hb:p<n>}`` puts every channel
of a partition in the same slot, hence on the same shard. A gateway therefore
holds one subscription connection per master that owns at least one partition
(at most one per master, however many topics), and subscribes a partition's
topics in one SSUBSCRIBE (a single SSUBSCRIBE may only name channels of one
slot). Redis only sends a gateway the topics it subscribed, as with the plain
Redis broker. A partition is also the unit by which load moves between
masters: its slot is ``CLUSTER KEYSLOT {hb:p<n>}``.

**Topology changes.** The slot map comes from redis-py's asyncio
``RedisCluster`` (which also carries this process's SPUBLISHes, grouped by
node in one pipeline). When a subscription connection is lost (a master
killed), when a node drops a partition's channels itself (Redis sends an
unasked ``sunsubscribe`` when a slot migrates away or its master becomes a
replica), or when a node answers ``MOVED``, the broker re-reads the slot map
and moves the partitions concerned to their new owners, each partition in one
SSUBSCRIBE: a batched resubscribe. The other partitions keep their connections
and keep delivering meanwhile; an unreachable owner (a master not yet failed
over) is retried with backoff and jitter. ``state`` is "connected" only while
every partition is served. Messages published while a partition was not
subscribed are lost, so once every partition is served again ``on_reconnect``
runs (the revision rule: the gateway resyncs its screens, retried until it
succeeds, as with the Redis broker).

**Why not redis-py's ClusterPubSub.** redis-py 8 has an asyncio
``ClusterPubSub`` with ``ssubscribe`` (one PubSub per node, read by polling
``get_sharded_message``), but it costs a coroutine and a timeout per message
and does not say when messages were missed during a migration, which the
revision rule needs. The subscriptions are read here as in ``brokers/redis.py``:
an ``asyncio.Protocol`` per node feeding hiredis, with no await per message.

The web side publishes with ``publish_sync`` (redis-py's synchronous
``RedisCluster`` pipeline, called by ``realtime/publish.py``'s sender thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisClusterException, RedisError

from hallboard.realtime.brokers import ORIGIN, Guarded, OnMessage, OnReconnect
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.brokers.redis import Resyncing, command

logger = logging.getLogger("hallboard.realtime.broker")

SCHEMES = ("redis+cluster://", "rediss+cluster://")
#: Partitions unless the URL says ``?partitions=N``.
PARTITIONS = 64
#: Seconds between PINGs on an idle subscription; no answer within twice as long: dead.
HEALTH_INTERVAL = 10.0
#: Seconds a new subscription connection has to answer its first PING.
ANSWER_TIMEOUT = 2.0
#: Seconds a publish from the gateway's loop may take before it is given up.
PUBLISH_TIMEOUT = 5.0
#: Errors by which a node says a slot is served elsewhere (now or soon).
_TOPOLOGY_ERRORS = (b"MOVED", b"ASK", b"TRYAGAIN", b"CLUSTERDOWN")

Address = tuple[str, int]


def is_cluster_url(url: str) -> bool:
    return url.startswith(SCHEMES)


@dataclass(frozen=True)
class ClusterURL:
    nodes: tuple[Address, ...]
    username: str | None
    password: str | None
    tls: bool
    partitions: int


def parse(url: str) -> ClusterURL:
    """``redis+cluster://[user:pass@]host:port,host:port[?partitions=N]``; ValueError if not."""
    if not is_cluster_url(url):
        raise ValueError(f"not a cluster URL: {url!r}")
    scheme, rest = url.split("://", 1)
    netloc, _, tail = rest.partition("/")
    query = tail.partition("?")[2] if "?" in tail else ""
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
    credentials, _, hosts = netloc.rpartition("@")
    username = password = None
    if credentials:
        user, sep, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if sep else None
    nodes: list[Address] = []
    for item in hosts.split(","):
        if not item.strip():
            continue
        parsed = urlsplit("//" + item.strip())
        if not parsed.hostname:
            raise ValueError(f"a cluster node without a host in {url!r}")
        nodes.append((parsed.hostname, parsed.port or 6379))
    if not nodes:
        raise ValueError(f"no cluster nodes in {url!r}")
    values = parse_qs(query)
    partitions = int(values.get("partitions", [str(PARTITIONS)])[0])
    if not 1 <= partitions <= 16384:
        raise ValueError(f"partitions must be 1 to 16384, not {partitions}")
    return ClusterURL(tuple(nodes), username, password, scheme == "rediss+cluster", partitions)


def partition_of(topic: str, partitions: int) -> int:
    """The partition of ``topic``: the same in every process (crc32, not ``hash``)."""
    return zlib.crc32(topic.encode()) % partitions


def hash_tag(partition: int) -> bytes:
    return b"{hb:p%d}" % partition


def channel(topic: str, partitions: int) -> bytes:
    """``hallboard:{hb:p<n>}:<topic>``: the topic's shard channel."""
    return b"hallboard:" + hash_tag(partition_of(topic, partitions)) + b":" + topic.encode()


def topic_of(name: bytes) -> str | None:
    """The topic of a shard channel name (None if it is not one of ours)."""
    if not name.startswith(b"hallboard:{hb:p"):
        return None
    _, sep, topic = name.partition(b"}:")
    return topic.decode() if sep else None


def partition_in(name: bytes) -> int | None:
    """The partition of a shard channel name (None if it is not one of ours)."""
    if not name.startswith(b"hallboard:{hb:p"):
        return None
    digits, sep, _ = name[len(b"hallboard:{hb:p") :].partition(b"}")
    return int(digits) if sep and digits.isdigit() else None


def _client_kwargs(config: ClusterURL) -> dict[str, Any]:
    return {
        "username": config.username,
        "password": config.password,
        "ssl": config.tls,
    }


# --- the web side: publishing from a thread ---------------------------------------------------

_sync_clients: dict[str, Any] = {}
_sync_lock = threading.Lock()


def sync_client(url: str) -> Any:
    """A synchronous ``RedisCluster`` with short timeouts (code serving a request's aftermath)."""
    from redis.backoff import NoBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry

    with _sync_lock:
        client = _sync_clients.get(url)
        if client is None:
            config = parse(url)
            client = RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in config.nodes],
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 1),  # publish_sync tries a failed node once more
                **_client_kwargs(config),
            )
            _sync_clients[url] = client
        return client


def publish_sync(url: str, messages: list[tuple[str, bytes]]) -> tuple[list[int], Exception | None]:
    """SPUBLISH (topic, payload) pairs, one pipeline per master; the indexes of those that
    could not be published, and the last error.

    Node by node, so that a master that is down (until its replica takes over) fails only
    the events of its own partitions. A failed group is tried once more after the slot map
    is read again (a slot moved, a replica promoted). Raises when no node answers at all.
    """
    partitions = parse(url).partitions
    client = sync_client(url)
    names = [channel(topic, partitions) for topic, _ in messages]
    pending = list(range(len(messages)))
    error: Exception | None = None
    for attempt in range(2):
        groups: dict[str, tuple[Any, list[int]]] = {}
        failed: list[int] = []
        for index in pending:
            try:
                node = client.nodes_manager.get_node_from_slot(client.keyslot(names[index]))
            except (RedisError, RedisClusterException) as exc:  # the slot is not served now
                failed.append(index)
                error = exc
                continue
            groups.setdefault(node.name, (node, []))[1].append(index)
        for node, indexes in groups.values():
            try:
                pipe = client.get_redis_connection(node).pipeline(transaction=False)
                for index in indexes:
                    pipe.execute_command("SPUBLISH", names[index], messages[index][1])
                results = pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:
                failed.extend(indexes)
                error = exc
                continue
            for index, result in zip(indexes, results, strict=True):
                if isinstance(result, Exception):  # MOVED: served elsewhere now
                    failed.append(index)
                    error = result
        if not failed:
            return [], None
        pending = sorted(failed)
        if attempt == 0:
            try:
                client.nodes_manager.initialize()
            except (RedisError, OSError) as exc:
                error = exc
                break
    return pending, error


# --- the gateway side -------------------------------------------------------------------------


class _NodeSubscription(asyncio.Protocol):
    """One master's subscription connection: smessages in (hiredis), commands out."""

    def __init__(self, broker: ClusterBroker, address: Address) -> None:
        self.broker = broker
        self.address = address
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[Exception | None] = loop.create_future()
        self.last_seen = loop.time()
        #: Set by the node's first reply: a node that accepts a connection but answers
        #: nothing (a frozen process) never serves a partition.
        self.answered: asyncio.Future[None] = loop.create_future()
        self.error: Exception | None = None
        #: Partitions this connection is subscribed for.
        self.partitions: set[int] = set()
        #: SUNSUBSCRIBEs sent and not yet confirmed, per channel: any other
        #: sunsubscribe is the node dropping the channel itself (slot moved).
        self.unconfirmed: dict[bytes, int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def data_received(self, data: bytes) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        if not self.answered.done():
            self.answered.set_result(None)
        self.reader.feed(data)
        broker = self.broker
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if isinstance(reply, hiredis.ReplyError):
                text = str(reply).encode()
                if text.startswith(_TOPOLOGY_ERRORS):
                    broker._topology_changed(f"{self.address[0]}:{self.address[1]} said {reply}")
                    continue
                # AUTH refused, or a command Redis would not take: start over.
                self.error = RedisError(f"redis refused a subscription command: {reply}")
                self.close()
                return
            if not isinstance(reply, list) or len(reply) != 3:
                continue  # +OK (AUTH), pong
            kind, name, payload = reply
            if kind == b"smessage":
                topic = topic_of(name)
                origin, _, event = payload.partition(b" ")
                if topic is None or origin == ORIGIN or topic not in broker.topics:
                    continue  # our own events came through the in-process bus already
                broker._on_message_now(topic, event)
            elif kind == b"sunsubscribe":
                pending = self.unconfirmed.get(name, 0)
                if pending > 1:
                    self.unconfirmed[name] = pending - 1
                elif pending == 1:
                    del self.unconfirmed[name]
                else:  # not asked for: the node no longer serves this channel's slot
                    dropped = name.decode(errors="replace")
                    broker._topology_changed(
                        f"{self.address[0]}:{self.address[1]} dropped {dropped}"
                    )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, *parts: bytes) -> None:
        if self.usable:
            assert self.transport is not None
            self.transport.write(command(*parts))

    def ssubscribe(self, channels: list[bytes]) -> None:
        if channels:
            self.send(b"SSUBSCRIBE", *channels)

    def sunsubscribe(self, channels: list[bytes]) -> None:
        if channels and self.usable:
            for name in channels:
                self.unconfirmed[name] = self.unconfirmed.get(name, 0) + 1
            self.send(b"SUNSUBSCRIBE", *channels)

    def forget(self, partitions: set[int]) -> None:
        """Stop serving ``partitions`` here (the node dropped their channels itself): no
        confirmation of theirs is awaited any more."""
        self.partitions -= partitions
        self.unconfirmed = {
            name: count
            for name, count in self.unconfirmed.items()
            if partition_in(name) not in partitions
        }

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ClusterBroker(Resyncing):
    _recovered = "the cluster recovered"

    name = "cluster"

    def __init__(
        self,
        url: str,
        *,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        self.url = url
        self.config = parse(url)
        self.partitions = self.config.partitions
        self.health_interval = health_interval
        self.state = "connecting"
        self.reconnects = 0
        self.resync_failures = 0
        #: Topology changes seen (lost connections, moved slots), for metrics and tests.
        self.topology_changes = 0
        self.topics: set[str] = set()
        self._by_partition: dict[int, set[str]] = {}
        self._backoff = ExponentialWithJitterBackoff(base=backoff_base, cap=backoff_cap)
        self._client: AsyncRedisCluster | None = None
        self._client_ready = False
        #: Partition → the master serving it (from the last slot map read).
        self._owners: dict[int, Address] = {}
        #: Live subscription connections by node.
        self._subs: dict[Address, _NodeSubscription] = {}
        #: Nodes of the slot map that could not be subscribed to, and how many tries.
        self._unreachable: dict[Address, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._closing = False
        self._on_message: Guarded | None = None
        self._on_reconnect: OnReconnect | None = None
        self._connected = asyncio.Event()
        self._changed = asyncio.Event()
        #: Whether messages may have been missed since the last resync.
        self._missed = False
        self._local = MemoryBroker()

    # --- the Broker interface -------------------------------------------------------------

    @property
    def callback_errors(self) -> int:
        return self._on_message.errors if self._on_message is not None else 0

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        guarded = Guarded(on_message)
        self._on_message, self._on_reconnect = guarded, on_reconnect
        await self._local.start(guarded, on_reconnect)
        self._start_task()

    async def subscribe(self, *topics: str) -> None:
        new = [t for t in topics if t not in self.topics]
        self.topics.update(topics)
        await self._local.subscribe(*topics)
        for partition, names in self._group(new).items():
            self._by_partition.setdefault(partition, set()).update(names)
            sub = self._serving(partition)
            if sub is not None:  # otherwise subscribed when the partition is served again
                sub.ssubscribe([channel(t, self.partitions) for t in names])

    async def unsubscribe(self, *topics: str) -> None:
        gone = [t for t in topics if t in self.topics]
        self.topics.difference_update(topics)
        await self._local.unsubscribe(*topics)
        for partition, names in self._group(gone).items():
            held = self._by_partition.get(partition)
            if held is not None:
                held.difference_update(names)
                if not held:
                    del self._by_partition[partition]
            sub = self._serving(partition)
            if sub is not None:
                sub.sunsubscribe([channel(t, self.partitions) for t in names])

    async def publish(self, messages: list[tuple[str, bytes]]) -> None:
        await self._local.publish(messages)  # this process's listeners, also while down
        if not messages or self._client is None or not self._client_ready:
            return
        # One pipeline per partition's owner, side by side: a master that is down loses
        # only its own partitions' frames.
        groups: dict[Address | None, list[tuple[bytes, bytes]]] = {}
        for topic, data in messages:
            owner = self._owners.get(partition_of(topic, self.partitions))
            groups.setdefault(owner, []).append(
                (channel(topic, self.partitions), ORIGIN + b" " + data)
            )
        results = await asyncio.gather(*(self._publish_group(g) for g in groups.values()))
        lost = sum(results)
        if lost:
            logger.warning("%d staff frames not published (pages re-read)", lost)

    async def _publish_group(self, group: list[tuple[bytes, bytes]]) -> int:
        """SPUBLISH ``group`` in one pipeline; how many were not published."""
        assert self._client is not None
        pipe = self._client.pipeline()
        for name, payload in group:
            pipe.execute_command("SPUBLISH", name, payload)
        try:
            await asyncio.wait_for(pipe.execute(), PUBLISH_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.debug("staff frames not published: %s", exc)
            return len(group)
        return 0

    async def close(self) -> None:
        self._closing = True
        self._stop_resync()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self._subs.values()):
            sub.close()
        self._subs.clear()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client, self._client_ready = None, False
        await self._local.close()
        self.state = "down"

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # --- what a node tells us -----------------------------------------------------------------

    def _on_message_now(self, topic: str, data: bytes) -> None:
        assert self._on_message is not None
        self._on_message(topic, data)

    def _topology_changed(self, why: str) -> None:
        if not self._changed.is_set():
            logger.warning("redis cluster topology changed (%s); re-reading the slot map", why)
        self._changed.set()

    # --- keeping every partition served ------------------------------------------------------

    def _group(self, topics: Iterable[str]) -> dict[int, list[str]]:
        groups: dict[int, list[str]] = {}
        for topic in topics:
            groups.setdefault(partition_of(topic, self.partitions), []).append(topic)
        return groups

    def _serving(self, partition: int) -> _NodeSubscription | None:
        """The live connection subscribed for ``partition``, if there is one."""
        owner = self._owners.get(partition)
        sub = self._subs.get(owner) if owner is not None else None
        if sub is None or not sub.usable or partition not in sub.partitions:
            return None
        return sub

    def _served(self) -> bool:
        return len(self._owners) == self.partitions and all(
            self._serving(p) is not None for p in range(self.partitions)
        )

    def _start_task(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cluster-broker")
        self._task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._closing:
            return
        self.state = "down"
        self._connected.clear()
        logger.error("cluster broker loop ended unexpectedly (%r); restarting it", task.exception())
        self._start_task()

    async def _read_slot_map(self) -> dict[int, Address]:
        if self._client is not None and self._client_ready:
            await asyncio.wait_for(self._client.nodes_manager.initialize(), 10)
        else:
            if self._client is not None:  # its first initialize failed: start afresh
                with contextlib.suppress(Exception):
                    await self._client.aclose()
            self._client = AsyncRedisCluster(
                startup_nodes=[AsyncClusterNode(host, port) for host, port in self.config.nodes],
                socket_connect_timeout=2,
                socket_timeout=5,
                require_full_coverage=False,
                **_client_kwargs(self.config),
            )
            await asyncio.wait_for(self._client.initialize(), 10)
            self._client_ready = True
        owners: dict[int, Address] = {}
        for partition in range(self.partitions):
            try:
                node = self._client.get_node_from_key(hash_tag(partition).decode())
            except (RedisError, RedisClusterException):
                continue  # not covered now: retried with backoff
            if node is not None:
                owners[partition] = (node.host, int(node.port))
        return owners

    async def _open(self, address: Address) -> _NodeSubscription:
        loop = asyncio.get_running_loop()
        tls = ssl.create_default_context() if self.config.tls else None
        _, sub = await asyncio.wait_for(
            loop.create_connection(
                lambda: _NodeSubscription(self, address), address[0], address[1], ssl=tls
            ),
            2,
        )
        if self.config.password:
            auth = [self.config.password.encode()]
            if self.config.username:
                auth.insert(0, self.config.username.encode())
            sub.send(b"AUTH", *auth)
        sub.send(b"PING")  # its answer (or AUTH's) says the node is alive
        return sub

    def _failing(self, address: Address, why: str) -> None:
        """One line per node and outage, however often it is retried (and the count)."""
        count = self._unreachable.get(address, 0)
        self._unreachable[address] = count + 1
        if not count:
            logger.warning("cluster node %s:%d %s (retried with backoff)", *address, why)

    async def _reconcile(self) -> None:
        """Read the slot map; give every partition a live subscription on its owner."""
        owners = await self._read_slot_map()
        self._changed.clear()  # seen from here on: what changes later is read again
        opened: dict[Address, _NodeSubscription] = {}
        for address in set(owners.values()) - set(self._subs):
            try:
                opened[address] = await self._open(address)
            except (OSError, TimeoutError) as exc:
                self._failing(address, f"unreachable: {exc}")
        if opened:
            await asyncio.wait({s.answered for s in opened.values()}, timeout=ANSWER_TIMEOUT)
        for address, sub in opened.items():
            if sub.answered.done() and sub.error is None:
                self._subs[address] = sub
                if self._unreachable.pop(address, None) is not None:
                    logger.info("cluster node %s:%d answers again", *address)
            else:
                self._failing(address, f"does not answer: {sub.error or 'no reply'}")
                sub.close()
        # Everything below runs without an await: subscribe()/unsubscribe() see it whole.
        self._owners = owners
        serving = set(owners.values())
        for address in [a for a in self._unreachable if a not in serving]:
            del self._unreachable[address]  # replaced (a replica promoted): no longer asked
        for address, sub in list(self._subs.items()):
            if not sub.usable:
                del self._subs[address]
                continue
            mine = {p for p, owner in owners.items() if owner == address}
            # Partitions now served elsewhere: their old node dropped their channels itself
            # when it lost the slot (the unasked sunsubscribe that brought us here).
            removed = sub.partitions - mine
            if removed:
                sub.forget(removed)
            if not mine:
                sub.close()
                del self._subs[address]
                continue
            for partition in sorted(mine - sub.partitions):
                # One SSUBSCRIBE per partition: all its channels lie in one slot.
                sub.ssubscribe(
                    [channel(t, self.partitions) for t in self._by_partition.get(partition, ())]
                )
                sub.partitions.add(partition)

    async def _run(self) -> None:
        failures = churn = 0
        while True:
            try:
                await self._reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no node answered: everything is down
                if self.state != "down":
                    logger.error("cluster broker lost: %s: %s", type(exc).__name__, exc)
                self._drop_all()
            if self._served():
                if self.state != "connected":
                    logger.info("cluster broker serving all %d partitions", self.partitions)
                self.state = "connected"
                self._connected.set()
                failures = 0
                if self._missed:
                    self._missed = False
                    self.reconnects += 1
                    logger.warning("cluster broker recovered; resyncing")
                    self._start_resync()
                listened = asyncio.get_running_loop().time()
                await self._listen()
                # Changes in quick succession (a migration in progress answering ASK, a
                # node flapping) are followed with growing pauses, not in a tight loop.
                if asyncio.get_running_loop().time() - listened < 1.0:
                    churn += 1
                    await asyncio.sleep(self._backoff.compute(churn))
                else:
                    churn = 0
            else:
                self._mark_down()
                failures += 1
                await self._wait_changed(self._backoff.compute(failures))

    def _mark_down(self) -> None:
        self.state = "down"
        self._connected.clear()
        self._missed = True

    def _drop_all(self) -> None:
        for sub in self._subs.values():
            sub.close()
        self._subs.clear()
        self._owners = {}

    async def _wait_changed(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), delay)

    async def _listen(self) -> None:
        """Until a connection is lost or the topology changes; PINGs keep idle ones honest."""
        loop = asyncio.get_running_loop()
        while True:
            changed = asyncio.ensure_future(self._changed.wait())
            waits: set[asyncio.Future[Any]] = {changed, *(s.lost for s in self._subs.values())}
            try:
                await asyncio.wait(
                    waits, timeout=self.health_interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                changed.cancel()
            lost = [a for a, s in self._subs.items() if s.lost.done() or not s.usable]
            now = loop.time()
            silent = [
                a for a, s in self._subs.items() if now - s.last_seen > 2 * self.health_interval
            ]
            for address in silent:
                logger.error("cluster node %s:%d silent: no answer to PING", *address)
                self._subs[address].close()
            for address in {*lost, *silent}:
                sub = self._subs.pop(address)
                if sub.error is not None:
                    logger.error("cluster node %s:%d: %s", *address, sub.error)
                else:
                    logger.error("cluster node %s:%d: subscription lost", *address)
            if lost or silent or self._changed.is_set():
                self.topology_changes += 1
                self._missed = True  # whatever was published meanwhile may be gone
                if not self._served():
                    self._mark_down()
                return
            for sub in self._subs.values():
                sub.send(b"PING")

    # Resync after a loss (the revision rule): Resyncing, shared with the Redis broker.
