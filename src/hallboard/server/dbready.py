"""Whether the database is set up for this code: "run `hallboard migrate` first", not a traceback.

Commands that need the database (``seed-demo``, ``createscreen``, ``serve``...)
call ``require_migrated()`` first; the ``hallboard`` command itself turns a
database error of any other command into the same sentence when the cause is
migrations not applied (``explain()``). ``migration_lock()`` is what makes
``hallboard migrate`` safe to run from several replicas starting at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from hallboard import dbhealth

logger = logging.getLogger("hallboard.server")

RUN_MIGRATE_FIRST = "The database is not set up for this version: run `hallboard migrate` first."

#: The PostgreSQL advisory lock ``hallboard migrate`` holds (any constant bigint;
#: this one is "hallboard" in ASCII, folded into 63 bits).
MIGRATION_LOCK_KEY = int.from_bytes(b"hallbord", "big") & 0x7FFF_FFFF_FFFF_FFFF


def pending_migrations(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Migrations this code has that the database has not applied (``app.name``).

    Raises ``DatabaseError`` when the database cannot be reached.
    """
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[using])
    targets = executor.loader.graph.leaf_nodes()
    return [
        f"{migration.app_label}.{migration.name}"
        for migration, backwards in executor.migration_plan(targets)
        if not backwards
    ]


def require_migrated(using: str = DEFAULT_DB_ALIAS) -> None:
    """Refuse, with the sentence to act on, when migrations are pending or the database is away."""
    try:
        pending = pending_migrations(using)
    except DatabaseError as exc:
        raise CommandError(f"Cannot reach the database: {_first_line(exc)}") from exc
    if pending:
        raise CommandError(f"{RUN_MIGRATE_FIRST} ({_count(pending)} not applied)")


def check_for_serving(using: str = DEFAULT_DB_ALIAS) -> None:
    """``serve``: refuse a database that is behind the code; start anyway when it is away.

    A server started during a database outage serves what it can (probes,
    open sockets, displays' cached snapshots) and recovers by itself; a server
    started on an old schema would fail on every request instead.
    """
    try:
        pending = pending_migrations(using)
    except DatabaseError as exc:
        logger.warning("database unreachable at start (%s): serving anyway", _first_line(exc))
        return
    finally:
        connections[using].close()  # nothing held open across the serving loop's start
    if pending:
        raise CommandError(f"{RUN_MIGRATE_FIRST} ({_count(pending)} not applied)")


def explain(exc: BaseException, using: str = DEFAULT_DB_ALIAS) -> str | None:
    """The sentence for a database error caused by migrations not applied, else None."""
    if not isinstance(exc, DatabaseError):
        return None
    with contextlib.suppress(Exception):
        connections[using].close()  # the failed transaction may have left it unusable
    try:
        pending = pending_migrations(using)
    except Exception:  # unreachable database or worse: not ours to explain
        return None
    return f"{RUN_MIGRATE_FIRST} ({_count(pending)} not applied)" if pending else None


@contextlib.contextmanager
def migration_lock(
    using: str = DEFAULT_DB_ALIAS, waiting: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the migration lock: one migrating process at a time, the others wait.

    PostgreSQL: a session advisory lock on the connection migrate then uses.
    SQLite: an exclusive lock on a file beside the database. ``waiting`` is
    called once when another process holds the lock.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        # Waiting for another replica's migrations takes as long as they do: not bounded
        # by DATABASE_STATEMENT_TIMEOUT (a request's bound), or the waiting replica would
        # give up after 10 s with a misleading "run `hallboard migrate` first".
        dbhealth.unbounded_for_migrations(using)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    if waiting is not None:
                        waiting()
                    cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            try:
                yield
            finally:
                with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        finally:
            with contextlib.suppress(DatabaseError):
                dbhealth.bounded_again(using)
        return
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"] not in ("", ":memory:"):
        lock_path = Path(f"{connection.settings_dict['NAME']}.migrate.lock")
        with lock_path.open("a") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None:
                    waiting()
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    yield


def _count(pending: list[str]) -> str:
    return f"{len(pending)} migration" + ("" if len(pending) == 1 else "s")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
