"""Worker threads give their database connections back after each unit of work."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from hallboard.dbconn import give_back

pytestmark = pytest.mark.django_db(transaction=True)


def in_worker(work: Any) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_a_healthy_connection_is_kept_on_sqlite_only_and_a_failed_one_closed() -> None:
    """SQLite: a healthy connection stays open for the next batch (reopening costs more
    than a batch). A server database (PostgreSQL): closed, i.e. back to the pool. A
    connection whose work failed is closed on both."""

    def healthy() -> bool:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        give_back()
        still_open = connections["default"].connection is not None
        connections["default"].close()
        return still_open

    def failed() -> bool:
        conn = connections["default"]
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        conn.errors_occurred = True
        give_back()
        return conn.connection is None

    assert in_worker(healthy) is (connection.vendor == "sqlite")
    assert in_worker(failed) is True
