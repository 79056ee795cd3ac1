"""A TCP proxy between hallboard and PostgreSQL that a test can cut or hold (loopback only):
``reliability.tcpproxy.Proxy`` (forward, hold, cut), and what the database tests need
around it. The machine's PostgreSQL is never touched.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from reliability.tcpproxy import Proxy

__all__ = ["Proxy", "end_other_sessions", "proxy_to_postgres"]


@contextlib.contextmanager
def proxy_to_postgres(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()


def end_other_sessions(connection: Any, wait: float = 10.0) -> None:
    """Wait for the sessions the proxy carried to end (PostgreSQL notices a closed socket
    in its own time); end those of this test database still there, so it can be dropped.

    Only sessions on the test's own database (``test_hb_<name>``) are looked at.
    """
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while True:
            cursor.execute(query)
            pids = [row[0] for row in cursor.fetchall()]
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
