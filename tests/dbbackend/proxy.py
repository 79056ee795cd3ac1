"""A TCP proxy between hallboard and PostgreSQL that a test can cut or hold (loopback only).

- ``forward()``: bytes flow both ways (the normal case);
- ``hold()``: connections stay open and new ones are accepted, but nothing is
  forwarded (what arrives waits in the proxy): a network that swallows
  packets, a frozen database host;
- ``cut()``: every connection is closed and new ones are closed at once: the
  database went away.

The machine's PostgreSQL is never touched: only this proxy, which the test
started and stops.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._cut = False
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    # --- what the test does -------------------------------------------------------
    def forward(self) -> None:
        self._cut = False
        self._flowing.set()

    def hold(self) -> None:
        self._flowing.clear()

    def cut(self) -> None:
        self._cut = True
        self._flowing.set()  # the pumps wake up, and find their sockets closed
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            _close(s)

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self.listener)

    # --- the proxy -----------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self._cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                self._flowing.wait()
                if self._cut:
                    break
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # held while this was read: it waits here
                if self._cut:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with self._lock:
                    self._sockets.discard(s)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                _close(s)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.close()


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
