"""The opening handshake of a socket: one HTTP/1.1 request in, one response out.

Parsing uses httptools (the C parser uvicorn uses); the WebSocket upgrade
checks and the accept key follow RFC 6455 section 4.2. This is the only part
of the WebSocket protocol hallboard does itself, for speed: websockets' own
sans-I/O handshake costs about 37 µs of CPU per connection against 3 µs here,
and a reconnect storm of ten thousand screens is mostly handshakes. Framing
after the handshake is websockets' (``hallboard.realtime.gateway.connection``).

Plain HTTP GETs on the gateway port (health checks, metrics) are parsed here
too and answered by the gateway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

import httptools

from hallboard.display.credentials import query_values

#: Requests larger than this (request line and headers) are refused, whether they arrive in
#: one read or in many: with 414 when the URL alone does not fit, else with 431.
MAX_REQUEST_BYTES = 8192
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HandshakeError(Exception):
    """The request cannot be answered with an upgrade: answer ``status`` and close."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(slots=True)
class Request:
    method: str = ""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    #: Lower-cased names of the headers this server reads; others are not kept.
    headers: dict[str, str] = field(default_factory=dict)
    upgrade: bool = False

    @property
    def websocket_key(self) -> str:
        return self.headers.get("sec-websocket-key", "")


_KEPT_HEADERS = frozenset(
    {
        b"upgrade",
        b"connection",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"authorization",
        b"accept",
        b"x-forwarded-for",
        b"cookie",
        b"origin",  # staff tickets are bound to the page's origin (hallboard.staff.tickets)
    }
)


class _Callbacks:
    __slots__ = ("complete", "request", "url")

    def __init__(self) -> None:
        self.request = Request()
        self.url = b""
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url  # bounded: at most MAX_REQUEST_BYTES are ever fed

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in _KEPT_HEADERS:
            self.request.headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.complete = True


class RequestReader:
    """Feed bytes until ``feed`` returns the parsed request (or raises HandshakeError)."""

    __slots__ = ("_callbacks", "_line_read", "_parser", "_size")

    def __init__(self) -> None:
        self._callbacks = _Callbacks()
        self._parser = httptools.HttpRequestParser(self._callbacks)
        self._size = 0
        self._line_read = False  # the request line (method, URL, version) is complete

    def feed(self, data: bytes) -> Request | None:
        if self._size + len(data) > MAX_REQUEST_BYTES:
            # Only the part within the limit is parsed: a request that arrives in
            # one read is held to the same limit as one that arrives in many.
            data = data[: max(0, MAX_REQUEST_BYTES - self._size)]
            oversized = True
        else:
            oversized = False
        self._size += len(data)
        self._line_read = self._line_read or b"\n" in data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._callbacks.request.upgrade = True
        except httptools.HttpParserError as exc:
            raise HandshakeError(400, f"malformed HTTP request: {exc}") from None
        if not self._callbacks.complete:
            if oversized and not self._line_read:
                raise HandshakeError(414, f"URL over {MAX_REQUEST_BYTES} bytes")
            if oversized:
                raise HandshakeError(431, f"request over {MAX_REQUEST_BYTES} bytes")
            return None
        request = self._callbacks.request
        request.method = self._parser.get_method().decode("latin-1")
        try:
            url = httptools.parse_url(self._callbacks.url)
        except httptools.HttpParserError as exc:
            raise HandshakeError(400, f"malformed URL: {exc}") from None
        request.path = url.path.decode("latin-1") if url.path else "/"
        if url.query:
            # The last of a repeated parameter, as Django's QueryDict.get and the display's
            # HTTP endpoints read it (hallboard.display.credentials).
            request.query.update(query_values(url.query.decode("latin-1")))
        return request


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()  # noqa: S324 - fixed by the RFC


def check_upgrade(request: Request) -> None:
    """Raise HandshakeError unless ``request`` is a valid WebSocket upgrade (RFC 6455 4.2.1)."""
    if request.method != "GET":
        raise HandshakeError(405, "only GET can open a WebSocket")
    headers = request.headers
    if "websocket" not in headers.get("upgrade", "").lower():
        raise HandshakeError(426, "this path only speaks WebSocket")
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "upgrade" not in tokens:
        raise HandshakeError(426, "Connection: Upgrade is missing")
    if headers.get("sec-websocket-version") != "13":
        raise HandshakeError(426, "Sec-WebSocket-Version must be 13")
    try:
        raw = base64.b64decode(request.websocket_key.encode(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key is not 16 bytes of base64")


def switching_protocols(key: str) -> bytes:
    """The 101 answer that opens the WebSocket (no extensions: deflate is declined)."""
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
    )


def http_response(
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
