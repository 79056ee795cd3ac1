"""Screens and a writer for the reliability runs: what a display and a school office do.

A ``Screen`` behaves like the bundled page (docs/protocol.md), on a shorter
clock so that a run stays short: it polls ``status`` with ``If-None-Match``
(adaptive between ``poll_min`` and ``poll_max`` seconds, back to the minimum
after a change), fetches the ``snapshot`` when the revision moved, and — a push
screen — keeps a WebSocket open, fetching the snapshot when ``hello`` or
``invalidate`` names a newer revision, reconnecting with full-jitter backoff.
What it *shows* is the revision of the last snapshot it fetched: the history of
those (time, revision, what made it fetch) is what a run checks.

Like the deployment kit's nginx (``proxy_next_upstream error timeout``) a
screen moves to the next replica only when its replica refuses the connection
or does not answer; a ``503`` is retried on the same replica later.

The ``Writer`` creates announcements through the management API, each with an
``Idempotency-Key``, retried until it is answered; after each ``201`` it reads
the school's revision (``GET /api/v1/schools``). A write is *committed* when it
was answered ``201``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Endpoint = tuple[int, int]  # (web port, gateway port) of one replica
HTTP_TIMEOUT = 3.0  # a screen's requests
WRITER_TIMEOUT = 10.0  # the writer's: longer than the server's own bounds (503 within 3 s)


@dataclass
class Shown:
    at: float  # time.monotonic()
    rev: int
    via: str  # "push", "poll" or "start"


@dataclass
class Screen:
    token: str
    dk: str
    school: str
    endpoints: list[Endpoint]
    home: int = 0
    push: bool = True
    poll_min: float = 2.0
    poll_max: float = 6.0
    backoff_cap: float = 5.0
    rng: random.Random = field(default_factory=random.Random)
    shown: list[Shown] = field(default_factory=list)
    closes: Counter[int] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    failovers: int = 0

    def __post_init__(self) -> None:
        self.current = self.home % len(self.endpoints)
        self._want = asyncio.Event()
        self._want_via = "poll"
        self._etag: str | None = None
        self._snapshot_etag: str | None = None
        self._ws_open = False

    @property
    def rev(self) -> int:
        return self.shown[-1].rev if self.shown else -1

    def reached_at(self, rev: int) -> float | None:
        """When this screen first showed ``rev`` or a later revision (None: not yet)."""
        for entry in self.shown:
            if entry.rev >= rev:
                return entry.at
        return None

    def _web(self) -> str:
        return f"http://127.0.0.1:{self.endpoints[self.current][0]}"

    def _failover(self) -> None:
        self.current = (self.current + 1) % len(self.endpoints)
        self.failovers += 1

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._poll_loop(client, stop))]
        tasks.append(asyncio.create_task(self._fetch_loop(client, stop)))
        if self.push:
            tasks.append(asyncio.create_task(self._ws_loop(stop)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _get(self, client: httpx.AsyncClient, path: str, etag: str | None) -> Any:
        headers = {"X-Device-Key": self.dk, "Authorization": f"Bearer {self.token}"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = await client.get(self._web() + path, headers=headers, timeout=HTTP_TIMEOUT)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError):
            self.statuses["unreachable"] += 1
            self._failover()
            return None
        except httpx.HTTPError:
            self.statuses["error"] += 1
            return None
        self.statuses[str(response.status_code)] += 1
        return response

    def want(self, via: str) -> None:
        self._want_via = via
        self._want.set()

    async def _fetch_loop(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Fetch the snapshot whenever asked; retried until it succeeds."""
        self.want("start")
        while not stop.is_set():
            await self._want.wait()
            self._want.clear()
            via = self._want_via
            response = await self._get(client, "/api/display/snapshot/", self._snapshot_etag)
            if response is not None and response.status_code == 200:
                self._snapshot_etag = response.headers.get("etag")
                rev = int(response.json()["meta"]["rev"])
                if rev > self.rev:
                    self.shown.append(Shown(time.monotonic(), rev, via))
                continue
            if response is not None and response.status_code == 304:
                continue
            await asyncio.sleep(self._retry_after(response))
            if not self._want.is_set():
                self.want(via)

    def _retry_after(self, response: httpx.Response | None) -> float:
        if response is not None and response.headers.get("retry-after", "").isdigit():
            return min(float(response.headers["retry-after"]), self.poll_max)
        return self.rng.uniform(0.2, 1.0)

    async def _poll_loop(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        interval = self.poll_min
        while not stop.is_set():
            await asyncio.sleep(interval * self.rng.uniform(0.8, 1.2))
            response = await self._get(client, "/api/display/status/", self._etag)
            if response is None or response.status_code not in (200, 304):
                interval = self.poll_min
                continue
            if response.status_code == 200:
                self._etag = response.headers.get("etag")
                if int(response.json()["rev"]) > self.rev:
                    self.want("poll")
                    interval = self.poll_min
                    continue
            interval = min(self.poll_max, interval * 1.5)

    async def _ws_loop(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            gateway = self.endpoints[self.current][1]
            url = f"ws://127.0.0.1:{gateway}/ws/display/?token={self.token}&dk={self.dk}"
            try:
                async with connect(url, open_timeout=HTTP_TIMEOUT, close_timeout=2) as ws:
                    attempt = 0
                    async for raw in ws:
                        message = json.loads(raw)
                        kind = message.get("type")
                        if (
                            kind in ("hello", "invalidate") and int(message["rev"]) > self.rev
                        ) or kind == "alert":
                            self.want("push")
                        elif kind == "command":
                            await ws.send(json.dumps({"type": "ack", "id": message["id"]}))
                self.closes[ws.close_code or 1006] += 1
            except ConnectionClosed as closed:
                self.closes[closed.rcvd.code if closed.rcvd else 1006] += 1
            except InvalidStatus as refused:
                self.closes[refused.response.status_code] += 1
            except (OSError, TimeoutError):
                self.closes[0] += 1  # no connection at all: the replica is down
                self._failover()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.closes[-1] += 1
            attempt += 1
            cap = min(self.backoff_cap, 0.25 * 2**attempt)
            await asyncio.sleep(self.rng.uniform(0.1, cap))


@dataclass
class Commit:
    school: str
    rev: int
    at: float  # when the 201 arrived (time.monotonic())
    key: str


@dataclass
class Writer:
    """Creates announcements one after another, each retried with its key until answered."""

    api_key: str
    endpoints: list[Endpoint]
    schools: list[str]
    interval: float = 1.0
    commits: list[Commit] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: int = 0

    def __post_init__(self) -> None:
        self.current = 0
        self.pending: set[str] = set()

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.endpoints[self.current][0]}/api/v1/{path}"

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}", **kw.pop("headers", {})}
        try:
            response = await client.request(
                method, self._url(path), headers=headers, timeout=WRITER_TIMEOUT, **kw
            )
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError):
            self.statuses["unreachable"] += 1
            self.current = (self.current + 1) % len(self.endpoints)
            return None
        self.statuses[str(response.status_code)] += 1
        return response

    async def write_one(self, client: httpx.AsyncClient, n: int, deadline: float) -> bool:
        """One announcement, retried with its key until ``deadline`` (monotonic)."""
        school = self.schools[n % len(self.schools)]
        key = str(uuid.uuid4())
        body = {"title": f"Reliability {n}", "body": f"write {n}", "priority": n % 3}
        self.pending.add(key)
        while time.monotonic() < deadline:
            self.attempts += 1
            response = await self._send(
                client,
                "POST",
                f"schools/{school}/announcements",
                json=body,
                headers={"Idempotency-Key": key},
            )
            if response is not None and response.status_code == 201:
                at = time.monotonic()
                self.pending.discard(key)
                rev = await self._revision(client, school, deadline)
                if rev is not None:
                    self.commits.append(Commit(school, rev, at, key))
                return True
            await asyncio.sleep(0.3)
        return False

    async def _revision(
        self, client: httpx.AsyncClient, school: str, deadline: float
    ) -> int | None:
        while time.monotonic() < deadline:
            response = await self._send(client, "GET", "schools")
            if response is not None and response.status_code == 200:
                for entry in response.json():
                    if entry["slug"] == school:
                        return int(entry["revision"])
            await asyncio.sleep(0.3)
        return None

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event, retry_for: float) -> None:
        """Write every ``interval`` until ``stop``; each write retried up to ``retry_for`` s."""
        n = len(self.commits) + len(self.pending)
        while not stop.is_set():
            started = time.monotonic()
            await self.write_one(client, n, started + retry_for)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), max(0.0, self.interval - (time.monotonic() - started))
                )

    async def announcements(self, client: httpx.AsyncClient) -> dict[str, int]:
        """How many announcements each school has now (every write is one)."""
        counts: dict[str, int] = {}
        for school in self.schools:
            response = None
            for _ in range(20):
                response = await self._send(client, "GET", f"schools/{school}/announcements")
                if response is not None and response.status_code == 200:
                    break
                await asyncio.sleep(0.5)
            if response is not None and response.status_code == 200:
                counts[school] = len(response.json())
        return counts
