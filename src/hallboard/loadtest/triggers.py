"""Triggers: how a load test makes the edits whose delivery it measures.

- ``db``: bumps revisions through hallboard's own code
  (``hallboard.schools.revision.touch`` inside a transaction, on the configured
  ``DATABASE_URL``), so the real publish path runs after commit: the in-process
  bus and the configured broker. The server runs in another process, so this
  needs the server's broker, found as every publisher finds it
  (``hallboard.realtime.brokers.configured_url``: ``HALLBOARD_BROKER_URL``,
  else ``REDIS_URL``; a Redis or a Redis Cluster). With the gateway in this
  process (``same_process``), the in-process bus is enough: no broker needed.
- ``api``: edits the school's load-test announcement through the management
  API (``PATCH /api/v1/schools/{slug}/announcements/{id}``) with the
  organisation's API key: the whole web path, with no Redis needed when the
  server is one process.
- ``module:attribute``: a factory for anything else with the same methods (the
  benchmark's seeds stack publishes through a Channels layer).

``ts`` is taken inside the editing transaction, just before it commits (for
``api``: just before the request is sent; the edit's body carries it), so
latency covers commit, publishing, the broker, the gateway and the socket.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from django.db import close_old_connections, connections, transaction

from hallboard.loadtest.deliveries import Edit
from hallboard.loadtest.fleet import Fleet
from hallboard.loadtest.http1 import HttpClient
from hallboard.realtime.brokers import configured_url

CHUNK = 500  # schools per IN (...) query


class TriggerError(Exception):
    """The trigger cannot work in this configuration, or an edit failed."""


class Trigger(Protocol):
    name: str
    #: Seconds the last ``edit`` spent publishing after its commit (None when unknown).
    last_publish_s: float | None

    async def start(self, fleet: Fleet) -> None: ...

    async def edit(self, school_ids: Sequence[int]) -> list[Edit]:
        """One change per school (in one transaction where the trigger can)."""
        ...

    async def set_push(self, school_ids: Sequence[int], on: bool) -> list[Edit]:
        """Turn push off (screens poll) or back to the default for these schools."""
        ...

    async def close(self) -> None: ...


def revisions(school_ids: Sequence[int]) -> dict[int, int]:
    from hallboard.schools.models import School

    out: dict[int, int] = {}
    ids = list(school_ids)
    for start in range(0, len(ids), CHUNK):
        out.update(
            School.objects.filter(pk__in=ids[start : start + CHUNK]).values_list("pk", "revision")
        )
    return out


def in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ORM work in a worker thread, giving its connection back afterwards."""
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


class Database:
    """Sync ORM work on one thread, off the coordinator's event loop."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="loadtest-db")

    async def run(self, func: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, in_thread, func, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def reaches_other_processes(url: str) -> bool:
    """Whether events published on the broker ``url`` reach another process: not for the
    in-process broker (an empty URL, ``memory://``)."""
    return bool(url) and not url.startswith("memory://")


def _bump(school_ids: Sequence[int]) -> tuple[list[Edit], float]:
    from hallboard.schools import revision

    with transaction.atomic():
        revision.touch(school_ids)
        revs = revisions(school_ids)
        ts = time.time()
    # Leaving the block committed and ran the on_commit publishers.
    return [Edit(sid, revs[sid], ts) for sid in school_ids], time.time() - ts


def _set_push(school_ids: Sequence[int], on: bool) -> tuple[list[Edit], float]:
    from hallboard.realtime import publish
    from hallboard.schools import revision
    from hallboard.schools.models import School

    value = School.Push.DEFAULT if on else School.Push.OFF
    with transaction.atomic():
        ids = list(school_ids)
        for start in range(0, len(ids), CHUNK):
            School.objects.filter(pk__in=ids[start : start + CHUNK]).update(push=value)
        # As School.save does: what the snapshot says (ws_enabled) changed; and
        # one flags event makes every gateway re-check its sockets.
        revision.touch(ids)
        transaction.on_commit(publish.flags_changed, robust=True)
        revs = revisions(ids)
        ts = time.time()
    return [Edit(sid, revs[sid], ts) for sid in ids], time.time() - ts


class DbTrigger:
    name = "db"

    def __init__(self, *, same_process: bool = False) -> None:
        """``same_process``: the gateway runs in this process (tests), so no Redis is needed."""
        self.db = Database()
        self.same_process = same_process
        self.last_publish_s: float | None = None

    async def start(self, fleet: Fleet) -> None:
        if not self.same_process and not reaches_other_processes(configured_url()):
            raise TriggerError(
                "the db trigger publishes through the broker to the server's process: set "
                "HALLBOARD_BROKER_URL or REDIS_URL as the server has it, or use --trigger api"
            )

    async def edit(self, school_ids: Sequence[int]) -> list[Edit]:
        edits, self.last_publish_s = await self.db.run(_bump, list(school_ids))
        return list(edits)

    async def set_push(self, school_ids: Sequence[int], on: bool) -> list[Edit]:
        edits, self.last_publish_s = await self.db.run(_set_push, list(school_ids), on)
        return list(edits)

    async def close(self) -> None:
        self.db.close()


class ApiTrigger:
    """Edits through the management API over a few keep-alive connections."""

    name = "api"

    def __init__(self, host: str, port: int, connections: int = 4) -> None:
        self.host, self.port = host, port
        self.db = Database()
        self.clients = [HttpClient(host, port, timeout=30) for _ in range(connections)]
        self.fleet: Fleet | None = None
        self.last_publish_s: float | None = None

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        missing = [sid for sid in fleet.schools if sid not in fleet.announcements]
        if missing:
            raise TriggerError("the load-test file has no announcement to edit: run setup again")

    def _headers(self) -> dict[str, str]:
        assert self.fleet is not None
        return {
            "Authorization": f"Bearer {self.fleet.api_key}",
            "Content-Type": "application/json",
        }

    async def _call(self, client: HttpClient, method: str, path: str, body: Any) -> None:
        response = await client.request(method, path, self._headers(), json.dumps(body).encode())
        if response.status >= 300:
            raise TriggerError(f"{method} {path} → {response.status} {response.body[:200]!r}")

    async def _each(self, school_ids: Sequence[int], make: Any) -> list[Edit]:
        """Run one API call per school over the connections; each edit stamped before sending."""
        queue = list(school_ids)
        stamped: dict[int, float] = {}

        async def run(client: HttpClient) -> None:
            while queue:
                sid = queue.pop(0)
                stamped[sid] = time.time()
                method, path, body = make(sid, stamped[sid])
                await self._call(client, method, path, body)

        await asyncio.gather(*(run(c) for c in self.clients))
        revs = await self.db.run(revisions, list(school_ids))
        self.last_publish_s = None
        return [Edit(sid, revs[sid], stamped[sid]) for sid in school_ids]

    async def edit(self, school_ids: Sequence[int]) -> list[Edit]:
        assert self.fleet is not None
        fleet = self.fleet

        def make(sid: int, ts: float) -> tuple[str, str, Any]:
            path = f"/api/v1/schools/{fleet.schools[sid]}/announcements/{fleet.announcements[sid]}"
            return "PATCH", path, {"body": f"load test edit ts={ts:.6f}"}

        return await self._each(school_ids, make)

    async def set_push(self, school_ids: Sequence[int], on: bool) -> list[Edit]:
        assert self.fleet is not None
        fleet = self.fleet

        def make(sid: int, ts: float) -> tuple[str, str, Any]:
            path = f"/api/v1/schools/{fleet.schools[sid]}/push"
            return "PUT", path, {"push": "default" if on else "off"}

        return await self._each(school_ids, make)

    async def close(self) -> None:
        for client in self.clients:
            client.close()
        self.db.close()


def make_trigger(spec: str, host: str, http_port: int) -> Trigger:
    """``db``, ``api``, or ``package.module:factory`` (called with no arguments)."""
    if spec == "db":
        return DbTrigger()
    if spec == "api":
        return ApiTrigger(host, http_port)
    module_name, sep, attribute = spec.partition(":")
    if not sep:
        raise TriggerError(f"unknown trigger {spec!r}: use db, api or module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise TriggerError(f"cannot load trigger {spec!r}: {exc}") from exc
    trigger: Trigger = factory()
    return trigger
