"""Bounded everything (defect 1 of issue 11): what a peer that floods or never reads costs.

A refused, closing or open socket is dropped whatever its peer sends: incoming bytes
never move the close deadline, control frames are rate-limited (also before
authentication), and the bytes buffered for a peer that does not read stay under
``max_write_buffer``. Assertions are on closure, connection counts and buffer sizes;
the test's own waits only bound how long a failure takes to show.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from websockets.frames import Frame, Opcode

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from tests.conftest import Tenant, make_screen, sample
from tests.realtime.conftest import (
    FakeClock,
    closed_with,
    open_display,
    receive_type,
    start_gateway,
)
from tests.realtime.gateway.test_server import in_thread

pytestmark = pytest.mark.django_db(transaction=True)

HANDSHAKE = (
    "GET /ws/display/?token={token}&dk=device-0001 HTTP/1.1\r\nHost: x\r\n"
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
#: A client's ping with the largest payload a control frame may carry (the pong is as big).
PING = Frame(Opcode.PING, b"p" * 125).serialize(mask=True, extensions=[])
#: What a flooding peer sends at most before the test gives up on the gateway dropping it.
FLOOD_BYTES = 16 * 1024 * 1024


def dropped(name: str) -> float:
    return sample("hallboard_gateway_dropped_total", reason=name)


async def handshake(gw: Gateway, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a raw display socket and read the 101, nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(HANDSHAKE.format(token=token).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


async def flood(gw: Gateway, writer: asyncio.StreamWriter) -> tuple[bool, int]:
    """Send masked pings, never reading, until the gateway drops the socket or FLOOD_BYTES
    are sent. Whether it was dropped, and the most the gateway buffered for any socket."""
    chunk = PING * 256
    most_buffered = 0
    sent = 0
    was_dropped = False
    while sent < FLOOD_BYTES:
        for sock in gw.sockets():
            if sock.transport is not None:
                most_buffered = max(most_buffered, sock.transport.get_write_buffer_size())
        try:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 10)
        except (ConnectionError, TimeoutError):
            was_dropped = True
            break
        sent += len(chunk)
        await asyncio.sleep(0)  # let the gateway read
    writer.close()
    return was_dropped, most_buffered


async def no_sockets_left(gw: Gateway) -> bool:
    for _ in range(200):
        if not gw.sockets():
            return True
        await asyncio.sleep(0.025)
    return False


async def test_a_ping_flood_after_a_refusal_is_dropped_and_costs_a_bounded_buffer(
    gateway: Gateway, tenant: Tenant
) -> None:
    """A random token: the 101 and the refusal (4401) come; the peer floods masked pings
    and reads nothing. The gateway answers none of them, drops the socket, and never holds
    more than its write-buffer bound for it."""
    before = dropped("flood")
    _, writer = await handshake(gateway, "hbs_" + secrets.token_urlsafe(24))
    was_dropped, most_buffered = await flood(gateway, writer)
    assert was_dropped
    assert await no_sockets_left(gateway)
    assert most_buffered <= gateway.options.max_write_buffer
    assert dropped("flood") == before + 1


async def test_a_ping_flood_on_an_open_socket_is_closed_then_dropped(
    gateway: Gateway, tenant: Tenant
) -> None:
    """A valid token: the socket opens; a ping flood is over the control-frame limit
    (closed with 1008), and what the peer sends on while closing gets it dropped."""
    _, token = await in_thread(make_screen, tenant.school)
    closed_before = sample("hallboard_gateway_closed_total", code="1008")
    _, writer = await handshake(gateway, token)
    was_dropped, most_buffered = await flood(gateway, writer)
    assert was_dropped
    assert await no_sockets_left(gateway)
    assert most_buffered <= gateway.options.max_write_buffer
    assert sample("hallboard_gateway_closed_total", code="1008") == closed_before + 1


async def test_a_refused_socket_is_dropped_at_the_close_deadline_whatever_it_sends(
    tenant: Tenant,
) -> None:
    """A refused peer that keeps sending a few bytes (under every other limit) and never
    answers the close frame is dropped once close_timeout has passed since the refusal:
    its bytes do not restart the clock."""
    clock = FakeClock()
    gw = await start_gateway(clock=clock, close_timeout=0.5)
    try:
        before = dropped("close_timeout")
        _, writer = await handshake(gw, "hbs_" + secrets.token_urlsafe(24))
        trickle = Frame(Opcode.TEXT, b"{}").serialize(mask=True, extensions=[])
        # Every 0.125 s (injected clock) the peer sends 8 bytes and the gateway sweeps: held
        # until 0.5 s after the refusal, dropped at the first sweep past it.
        held_until = 0.0
        for step in range(1, 11):
            if not gw.sockets():
                break
            held_until = (step - 1) / 8
            writer.write(trickle)
            await writer.drain()
            await asyncio.sleep(0.02)  # the gateway reads them (real time: I/O)
            clock.advance(0.125)
            gw.sweep()
            await asyncio.sleep(0.02)  # the abort reaches connection_lost
        assert held_until == pytest.approx(0.5)
        assert not gw.sockets()
        assert dropped("close_timeout") == before + 1
        writer.close()
    finally:
        await gw.shutdown()


async def test_control_frames_are_rate_limited_on_an_open_socket(
    gateway: Gateway, tenant: Tenant
) -> None:
    """A client that reads everything but pings far more often than any keepalive does is
    closed with 1008; a few pings are answered."""
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    pong = await ws.ping()
    await asyncio.wait_for(pong, 10)  # one ping is answered
    for _ in range(50):
        try:
            await ws.ping()
        except Exception:  # closed mid-flood is the expected outcome
            break
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION


class FullTransport(asyncio.Transport):
    """A transport whose peer reads nothing: everything written stays buffered."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.buffered += len(data)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


async def test_a_peer_that_never_reads_is_dropped_at_the_buffer_bound(
    gateway: Gateway,
) -> None:
    """Frames for an open socket whose peer reads nothing are buffered up to
    max_write_buffer; the write that would pass it drops the socket instead."""
    from hallboard.realtime.gateway.connection import Phase, Socket, encode_frame

    sock = Socket(gateway)
    transport = FullTransport()
    sock.connection_made(transport)
    sock.phase = Phase.OPEN
    frame = encode_frame('{"type":"invalidate","rev":1}')
    before = dropped("buffer")
    writes = 0
    for _ in range(2 * gateway.options.max_write_buffer // len(frame)):
        if not sock.write(frame):
            break
        writes += 1
    assert transport.aborted
    assert transport.buffered <= gateway.options.max_write_buffer
    assert writes == gateway.options.max_write_buffer // len(frame)
    assert dropped("buffer") == before + 1
    assert not sock.write(frame)  # nothing more once dropped
    gateway.socket_lost(sock)
