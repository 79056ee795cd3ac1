"""The load generator spreads its sockets over loopback source addresses (how it retries
after a close: test_reconnect.py)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from hallboard.loadtest import clients, worker
from hallboard.loadtest.clients import ClientPool, SimScreen, Target, source_address


def _screens(n: int) -> list[SimScreen]:
    return [SimScreen(i, i // 5, f"t{i}", f"dk-{i:08d}", "ws") for i in range(n)]


def test_source_addresses_are_loopback_and_distinct() -> None:
    """Addresses run 127.0.0.2 .. 127.0.0.254, then 127.0.1.1 ...: never 127.0.0.1, never twice."""
    addresses = [source_address(n) for n in range(600)]
    assert addresses[0] == "127.0.0.2"
    assert addresses[252] == "127.0.0.254"
    assert addresses[253] == "127.0.1.1"
    assert len(set(addresses)) == 600
    assert "127.0.0.1" not in addresses
    assert all(a.startswith("127.0.") and not a.endswith(".0") for a in addresses)


def test_fifty_thousand_screens_keep_every_source_under_its_share() -> None:
    """50,000 screens over 4 client processes and two gateway ports: no source address
    carries more than PER_SOURCE sockets to one port, and no two processes share one."""
    screens = _screens(50_000)
    pool = ClientPool(Target("127.0.0.1", 9001, 9000, more_ws_ports=(9002,)), screens, workers=4)
    per_source: Counter[tuple[str | None, int]] = Counter()
    for index in range(pool.count):
        w = worker.Worker(json.loads(json.dumps(pool.config(index))))
        for screen in w.screens.values():
            per_source[screen.source, w.ws_port(screen)] += 1
    assert sum(per_source.values()) == 50_000
    assert max(per_source.values()) <= clients.PER_SOURCE
    flat = [a for mine in pool.sources for a in mine]
    assert len(flat) == len(set(flat))
    assert len(flat) >= 50_000 / clients.PER_SOURCE


def test_a_remote_target_gets_no_source_addresses() -> None:
    """Only a loopback target is connected to from chosen source addresses."""
    pool = ClientPool(Target("192.0.2.1", 9001, 9000), _screens(10), workers=1)
    assert pool.sources == [[]]


async def test_a_worker_connects_from_each_of_its_source_addresses() -> None:
    """A worker given two source addresses opens its sockets from both (seen by the server)."""
    peers: list[str] = []
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        if len(peers) == 6:
            done.set()
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config: dict[str, Any] = {
        "target": Target("127.0.0.1", port, port).to_json(),
        "screens": [[i, 1, f"t{i}", f"dk-{i:08d}", "ws"] for i in range(6)],
        "sources": ["127.0.0.2", "127.0.0.3"],
    }
    w = worker.Worker(json.loads(json.dumps(config)))
    try:
        async with server:
            for screen in w.screens.values():
                w.connect_one(screen)
            await asyncio.wait_for(done.wait(), 30)
    finally:
        for screen in w.screens.values():
            if screen.client is not None:
                screen.client.abort()
    assert Counter(peers) == {"127.0.0.2": 3, "127.0.0.3": 3}
