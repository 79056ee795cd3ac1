"""The migration lock: replicas starting together migrate once, and wait as long as it takes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from hallboard.server import dbready


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_replica_waits_out_migrations_longer_than_its_statement_timeout() -> None:
    """Another replica holds the lock for longer than this connection's statement timeout:
    the waiting replica gets the lock when it is released, instead of its wait being
    cancelled (which left it refusing to start with "migrations not applied")."""
    import psycopg

    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        autocommit=True,
    )
    released = threading.Event()
    waited: list[bool] = []
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [dbready.MIGRATION_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 100")  # ms; the other holds it longer
        timer = threading.Timer(
            0.6,
            lambda: (
                other.execute("SELECT pg_advisory_unlock(%s)", [dbready.MIGRATION_LOCK_KEY]),
                released.set(),
            ),
        )
        timer.start()
        with dbready.migration_lock(waiting=lambda: waited.append(True)):
            assert released.is_set()  # not before the other let go
            held = other.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = %s",
                [connection.connection.info.backend_pid],
            ).fetchone()
            assert held == (1,)
        timer.join()
        assert waited == [True]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
        other.close()


def test_sqlite_replicas_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the lock is a file lock beside the database: a second holder waits."""
    name = str(tmp_path / "db.sqlite3")
    fake: Any = type("C", (), {"vendor": "sqlite", "settings_dict": {"NAME": name}})()
    monkeypatch.setitem(connections._connections.__dict__, "lockdb", fake)  # type: ignore[attr-defined]
    order: list[str] = []
    inside = threading.Event()
    leave = threading.Event()

    def first() -> None:
        with dbready.migration_lock("lockdb"):
            order.append("first in")
            inside.set()
            leave.wait(5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    threading.Timer(0.2, leave.set).start()
    with dbready.migration_lock("lockdb", waiting=lambda: order.append("second waits")):
        order.append("second in")
    thread.join()
    assert order == ["first in", "second waits", "first out", "second in"]
