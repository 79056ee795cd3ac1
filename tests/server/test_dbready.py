"""`hallboard migrate` under the migration lock; "run `hallboard migrate` first"."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connection

from hallboard.server import dbready

HALLBOARD = [sys.executable, "-m", "hallboard"]


def _migrate_while_locked(env: dict[str, str], release: Any) -> tuple[str, int]:
    """Start `hallboard migrate` while the lock is held; release once it says it waits."""
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*HALLBOARD, "migrate", "--noinput"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    release()
    rest, _ = process.communicate(timeout=300)
    return first + rest, process.returncode


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="uses its own SQLite data directory")
def test_migrate_waits_for_the_lock_on_sqlite(tmp_path: Path) -> None:
    """While another process holds the migration lock, `hallboard migrate` says it waits,
    and migrates once the lock is released."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    lock = (tmp_path / "hallboard.sqlite3.migrate.lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)

    def release() -> None:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()

    output, code = _migrate_while_locked(env, release)
    assert code == 0, output
    assert output.startswith("Another process is migrating this database: waiting for it.")
    assert "Applying schools.0001_initial... OK" in output


@pytest.mark.django_db(transaction=True)
def test_migrate_waits_for_the_advisory_lock_on_postgresql() -> None:
    """PostgreSQL: `hallboard migrate` waits for the advisory lock another session holds."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    name = connection.settings_dict["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DATABASE_URL": url}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [dbready.MIGRATION_LOCK_KEY])

    def release() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [dbready.MIGRATION_LOCK_KEY])

    output, code = _migrate_while_locked(env, release)
    assert code == 0, output
    assert output.startswith("Another process is migrating this database: waiting for it.")
    assert "No migrations to apply." in output


@pytest.mark.django_db(transaction=True)
def test_waiting_for_the_lock_outlasts_the_statement_timeout() -> None:
    """PostgreSQL: another replica's migrations may take longer than a request's statement
    bound (DATABASE_STATEMENT_TIMEOUT, here 1 s); the waiting replica keeps waiting and then
    finds nothing to apply, instead of failing with "run `hallboard migrate` first"."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    name = connection.settings_dict["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_STATEMENT_TIMEOUT": "1"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [dbready.MIGRATION_LOCK_KEY])

    def release() -> None:
        time.sleep(4)  # the other replica migrates for longer than the 1 s bound (+ grace)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [dbready.MIGRATION_LOCK_KEY])

    output, code = _migrate_while_locked(env, release)
    assert code == 0, output
    assert "No migrations to apply." in output


@pytest.mark.django_db
def test_a_migrated_database_is_ready() -> None:
    """On the test database (migrated), nothing is pending and commands may go on."""
    assert dbready.pending_migrations() == []
    dbready.require_migrated()


@pytest.mark.django_db
def test_pending_migrations_refuse_with_the_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """With migrations pending, require_migrated and serve's check name the command to run,
    and explain() turns a database error into the same sentence."""
    monkeypatch.setattr(dbready, "pending_migrations", lambda using="default": ["demo.0009_x"])
    with pytest.raises(CommandError, match=r"run `hallboard migrate` first\. \(1 migration"):
        dbready.require_migrated()
    with pytest.raises(CommandError, match="run `hallboard migrate` first"):
        dbready.check_for_serving()
    from django.db import OperationalError

    assert "run `hallboard migrate` first" in (dbready.explain(OperationalError("x")) or "")
    assert dbready.explain(ValueError("x")) is None


@pytest.mark.django_db
def test_serving_starts_when_the_database_is_away(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A database outage at start is logged and serving goes on (probes, open sockets);
    other commands refuse with the reason."""
    from django.db import OperationalError

    def away(using: str = "default") -> list[str]:
        raise OperationalError("connection refused\nmore detail")

    monkeypatch.setattr(dbready, "pending_migrations", away)
    dbready.check_for_serving()
    assert "database unreachable at start (connection refused)" in caplog.text
    with pytest.raises(CommandError, match=r"Cannot reach the database: connection refused$"):
        dbready.require_migrated()
