"""A TCP proxy in front of a server that a test or a fault run can cut or hold (loopback only).

- ``forward()`` (or ``restore()``): bytes flow both ways (the normal case);
- ``hold()``: connections stay open and new ones are accepted, but nothing is
  forwarded (what arrives waits in the proxy): a network that swallows
  packets, a frozen database host;
- ``cut()``: every connection is closed and new ones are closed at once: the
  server went away.

Used by the reliability run (one proxy per replica in front of PostgreSQL,
``reliability/stack.py``) and by the database tests (``tests/dbbackend/proxy.py``).
The server behind it is never touched: only this proxy, which its user started and
stops.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Forwards 127.0.0.1:<port> to ``target``; see the module docstring for what a test or a
    fault run does with it."""

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
    @property
    def is_cut(self) -> bool:
        return self._cut

    def forward(self) -> None:
        """Bytes flow both ways again (after ``hold()`` or ``cut()``)."""
        self._cut = False
        self._flowing.set()

    restore = forward

    def hold(self) -> None:
        self._flowing.clear()

    def cut(self) -> None:
        self._cut = True
        self._flowing.set()  # the pumps wake up, and find their sockets closed
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            # shutdown() first: it wakes a pump blocked in recv() and sends the FIN at
            # once (a bare close() of a socket another thread reads does neither).
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
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
