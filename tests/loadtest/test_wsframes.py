"""The load client's RFC 6455 framing: handshake, masked client frames, server frame parsing."""

from __future__ import annotations

import struct

import pytest

from hallboard.loadtest import wsframes
from hallboard.loadtest.wsframes import FrameError, FrameParser


def server_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """An unmasked frame as a server sends it."""
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", first, n) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def unmask_client_frame(frame: bytes) -> tuple[int, bytes]:
    """Decode a client frame (checking it is final and masked): (opcode, payload)."""
    assert frame[0] & 0x80, "client frames are final"
    assert frame[1] & 0x80, "client frames are masked"
    n, pos = frame[1] & 0x7F, 2
    if n == 126:
        n, pos = struct.unpack("!H", frame[2:4])[0], 4
    elif n == 127:
        n, pos = struct.unpack("!Q", frame[2:10])[0], 10
    key, body = frame[pos : pos + 4], frame[pos + 4 :]
    assert len(body) == n
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(body))


def test_accept_key_matches_the_rfc_example() -> None:
    """Sec-WebSocket-Accept is computed as in RFC 6455 section 1.3."""
    assert wsframes.accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_request_asks_for_an_upgrade_without_extensions() -> None:
    """The opening handshake is a GET with the key and version 13, offering no extension."""
    raw = wsframes.handshake_request("127.0.0.1", 8001, "/ws/display/?token=t&dk=d", "a2V5")
    text = raw.decode()
    assert text.startswith("GET /ws/display/?token=t&dk=d HTTP/1.1\r\nHost: 127.0.0.1:8001\r\n")
    assert "Upgrade: websocket\r\n" in text
    assert "Sec-WebSocket-Key: a2V5\r\n" in text
    assert "Sec-WebSocket-Version: 13\r\n" in text
    assert text.endswith("\r\n\r\n")
    assert "Extensions" not in text


def test_handshake_response_is_parsed_once_complete() -> None:
    """The 101 answer is recognised only when its head is complete; bytes after it are kept."""
    key = wsframes.new_key()
    head = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {wsframes.accept_for(key)}\r\n\r\n"
    ).encode()
    assert wsframes.parse_handshake(head[:-2]) is None
    parsed = wsframes.parse_handshake(head + b"\x81\x00")
    assert parsed is not None
    response, used = parsed
    assert used == len(head)
    assert wsframes.check_upgrade(response, key) is None


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "http:404"),
        (
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
            "handshake:accept",
        ),
        ("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: {accept}\r\n\r\n", "handshake:upgrade"),
        (
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            "handshake:extension",
        ),
    ],
)
def test_a_refused_or_wrong_handshake_is_reported_by_reason(head: str, problem: str) -> None:
    """A non-101 answer is reported by status; a wrong accept or an unasked extension too."""
    key = wsframes.new_key()
    parsed = wsframes.parse_handshake(head.format(accept=wsframes.accept_for(key)).encode())
    assert parsed is not None
    assert wsframes.check_upgrade(parsed[0], key) == problem


def test_a_response_that_is_not_http_is_a_protocol_error() -> None:
    """Garbage instead of an HTTP head raises FrameError with 1002."""
    with pytest.raises(FrameError) as caught:
        wsframes.parse_handshake(b"SSH-2.0-OpenSSH\r\n\r\n")
    assert caught.value.code == 1002


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_client_frames_are_masked_and_decode_back(size: int) -> None:
    """Client frames carry a mask and the right length encoding at every size boundary."""
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    frame = wsframes.encode_frame(wsframes.OP_TEXT, payload)
    assert unmask_client_frame(frame) == (wsframes.OP_TEXT, payload)


def test_mask_is_its_own_inverse() -> None:
    """XOR with the same key twice gives the payload back; a fresh frame uses a fresh key."""
    key = b"\x01\x02\x03\x04"
    data = b"hello display"
    assert wsframes.mask(wsframes.mask(data, key), key) == data
    # A fresh key per frame: 32 frames draw 32 keys (all equal only if the key were fixed:
    # by chance with probability 2**-992). Each frame still unmasks to the payload.
    frames = [wsframes.encode_frame(wsframes.OP_TEXT, data) for _ in range(32)]
    assert len({frame[2:6] for frame in frames}) > 1
    assert {unmask_client_frame(frame) for frame in frames} == {(wsframes.OP_TEXT, data)}


def test_close_frame_carries_code_and_reason() -> None:
    """A client close frame encodes the code big-endian, then the reason."""
    opcode, payload = unmask_client_frame(wsframes.close_frame(1000, "bye"))
    assert opcode == wsframes.OP_CLOSE
    assert wsframes.parse_close(payload) == (1000, "bye")
    assert wsframes.parse_close(b"") == (wsframes.NO_STATUS, "")
    with pytest.raises(FrameError):
        wsframes.parse_close(b"\x03")


def test_parser_returns_whole_frames_fed_byte_by_byte() -> None:
    """Frames split anywhere across reads come out whole, in order."""
    stream = (
        server_frame(wsframes.OP_TEXT, b'{"type":"hello","rev":3}')
        + server_frame(wsframes.OP_PING, b"p")
        + server_frame(wsframes.OP_TEXT, b"x" * 300)
        + server_frame(wsframes.OP_TEXT, b"y" * 70000)
    )
    parser = FrameParser()
    out: list[tuple[int, bytes]] = []
    for i in range(0, len(stream), 7):
        out += parser.feed(stream[i : i + 7])
    assert out == [
        (wsframes.OP_TEXT, b'{"type":"hello","rev":3}'),
        (wsframes.OP_PING, b"p"),
        (wsframes.OP_TEXT, b"x" * 300),
        (wsframes.OP_TEXT, b"y" * 70000),
    ]


def test_fragmented_message_is_reassembled_around_a_control_frame() -> None:
    """Continuation frames join their message; a ping between fragments comes out first."""
    parser = FrameParser()
    out = parser.feed(
        server_frame(wsframes.OP_TEXT, b"ab", fin=False)
        + server_frame(wsframes.OP_PING, b"")
        + server_frame(wsframes.OP_CONTINUATION, b"cd", fin=False)
        + server_frame(wsframes.OP_CONTINUATION, b"ef")
    )
    assert out == [(wsframes.OP_PING, b""), (wsframes.OP_TEXT, b"abcdef")]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x81\x81abcdx", 1002),  # a masked server frame
        (server_frame(wsframes.OP_TEXT, b"a", rsv=0x40), 1002),  # RSV1 without an extension
        (server_frame(wsframes.OP_PING, b"x" * 126), 1002),  # control frame over 125 bytes
        (server_frame(wsframes.OP_PING, b"", fin=False), 1002),  # fragmented control frame
        (server_frame(0x3, b""), 1002),  # reserved opcode
        (server_frame(wsframes.OP_CONTINUATION, b"a"), 1002),  # nothing to continue
        (server_frame(wsframes.OP_TEXT, b"z" * 2000), 1009),  # over max_size
    ],
)
def test_protocol_violations_raise_with_the_close_code(data: bytes, code: int) -> None:
    """What a server must never send raises FrameError with the code to close with."""
    with pytest.raises(FrameError) as caught:
        FrameParser(max_size=1024).feed(data)
    assert caught.value.code == code
