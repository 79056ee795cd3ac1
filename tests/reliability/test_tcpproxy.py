"""The TCP proxy a fault run and the database tests put in front of a server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from reliability.tcpproxy import Proxy


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    """A loopback echo server (one thread per connection), stopped after the test."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[:2]
    server.close()


@pytest.fixture
def proxy(echo: tuple[str, int]) -> Iterator[Proxy]:
    p = Proxy(echo)
    yield p
    p.close()


def connect(proxy: Proxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def test_bytes_flow_both_ways(proxy: Proxy) -> None:
    """Forwarding, the server's answer comes back through the proxy."""
    with connect(proxy) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
    assert proxy.accepted == 1
    assert proxy.is_cut is False


def test_held_bytes_wait_and_then_arrive(proxy: Proxy) -> None:
    """Held, nothing is forwarded (the client waits); forwarded again, what waited arrives."""
    with connect(proxy) as s:
        proxy.hold()
        s.sendall(b"late")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(4)
        proxy.forward()
        s.settimeout(5)
        assert s.recv(4) == b"late"


def test_a_cut_closes_connections_and_refuses_new_ones_until_restored(proxy: Proxy) -> None:
    """Cut, open connections end and new ones are closed at once; restored, it forwards."""
    with connect(proxy) as s:
        s.sendall(b"a")
        assert s.recv(1) == b"a"
        proxy.cut()
        assert proxy.is_cut is True
        assert s.recv(1) == b""  # closed by the proxy
    with connect(proxy) as s:
        assert s.recv(1) == b""  # refused while cut
    proxy.restore()
    with connect(proxy) as s:
        s.sendall(b"b")
        assert s.recv(1) == b"b"
