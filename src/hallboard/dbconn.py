"""Database connections of worker threads (the gateway's, the status cache's).

Django opens one connection per thread. A worker thread that runs ORM code
now and then should not keep a PostgreSQL connection to itself while idle,
but reopening a SQLite file for every batch costs more than the batch.
"""

from __future__ import annotations

from django.db import connections


def give_back() -> None:
    """End of a unit of work in a worker thread: return or keep its connections.

    PostgreSQL (and any server database): closed, i.e. returned to the pool
    (``DATABASE_POOL``). SQLite: kept for the next unit of work, unless it failed.
    """
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "sqlite" and not conn.errors_occurred:
            continue
        conn.close()
