"""Nothing a peer sends raises in the gateway (defect 8 of issue 11): every bad input ends
in the documented close code or HTTP status, with one log line and no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from tests.conftest import Tenant, make_screen
from tests.realtime.conftest import closed_with, open_display, receive, receive_type
from tests.realtime.gateway.test_server import in_thread
from tests.realtime.gateway.test_server_protocol import UPGRADE, raw_request

pytestmark = pytest.mark.django_db(transaction=True)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_deeply_nested_json_within_4_kib_closes_1008(
    gateway: Gateway, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """2,000 nested arrays fit in 4 KiB and exceed json's recursion limit: the socket is
    closed with 1008 and one line is logged, no traceback."""
    caplog.set_level(logging.INFO)
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send("[" * 2000 + "]" * 2000)
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION
    assert not tracebacks(caplog)
    assert len([r for r in caplog.records if "nested" in r.getMessage()]) == 1


async def test_a_url_over_64_kib_is_answered_414(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A request line longer than any parser takes gets an HTTP answer (414), not a reset."""
    caplog.set_level(logging.INFO)
    request = b"GET /ws/display/?token=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = await raw_request(gateway, request)
    assert answer.startswith(b"HTTP/1.1 414 ")
    assert not tracebacks(caplog)


async def test_an_oversized_request_in_one_read_is_answered_431(gateway: Gateway) -> None:
    """The 8 KiB limit holds for a complete request that arrives in a single read."""
    request = (
        UPGRADE.format(path="/ws/display/?token=a&dk=device-0001", version=13)
        .replace("Host: x\r\n", "Host: x\r\nX-Pad: " + "x" * 20_000 + "\r\n")
        .encode()
    )
    answer = await raw_request(gateway, request)
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_a_bad_message_and_a_close_frame_in_one_read_end_cleanly(
    gateway: Gateway, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed message followed, in the same read, by the client's close frame: the
    server would close a socket that is already closing; it answers the client's close
    and ends the connection, with no error logged."""
    caplog.set_level(logging.INFO)
    _, token = await in_thread(make_screen, tenant.school)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(
        UPGRADE.format(path=f"/ws/display/?token={token}&dk=device-0001", version=13).encode()
    )
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    bad = Frame(Opcode.TEXT, b"not json").serialize(mask=True, extensions=[])
    close = Frame(Opcode.CLOSE, Close(1000, "bye").serialize()).serialize(mask=True, extensions=[])
    writer.write(bad + close)
    answer = await asyncio.wait_for(reader.read(), 10)  # until the server closes TCP
    writer.close()
    # The hello, then the echo of the client's close (RFC 6455 5.5.1), then EOF.
    assert answer.endswith(
        Frame(Opcode.CLOSE, Close(1000, "bye").serialize()).serialize(mask=False, extensions=[])
    )
    assert not tracebacks(caplog)


async def test_fragmented_text_messages_are_accepted(gateway: Gateway, tenant: Tenant) -> None:
    """A message sent in several fragments is one message: a fragmented ping gets a pong."""
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send(['{"type":', '"pi', 'ng"}'])
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_fragments_over_4_kib_in_all_close_1009(gateway: Gateway, tenant: Tenant) -> None:
    """The 4 KiB limit is on the message: fragments of 1 KiB each, five of them, close 1009."""
    _, token = await in_thread(make_screen, tenant.school)
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    with contextlib.suppress(ConnectionClosed):  # closed while sending: expected
        await ws.send(['{"type":"ping","pad":"'] + ["x" * 1024] * 5 + ['"}'])
    assert await closed_with(ws) == CloseCode.MESSAGE_TOO_BIG
