"""The client side of RFC 6455, reduced to what a display does: pure functions, no I/O.

Why not a WebSocket library: on a 2-core machine the load generator runs beside
the server it measures, and a full client library spends about as much CPU per
message as the server under test (docs/loadtest.md). A display only needs the
opening handshake, masked client frames (text, pong, close) and a parser for the
unmasked frames a server sends (text, binary, ping, pong, close, continuation).
No extensions are offered (no permessage-deflate), so reserved bits must be 0.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
CONTROL_OPCODES = frozenset({OP_CLOSE, OP_PING, OP_PONG})
DATA_OPCODES = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY})

#: Close code reported when the connection ended without a close frame (RFC 6455 7.1.5).
ABNORMAL_CLOSURE = 1006
#: Close code reported for a close frame without a code (RFC 6455 7.1.5).
NO_STATUS = 1005


class FrameError(Exception):
    """The server broke the framing rules; the client closes with ``code``."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def new_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()  # noqa: S324 - RFC 6455


def handshake_request(host: str, port: int, target: str, key: str) -> bytes:
    """The opening handshake (``target`` is the path with its query string)."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        f"GET {target} HTTP/1.1\r\n"
        f"Host: {authority}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()


class HandshakeResponse:
    __slots__ = ("headers", "status")

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers


def parse_handshake(buffer: bytes | bytearray) -> tuple[HandshakeResponse, int] | None:
    """The server's answer and how many bytes it took, or None while incomplete.

    Raises ``FrameError`` (1002) when the head is not HTTP/1.1 at all.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > 16384:
            raise FrameError(1002, "handshake response head over 16 KiB")
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise FrameError(1002, f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return HandshakeResponse(int(parts[1]), headers), end + 4


def check_upgrade(response: HandshakeResponse, key: str) -> str | None:
    """What is wrong with a 101 answer to ``key`` (None: the socket is open)."""
    if response.status != 101:
        return f"http:{response.status}"
    if response.headers.get("upgrade", "").lower() != "websocket":
        return "handshake:upgrade"
    if response.headers.get("sec-websocket-accept") != accept_for(key):
        return "handshake:accept"
    if response.headers.get("sec-websocket-extensions"):
        return "handshake:extension"  # none was offered
    return None


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (RFC 6455 5.3)."""
    if not payload:
        return b""
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little"
    )


def encode_frame(opcode: int, payload: bytes = b"", key: bytes | None = None) -> bytes:
    """One final, masked client frame (a fresh random mask unless ``key`` is given)."""
    key = os.urandom(4) if key is None else key
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + key + mask(payload, key)


def text(message: str) -> bytes:
    return encode_frame(OP_TEXT, message.encode())


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; 1005 when it has no code."""
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise FrameError(1002, "close frame with a 1-byte payload")
    (code,) = struct.unpack("!H", payload[:2])
    return code, payload[2:].decode("utf-8", "replace")


class FrameParser:
    """Feed bytes from the server, get whole messages back as ``(opcode, payload)``.

    Fragmented data messages are reassembled (reported with the first frame's
    opcode); control frames may arrive between fragments. Violations raise
    ``FrameError`` with the close code to answer with.
    """

    __slots__ = ("_buffer", "_fragments", "_opcode", "max_size")

    def __init__(self, max_size: int = 1 << 20) -> None:
        self._buffer = bytearray()
        self._fragments: list[bytes] | None = None
        self._opcode = 0
        self.max_size = max_size

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buffer
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b0 & 0x70:
                raise FrameError(1002, "reserved bits set (no extension was negotiated)")
            if b1 & 0x80:
                raise FrameError(1002, "a server frame must not be masked")
            fin, opcode, length = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if opcode in CONTROL_OPCODES:
                if not fin or length > 125:
                    raise FrameError(1002, "control frames are final and at most 125 bytes")
            elif opcode not in DATA_OPCODES:
                raise FrameError(1002, f"unknown opcode {opcode:#x}")
            if length > self.max_size:
                raise FrameError(1009, f"frame of {length} bytes over {self.max_size}")
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            message = self._assemble(fin, opcode, payload)
            if message is not None:
                out.append(message)
        if pos:
            del buf[:pos]
        return out

    def _assemble(self, fin: int, opcode: int, payload: bytes) -> tuple[int, bytes] | None:
        if opcode in CONTROL_OPCODES:
            return opcode, payload
        if opcode == OP_CONTINUATION:
            if self._fragments is None:
                raise FrameError(1002, "continuation frame without a message to continue")
            self._fragments.append(payload)
            if sum(map(len, self._fragments)) > self.max_size:
                raise FrameError(1009, f"message over {self.max_size} bytes")
            if not fin:
                return None
            whole = b"".join(self._fragments)
            self._fragments = None
            return self._opcode, whole
        if self._fragments is not None:
            raise FrameError(1002, "new data frame inside a fragmented message")
        if fin:
            return opcode, payload
        self._fragments, self._opcode = [payload], opcode
        return None
