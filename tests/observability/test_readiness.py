"""/readyz names the part that does not answer: Redis killed, the database unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.utils import load_backend
from django.test import Client

from hallboard.observability import readiness
from tests.observability.serving import free_port, serve
from tests.realtime.conftest import RedisProcess


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


def test_ready_when_the_database_answers(db: None, settings: Any) -> None:
    """Database up, no Redis configured: 200 with the database check, and no Redis check."""
    settings.REDIS_URL = ""
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert "redis" not in body["checks"]


def test_redis_killed_makes_readyz_fail_naming_redis(
    db: None, settings: Any, redis_server: RedisProcess
) -> None:
    """Redis up: 200. Redis killed: 503 naming redis. Restarted: 200 again."""
    settings.REDIS_URL = redis_server.url
    assert Client().get("/readyz").json()["checks"]["redis"]["ok"] is True

    redis_server.stop()
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert "Error" in body["checks"]["redis"]["error"]

    optional = Client().get("/readyz?optional=redis")
    assert optional.status_code == 200  # reported, not failing
    assert optional.json()["checks"]["redis"]["ok"] is False

    redis_server.start()
    assert Client().get("/readyz").status_code == 200


def _unreachable_copy_of_the_test_database(tmp_path: Path) -> Any:
    """A connection like the test database's, pointing where no database answers."""
    settings_dict = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "no-such-directory" / "db.sqlite3")
    else:
        settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()), OPTIONS={})
    backend = load_backend(settings_dict["ENGINE"])
    wrapper = backend.DatabaseWrapper(settings_dict, alias="unreachable")
    wrapper.inc_thread_sharing()  # the check runs in the readiness thread pool
    return wrapper


def test_database_check_fails_when_the_database_is_unreachable(db: None, tmp_path: Path) -> None:
    """SELECT 1 on a database that cannot be reached is a failed check with the error."""
    unreachable = _unreachable_copy_of_the_test_database(tmp_path)
    result = readiness.run({"database": (readiness.database, (unreachable,))}, timeout=5)
    assert result["database"].ok is False
    assert "OperationalError" in result["database"].error
    healthy = readiness.run({"database": (readiness.database, ())}, timeout=5)
    assert healthy["database"].ok is True


def test_a_check_that_does_not_answer_in_time_fails() -> None:
    """A check still running at the deadline is reported failed, without waiting for it."""
    import threading

    release = threading.Event()
    result = readiness.run({"slow": (lambda: release.wait(10), ())}, timeout=0.05)
    release.set()
    assert result["slow"].ok is False
    assert result["slow"].error == "no answer in time"


def test_served_readyz_fails_naming_the_database_while_healthz_answers(tmp_path: Path) -> None:
    """A server whose PostgreSQL port is closed: /healthz 200, /readyz 503 naming the database."""
    closed = f"postgres://hallboard@127.0.0.1:{free_port()}/hallboard"
    with serve(
        tmp_path, "--role", "web", DATABASE_URL=closed, READYZ_TIMEOUT_SECONDS="1"
    ) as server:
        server.wait_until_up("/healthz")
        status, body = server.get_json("/readyz")
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["failing"] == ["database"]
        assert body["checks"]["database"]["ok"] is False


async def test_readyz_is_answered_beside_a_busy_django(db: None, settings: Any) -> None:
    """The ASGI layer answers /readyz and /healthz itself: a Django that is stuck (its one
    thread busy, waiting for a database) never sees the probe, which still answers."""
    import asyncio

    stuck = asyncio.Event()
    reached: list[str] = []

    async def busy_django(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await stuck.wait()  # never set: every request here waits forever

    app = readiness.Probes(busy_django)
    for path, query in (("/readyz", b""), ("/healthz", b""), ("/readyz/", b"optional=redis")):
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {"type": "http", "path": path, "method": "GET", "query_string": query}
        await asyncio.wait_for(app(scope, None, send), 10)
        assert sent[0]["status"] == 200, path
        assert b'"status": "ok"' in sent[1]["body"], path
    assert reached == []
    task = asyncio.ensure_future(
        app({"type": "http", "path": "/api/", "method": "GET"}, None, None)
    )
    await asyncio.sleep(0)
    assert reached == ["/api/"]  # everything else goes to Django
    task.cancel()
