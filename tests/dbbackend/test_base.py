"""hallboard's PostgreSQL backend against a real PostgreSQL behind a proxy the test cuts or holds.

Each test builds its own connection (``proxied``) through a ``Proxy`` with a
one-second statement timeout and a ``Health`` of its own, so the process-wide
one (and the test database) are never affected.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from hallboard import dbhealth
from hallboard.dbbackend.base import DatabaseWrapper
from tests.dbbackend.proxy import Proxy, end_other_sessions, proxy_to_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL=postgres://...)"
    ),
    pytest.mark.django_db(transaction=True),
]

#: Seconds after which a test that would otherwise hang lets the network flow again.
SAFETY_VALVE = 20.0


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with proxy_to_postgres(
        connection.settings_dict["HOST"] or "127.0.0.1",
        int(connection.settings_dict["PORT"] or 5432),
    ) as p:
        yield p
    end_other_sessions(connection)


def proxied(proxy: Proxy, health: dbhealth.Health, seconds: float = 1.0) -> DatabaseWrapper:
    """A connection through ``proxy`` with the bounds settings.py sets, ``seconds`` long."""
    settings_dict: dict[str, Any] = copy.deepcopy(connection.settings_dict)
    ms = int(seconds * 1000)
    options = settings_dict["OPTIONS"]
    options.pop("pool", None)
    options.update(
        connect_timeout=2,
        options=f"-c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms}",
        tcp_user_timeout=ms,
    )
    settings_dict.update(
        HOST="127.0.0.1",
        PORT=str(proxy.port),
        STATEMENT_TIMEOUT=seconds,
        CONN_HEALTH_CHECKS=False,
        CONN_MAX_AGE=0,
    )
    wrapper = DatabaseWrapper(settings_dict, alias="proxied")
    wrapper.health = health
    return wrapper


@pytest.fixture
def probe_table() -> Iterator[str]:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS outage_probe (note text)")
    yield "outage_probe"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS outage_probe")


def notes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM outage_probe")
        return [row[0] for row in cursor.fetchall()]


def settled(proxy: Proxy) -> None:
    """Wait until the proxy holds no connection: the server has seen all it will ever see."""
    deadline = time.monotonic() + SAFETY_VALVE
    while proxy._sockets and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_commit_held_in_the_network_never_commits_later(proxy: Proxy, probe_table: str) -> None:
    """The network stops between INSERT and COMMIT: commit() fails (the watchdog cuts the
    connection instead of waiting), and when the network returns the server has already
    rolled the transaction back (idle_in_transaction_session_timeout): no late write."""
    db = proxied(proxy, dbhealth.Health(probe_interval=3600))
    db.ensure_connection()
    db.set_autocommit(False)
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO outage_probe VALUES ('given up')")
    proxy.hold()
    valve = threading.Timer(SAFETY_VALVE, proxy.forward)
    valve.start()
    try:
        with pytest.raises(OperationalError):
            db.commit()
    finally:
        valve.cancel()
        proxy.forward()  # what was held now reaches the server
        db.close()
    settled(proxy)
    assert notes() == []


def test_a_silent_network_cannot_hold_a_query(proxy: Proxy) -> None:
    """A query whose answer never comes fails (statement timeout + grace) instead of waiting
    for the network; the database is then marked down."""
    health = dbhealth.Health(probe_interval=3600)
    db = proxied(proxy, health)
    db.ensure_connection()
    proxy.hold()
    valve = threading.Timer(SAFETY_VALVE, proxy.forward)
    valve.start()
    try:
        with pytest.raises(OperationalError), db.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        valve.cancel()
        proxy.forward()
        db.close()
    assert health.down


def test_while_the_database_is_down_connecting_fails_at_once(proxy: Proxy) -> None:
    """After one failed connect, the next attempt raises DatabaseUnavailable without even
    trying the network (the proxy sees no new connection): requests fail fast."""
    health = dbhealth.Health(probe_interval=3600)
    db = proxied(proxy, health)
    proxy.cut()
    with pytest.raises(OperationalError):
        db.ensure_connection()
    assert health.down
    tried = proxy.accepted
    for _ in range(3):
        with pytest.raises(dbhealth.DatabaseUnavailable):
            db.ensure_connection()
    assert proxy.accepted == tried


def test_the_database_is_used_again_soon_after_it_returns(proxy: Proxy) -> None:
    """Down, then back: the probe notices and connections work again (no growing backoff)."""
    health = dbhealth.Health(probe_interval=0.05)
    db = proxied(proxy, health)
    proxy.cut()
    with pytest.raises(OperationalError):
        db.ensure_connection()
    time.sleep(0.5)  # several probes fail meanwhile
    proxy.forward()
    deadline = time.monotonic() + SAFETY_VALVE
    while health.down and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not health.down
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    db.close()
