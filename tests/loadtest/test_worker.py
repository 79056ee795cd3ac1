"""A load-test client process's screens: the socket protocol, the rows it reports, its
commands, polling. Fake transports where bytes suffice; tiny servers on 127.0.0.1 where
the network matters. (How a screen waits before reconnecting: test_reconnect.py; which
source address it connects from: test_sources.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from hallboard.loadtest import worker as worker_module
from hallboard.loadtest import wsframes
from hallboard.loadtest.clients import Target
from hallboard.loadtest.worker import Worker, WsClient, _reason_for_close, _reason_for_error

BOUND = 30.0  # seconds a test waits for something that happens at once on a quiet machine


class FakeTransport:
    """What a WsClient writes, and whether it closed or aborted its socket."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def client_frames(data: bytes | bytearray) -> list[tuple[int, bytes]]:
    """The (masked) frames a client wrote, unmasked."""
    out, pos = [], 0
    while pos < len(data):
        opcode, length = data[pos] & 0x0F, data[pos + 1] & 0x7F
        assert data[pos + 1] & 0x80, "a client frame must be masked"
        assert length < 126
        key = bytes(data[pos + 2 : pos + 6])
        out.append((opcode, wsframes.mask(bytes(data[pos + 6 : pos + 6 + length]), key)))
        pos += 6 + length
    return out


def server_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked (server) frame."""
    return bytes([0x80 | opcode, len(payload)]) + payload


def hello(rev: int = 1, kind: str = "hello") -> bytes:
    return server_frame(wsframes.OP_TEXT, json.dumps({"type": kind, "rev": rev}).encode())


def upgrade(key: str, accept: str | None = None) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept or wsframes.accept_for(key)}\r\n\r\n"
    ).encode()


def make_worker(
    port: int = 9, modes: str = "w", more_ports: tuple[int, ...] = (), **config: Any
) -> Worker:
    """A worker for screens 0, 1, ... of school 1, one per letter of ``modes``: ``w`` a push
    screen, ``p`` a polling one."""
    screens = [
        [i, 1, f"t{i}", f"dk-{i:08d}", "ws" if m == "w" else "poll"] for i, m in enumerate(modes)
    ]
    target = Target("127.0.0.1", port, port, more_ws_ports=more_ports).to_json()
    return Worker(json.loads(json.dumps({"target": target, "screens": screens, **config})))


def attempt(w: Worker, idx: int = 0) -> tuple[WsClient, FakeTransport]:
    """An attempt of screen ``idx`` whose TCP connection is made (a fake transport)."""
    screen = w.screens[idx]
    client = WsClient(w, screen)
    screen.client = client
    w.connecting += 1
    transport = FakeTransport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


def opened(w: Worker, idx: int = 0, rev: int = 1) -> tuple[WsClient, FakeTransport]:
    """An attempt that got its upgrade and hello."""
    client, transport = attempt(w, idx)
    client.data_received(upgrade(client.key) + hello(rev))
    assert client.opened
    transport.written.clear()
    return client, transport


def kinds(w: Worker) -> list[list[Any]]:
    """The rows reported so far without their times: [screen, kind, value]."""
    return [row[:3] for row in w.rows]


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most BOUND seconds) until ``condition()`` holds."""
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.01)


async def finished(w: Worker) -> None:
    """Let every task the worker started end (connects, polls)."""
    for screen in w.screens.values():
        if screen.retry is not None:
            screen.retry.cancel()
        if screen.polling is not None:
            screen.polling.cancel()
    tasks = list(w._tasks) + [s.polling for s in w.screens.values() if s.polling is not None]
    async with asyncio.timeout(BOUND):
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def refused_port() -> Any:
    """A loopback port bound but not listening: every connect to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# --- the socket protocol -----------------------------------------------------------------


async def test_a_screen_handshakes_to_its_port_then_reports_what_the_server_sends() -> None:
    """The handshake asks for the display path with the screen's token and device key, on
    the screen's gateway port (screen n: port n mod replicas); after the upgrade, hello
    opens it (``h`` with the attempt's start), invalidate and alert are ``i``/``a``, another
    type ``x``, a pong nothing; the screen's revision only rises."""
    w = make_worker(9001, "ww", more_ports=(9002,))
    client, transport = attempt(w, 1)
    request = bytes(transport.written).decode()
    assert request.startswith("GET /ws/display/?token=t1&dk=dk-00000001 HTTP/1.1\r\n")
    assert "Host: 127.0.0.1:9002\r\n" in request
    assert f"Sec-WebSocket-Key: {client.key}\r\n" in request
    response = upgrade(client.key) + hello(3)
    client.data_received(response[:20])  # the head may arrive in pieces
    assert w.rows == []
    client.data_received(response[20:])
    assert (w.open, w.connecting) == (1, 0)
    assert kinds(w) == [[1, "h", 3]]
    assert w.rows[0][4] == client.started
    for kind, rev in (("invalidate", 4), ("pong", 7), ("alert", 6), ("schedule", 5)):
        client.data_received(hello(rev, kind))
    client.data_received(server_frame(wsframes.OP_TEXT, b"not json"))
    assert kinds(w)[1:] == [[1, "i", 4], [1, "a", 6], [1, "x", "schedule"], [1, "x", "malformed"]]
    assert w.screens[1].rev == 7
    assert w.counters["frames"] == 6


async def test_a_ping_is_answered_with_a_pong_of_the_same_payload() -> None:
    """A ping from the server gets a (masked) pong carrying its payload back."""
    w = make_worker()
    client, transport = opened(w)
    client.data_received(server_frame(wsframes.OP_PING, b"are you there"))
    assert client_frames(transport.written) == [(wsframes.OP_PONG, b"are you there")]


@pytest.mark.parametrize(
    ("payload", "reported", "answered"),
    [(struct.pack("!H", 4401), 4401, 4401), (b"", 1005, 1000), (b"\x03", 1002, 1002)],
)
async def test_a_close_from_the_server_is_answered_and_reported(
    payload: bytes, reported: int, answered: int
) -> None:
    """A close frame is answered with its code (1000 for a close without a code; 1002 for
    a malformed one) and reported as ``c`` with the code; the screen is free again."""
    w = make_worker()
    client, transport = opened(w)
    client.data_received(server_frame(wsframes.OP_CLOSE, payload))
    assert client_frames(transport.written) == [(wsframes.OP_CLOSE, struct.pack("!H", answered))]
    assert transport.closed
    assert kinds(w)[-1] == [0, "c", reported]
    assert (w.open, w.screens[0].client) == (0, None)
    client.connection_lost(None)  # the socket's end after the close: nothing more
    assert kinds(w)[-1] == [0, "c", reported]
    assert w.open == 0


async def test_a_frame_breaking_the_protocol_closes_the_socket_with_its_code() -> None:
    """A masked frame from the server (a protocol error) is answered with a 1002 close and
    reported as a close with that code."""
    w = make_worker()
    client, transport = opened(w)
    client.data_received(wsframes.encode_frame(wsframes.OP_TEXT, b"{}"))
    assert client_frames(transport.written) == [(wsframes.OP_CLOSE, struct.pack("!H", 1002))]
    assert kinds(w)[-1] == [0, "c", 1002]


@pytest.mark.parametrize("fallback", [True, False])
async def test_push_turned_off_falls_back_to_polling(fallback: bool) -> None:
    """A 4409 close (push off for the school) starts the screen polling, as the display page
    does; not with the fallback turned off."""
    w = make_worker(poll_fallback=fallback)
    client, _ = opened(w)
    client.data_received(server_frame(wsframes.OP_CLOSE, struct.pack("!H", 4409)))
    assert (w.screens[0].polling is not None) is fallback
    await finished(w)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "http:503"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "handshake:accept"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "handshake:malformed"),
    ],
)
async def test_a_refused_or_broken_upgrade_fails_the_attempt(answer: bytes, reason: str) -> None:
    """An answer that is not a valid upgrade fails the attempt (``f`` with why, dated by its
    start), aborts the socket and frees the screen and its in-flight slot."""
    w = make_worker()
    released: list[bool] = []
    client, transport = attempt(w)
    client.release = lambda: released.append(True)
    client.data_received(answer)
    assert w.rows == [[0, "f", reason, client.started]]
    assert transport.aborted
    assert released == [True]
    assert (w.connecting, w.screens[0].client, w.counters["failed"]) == (0, None, 1)


@pytest.mark.parametrize(("exc", "reason"), [(ConnectionResetError(), "reset"), (None, "closed")])
async def test_a_socket_lost_before_hello_is_a_failure(exc: Exception | None, reason: str) -> None:
    """A connection lost before hello is a failed attempt: ``reset`` or ``closed``."""
    w = make_worker()
    client, _ = attempt(w)
    client.data_received(upgrade(client.key))
    client.connection_lost(exc)
    assert kinds(w) == [[0, "f", reason]]
    assert w.connecting == 0


async def test_a_socket_lost_after_hello_is_a_close_without_a_close_frame() -> None:
    """A connection lost after hello is reported as a 1006 close."""
    w = make_worker()
    client, _ = opened(w)
    client.connection_lost(ConnectionResetError())
    assert kinds(w)[-1] == [0, "c", 1006]
    assert w.open == 0


async def test_a_connection_made_after_the_attempt_was_given_up_is_aborted_at_once() -> None:
    """A TCP connection that completes after its attempt timed out sends nothing."""
    w = make_worker()
    screen = w.screens[0]
    client = WsClient(w, screen)
    screen.client = client
    w.connecting += 1
    client.on_timeout()
    transport = FakeTransport()
    client.connection_made(transport)  # type: ignore[arg-type]
    assert transport.aborted
    assert transport.written == b""
    assert kinds(w) == [[0, "f", "timeout"]]


async def test_messages_for_an_attempt_no_longer_the_screens_are_not_counted() -> None:
    """Frames reaching an attempt the screen has moved on from abort it and count nothing."""
    w = make_worker()
    client, transport = attempt(w)
    w.screens[0].client = None
    client.data_received(upgrade(client.key) + hello(5))
    assert transport.aborted
    assert w.rows == []
    assert (w.open, w.counters["frames"], w.screens[0].rev) == (0, 0, 0)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionRefusedError(), "refused"),
        (ConnectionResetError(), "reset"),
        (TimeoutError(), "timeout"),
        (OSError(errno.EMFILE, "Too many open files"), "error:EMFILE"),
        (OSError("no errno"), "error:OSError"),
        (ValueError("bad"), "error:ValueError"),
    ],
)
def test_a_failed_connect_is_named_by_its_error(exc: BaseException, reason: str) -> None:
    """The reasons the coordinator counts failures by: refused, reset, timeout, the errno's
    name (EMFILE: out of file descriptors), else the exception's type."""
    assert _reason_for_error(exc) == reason


def test_a_close_code_names_the_failure_and_1006_says_how_it_ended() -> None:
    """A close frame's code is ``close:<code>``; without one (1006), a reset or ``closed``."""
    assert _reason_for_close(4409, None) == "close:4409"
    assert _reason_for_close(1006, ConnectionResetError()) == "reset"
    assert _reason_for_close(1006, None) == "closed"


# --- connecting over the network ------------------------------------------------------------


async def test_a_screen_against_a_websocket_server() -> None:
    """Against a real WebSocket server: the handshake is accepted, hello and a push are
    reported, the server's ping is answered, and its 4409 close is answered with 4409 and
    reported."""
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        await ws.send(json.dumps({"type": "hello", "rev": 2}))
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, BOUND)
        await ws.send(json.dumps({"type": "invalidate", "rev": 3}))
        await ws.close(4409, "push off")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        w = make_worker(port, poll_fallback=False)
        w.connect_one(w.screens[0])
        await until(lambda: any(row[1] == "c" for row in w.rows))
        await finished(w)
    assert paths == ["/ws/display/?token=t0&dk=dk-00000000"]
    assert kinds(w) == [[0, "h", 2], [0, "i", 3], [0, "c", 4409]]
    assert (w.open, w.connecting, w.counters["attempts"]) == (0, 0, 1)


async def test_connect_opens_the_push_screens_asked_for_and_reports_refusals(
    refused_port: int,
) -> None:
    """``connect`` with ids, at a rate and one handshake in flight: only push screens among
    them are attempted (polling ones are not), each refusal is a ``refused`` failure that
    frees its slot for the next."""
    w = make_worker(refused_port, "wwpw")
    w.handle({"cmd": "connect", "ids": [0, 1, 2], "rate": 1000.0, "inflight": 1})
    await until(lambda: len(w.rows) == 2)
    await finished(w)
    assert sorted(kinds(w)) == [[0, "f", "refused"], [1, "f", "refused"]]
    assert (w.counters["attempts"], w.connecting, w.open) == (2, 0, 0)


async def test_a_handshake_without_an_answer_is_given_up_at_the_timeout() -> None:
    """A server that accepts but never answers: the attempt fails as ``timeout`` after
    ``handshake_timeout`` and its socket is closed."""
    accepted: list[asyncio.StreamWriter] = []
    eof = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.read(4096):
            pass
        eof.set()  # the client closed its side
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        w = make_worker(server.sockets[0].getsockname()[1], handshake_timeout=0.2)
        w.connect_one(w.screens[0])
        await until(lambda: bool(w.rows))
        async with asyncio.timeout(BOUND):
            await eof.wait()
        await finished(w)
    assert kinds(w) == [[0, "f", "timeout"]]
    assert (w.connecting, w.screens[0].client, len(accepted)) == (0, None, 1)


async def test_an_attempt_replaces_the_retry_waiting_and_a_due_retry_connects(
    refused_port: int,
) -> None:
    """Connecting a screen that waits its reconnect delay cancels that wait; a retry that
    falls due (reconnecting still on) makes an attempt."""
    w = make_worker(refused_port)
    w.reconnect = {"deadline": float("inf")}
    screen = w.screens[0]
    w._maybe_reconnect(screen, "refused")
    waiting = screen.retry
    assert waiting is not None
    w.connect_one(screen)
    assert waiting.cancelled()
    assert screen.retry is None
    await until(lambda: len(w.rows) == 1)
    assert screen.retry is not None  # the refusal schedules the next one
    screen.retry.cancel()  # ...which falls due now:
    w._retry(screen)
    await until(lambda: len(w.rows) == 2)
    await finished(w)
    assert w.counters["attempts"] == 2


async def test_no_attempt_while_stopping_or_while_one_is_made() -> None:
    """A screen already connecting, or a worker stopping, makes no attempt: the in-flight
    slot it was given is handed back at once."""
    w = make_worker()
    released: list[int] = []
    client, _ = attempt(w)
    w.connect_one(w.screens[0], lambda: released.append(0))
    assert w.screens[0].client is client
    w.handle({"cmd": "stop"})
    w.screens[0].client = None
    w.connect_one(w.screens[0], lambda: released.append(1))
    assert released == [0, 1]
    assert w.counters["attempts"] == 0


# --- commands ------------------------------------------------------------------------------


async def test_close_some_closes_open_sockets_cleanly() -> None:
    """``close_some(n)`` closes n open sockets with a 1000 close frame, reports each as
    ``c 1000`` and returns their screens; never more than are open."""
    w = make_worker(modes="www")
    transports = {i: opened(w, i)[1] for i in range(3)}
    closed = w.close_some(2)
    assert len(closed) == 2
    assert sorted(kinds(w)[3:]) == [[i, "c", 1000] for i in sorted(closed)]
    for i in closed:
        assert client_frames(transports[i].written) == [
            (wsframes.OP_CLOSE, struct.pack("!H", 1000))
        ]
        assert transports[i].closed
        assert w.screens[i].client is None
    assert w.open == 1
    assert w.close_some(5) == [i for i in range(3) if i not in closed]
    assert w.open == 0


async def test_churn_closes_sockets_and_reopens_each_after_its_delay() -> None:
    """``churn``: sockets are closed at the rate asked and each closed screen is connected
    again after the delay."""
    w = make_worker(modes="www")
    for i in range(3):
        opened(w, i)
    reopened: list[int] = []

    def reconnect(screen: Any, release: Any = None) -> None:
        reopened.append(screen.idx)
        if len(reopened) == 3:
            w._stop.set()

    w.connect_one = reconnect  # type: ignore[method-assign]
    w.handle({"cmd": "churn", "per_second": 100.0, "until": time.time() + BOUND, "delay": [0, 0]})
    await until(lambda: len(reopened) == 3)
    await finished(w)
    assert sorted(reopened) == [0, 1, 2]
    assert sorted(kinds(w)[3:]) == [[i, "c", 1000] for i in range(3)]


async def test_drop_gives_up_attempts_without_reporting_them() -> None:
    """``drop`` (a network cut) aborts sockets still connecting too: their slots are freed,
    nothing is counted as a failure, and a later answer on them is ignored."""
    w = make_worker(modes="ww")
    released: list[bool] = []
    connecting, transport = attempt(w, 0)
    connecting.release = lambda: released.append(True)
    _, open_transport = opened(w, 1)
    w.handle({"cmd": "drop"})
    assert transport.aborted
    assert open_transport.aborted
    assert released == [True]
    assert (w.open, w.connecting) == (0, 0)
    connecting.connection_lost(None)
    assert kinds(w) == [[1, "h", 1]]  # the hello before the drop; nothing after it


async def test_poll_starts_the_polling_screens_and_poll_stop_stops_them() -> None:
    """``poll`` without ids starts the polling screens only (push ones poll only when
    asked by id) with the intervals given; ``poll_stop`` stops every one."""
    w = make_worker(modes="wpp")
    w.handle({"cmd": "poll", "min": 3, "max": 4})
    assert (w.poll_min, w.poll_max) == (3.0, 4.0)
    assert [i for i, s in w.screens.items() if s.polling is not None] == [1, 2]
    assert w.stats()["polling"] == 2
    w.handle({"cmd": "poll", "ids": [0]})
    assert w.screens[0].polling is not None
    tasks = [s.polling for s in w.screens.values()]
    w.handle({"cmd": "poll_stop"})
    assert all(s.polling is None for s in w.screens.values())
    assert w.stats()["polling"] == 0
    async with asyncio.timeout(BOUND):
        await asyncio.gather(*tasks, return_exceptions=True)
    assert all(t is not None and t.cancelled() for t in tasks)


async def test_run_reports_ready_obeys_its_commands_and_closes_its_sockets_at_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``run``: a first ``rows`` line at once (ready), commands from its input in order;
    at ``stop``, open sockets get a 1000 close (not reported: the worker dropped them) and a
    last line with the totals."""
    w = make_worker(modes="ww")
    _, transport = opened(w, 0)
    reader = asyncio.StreamReader()
    reader.feed_data(b'{"cmd":"reconnect_policy","policy":{"deadline":5}}\n{"cmd":"stop"}\n')
    reader.feed_data(b'{"cmd":"reconnect_policy","policy":null}\n')  # after stop: not read
    async with asyncio.timeout(BOUND):
        await w.run(reader)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) >= 2
    assert all(line["ev"] == "rows" for line in lines)
    assert [row[:3] for line in lines for row in line["rows"]] == [[0, "h", 1]]
    last = lines[-1]["stats"]
    assert last["counters"] == {"frames": 1}
    assert w.reconnect == {"deadline": 5}
    assert client_frames(transport.written) == [(wsframes.OP_CLOSE, struct.pack("!H", 1000))]
    assert transport.aborted


async def test_run_ends_when_its_input_ends(capsys: pytest.CaptureFixture[str]) -> None:
    """The coordinator gone (end of input): the worker stops by itself."""
    w = make_worker()
    reader = asyncio.StreamReader()
    reader.feed_eof()
    async with asyncio.timeout(BOUND):
        await w.run(reader)
    assert w._stop.is_set()
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["ev"] == "rows"


# --- polling ---------------------------------------------------------------------------------


@pytest.fixture
async def status_server() -> AsyncIterator[tuple[int, list[str], asyncio.Event]]:
    """A status endpoint on 127.0.0.1: 200 (rev 3, an ETag), 304, 503, 429, then 304s, on one
    keep-alive connection; its port, the request heads, and an event set at the fifth."""
    answers = [
        b'HTTP/1.1 200 OK\r\nETag: "r3"\r\nContent-Length: 10\r\n\r\n{"rev": 3}',
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
    ]
    heads: list[str] = []
    fifth = asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                heads.append((await reader.readuntil(b"\r\n\r\n")).decode())
                writer.write(answers[min(len(heads), len(answers)) - 1])
                if len(heads) == 5:
                    fifth.set()
        writer.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.ensure_future(answer(reader, writer)))

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], heads, fifth
        async with asyncio.timeout(BOUND):
            await asyncio.gather(*handlers)


async def test_a_polling_screen_asks_with_its_etag_and_reports_changes_and_errors(
    status_server: tuple[int, list[str], asyncio.Event],
) -> None:
    """A polling screen asks the status endpoint with its token and device key on one
    connection, then with ``If-None-Match`` of the last answer; a 200 is ``p`` with the
    revision, another status ``e http:<status>``; every status is counted."""
    port, heads, fifth = status_server
    w = make_worker(port, "wp")
    w.handle({"cmd": "poll", "min": 0.01, "max": 0.02})
    async with asyncio.timeout(BOUND):
        await fifth.wait()
    await finished(w)
    assert heads[0].startswith("GET /api/display/status/?token=t1&dk=dk-00000001 HTTP/1.1")
    assert "If-None-Match" not in heads[0]
    assert all('If-None-Match: "r3"' in head for head in heads[1:])
    assert kinds(w)[:3] == [[1, "p", 3], [1, "e", "http:503"], [1, "e", "http:429"]]
    assert w.screens[1].rev == 3
    assert {k: v for k, v in w.counters.items() if k != "poll_304"} == {
        "poll_200": 1,
        "poll_503": 1,
        "poll_429": 1,
    }
    assert w.counters["poll_304"] >= 1


async def test_a_poll_that_cannot_connect_is_an_error_row_and_polling_goes_on(
    refused_port: int,
) -> None:
    """A status request that fails (connection refused) is ``e refused``; the screen keeps
    polling (a second attempt is made)."""
    w = make_worker(refused_port, "p")
    w.handle({"cmd": "poll", "min": 0.01, "max": 0.02})
    await until(lambda: len(w.rows) >= 2)
    await finished(w)
    assert kinds(w)[:2] == [[0, "e", "refused"]] * 2


# --- the collector -----------------------------------------------------------------------


def test_opened_sockets_are_frozen_out_of_the_collector_once_the_burst_settles() -> None:
    """Every hello counts a socket for the freezer; once enough opened and none for a
    moment, the next tick freezes them (as the gateway does), not before."""
    w = make_worker(modes="w" * 3)
    frozen: list[bool] = []
    w.freezer = worker_module.gctune.Freezer(
        min_sockets=3, quiet=0.5, min_interval=0, freeze=lambda: frozen.append(True)
    )
    for idx in range(3):
        opened(w, idx)
    assert w.freezer.pending == 3
    assert not w.freezer.tick(time.monotonic())  # the burst has not settled yet
    assert w.freezer.tick(time.monotonic() + 1.0)
    assert frozen == [True]
    assert w.freezer.pending == 0


def test_the_workers_own_collector_pauses_are_reported_in_its_stats() -> None:
    """A collection while the watch is installed is counted, with its duration, in the
    stats the worker sends with its rows (a pause of the load client's own delays the
    receive times it stamps)."""
    w = make_worker()
    assert (w.stats()["gc_pauses"], w.stats()["gc_longest_ms"]) == (0, 0.0)
    w.gc.install()
    try:
        w.gc.install()  # once only
        assert gc.callbacks.count(w.gc) == 1
        garbage: list[Any] = [[]]
        garbage[0].append(garbage)  # a cycle only the collector frees
        del garbage
        gc.collect()
    finally:
        gc.callbacks.remove(w.gc)
    stats = w.stats()
    assert stats["gc_pauses"] >= 1
    assert stats["gc_longest_ms"] > 0
