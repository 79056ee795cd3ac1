"""The frames the gateway writes as they are to many sockets: valid RFC 6455 frames, read
back by websockets' own client parser, at every length boundary."""

from __future__ import annotations

import pytest
from websockets.frames import Close, Opcode
from websockets.protocol import Protocol, Side, State

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.connection import PING_FRAME, close_frame, encode_frame


def client_reads(data: bytes) -> list[object]:
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    client.receive_data(data)
    return list(client.events_received())


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frames_at_every_length_boundary(size: int) -> None:
    """Payload lengths in the 7-bit, 16-bit and 64-bit forms read back exactly, unmasked
    and final, as one text frame."""
    text = "x" * size
    frame = encode_frame(text)
    assert frame[0] == 0x81  # FIN, text
    assert frame[1] & 0x80 == 0  # a server never masks
    [received] = client_reads(frame)
    assert received.opcode is Opcode.TEXT  # type: ignore[attr-defined]
    assert received.fin  # type: ignore[attr-defined]
    assert received.data == text.encode()  # type: ignore[attr-defined]


def test_the_length_is_counted_in_utf8_bytes() -> None:
    """Non-ASCII text (umlauts, emoji) is framed by its encoded length."""
    text = "Vertretung: Frau Müller 🏫" * 10
    [received] = client_reads(encode_frame(text))
    assert received.data.decode() == text  # type: ignore[attr-defined]


def test_frames_written_back_to_back_are_read_apart() -> None:
    """Several frames in one write are several messages, in order."""
    frames = [encode_frame(t) for t in ("a", "b" * 200, "c" * 70000)]
    received = client_reads(b"".join(frames))
    assert [f.data for f in received] == [b"a", b"b" * 200, b"c" * 70000]  # type: ignore[attr-defined]


def test_close_frames_carry_the_code_and_reason() -> None:
    """A close frame says its code and reason (what the display acts on)."""
    data = close_frame(CloseCode.PUSH_DISABLED, "push disabled for this screen")
    client = Protocol(Side.CLIENT, state=State.OPEN)
    client.receive_data(data)
    assert client.close_rcvd == Close(4409, "push disabled for this screen")


def test_the_keepalive_ping_is_a_ping() -> None:
    """The sweep's ping is an unmasked ping frame the client answers with a pong."""
    client = Protocol(Side.CLIENT, state=State.OPEN)
    client.receive_data(PING_FRAME)
    [received] = client.events_received()
    assert received.opcode is Opcode.PING  # type: ignore[attr-defined]
    [pong] = client.data_to_send()
    assert pong[0] & 0x0F == Opcode.PONG.value
