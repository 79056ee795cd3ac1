"""A lean HTTP/1.1 client for keep-alive polling and API edits: parsing is pure, I/O is a Protocol.

A polling display keeps one connection open and asks ``/api/display/status/``
every few seconds with ``If-None-Match``; the answer is usually ``304`` with no
body. A general client (httpx) costs far more CPU per request than that needs,
and the load generator shares two cores with the server under test. One
request at a time per connection (no pipelining), ``Content-Length`` and
chunked bodies, ``Connection: close`` honoured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast


class HttpError(Exception):
    """The server's answer was not valid HTTP/1.1."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def build_request(
    method: str,
    host: str,
    port: int,
    target: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class ResponseParser:
    """Feed bytes from the server, get complete responses back (no HEAD requests)."""

    __slots__ = ("_buffer", "_chunks", "_remaining", "_response", "_state")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._response: Response | None = None
        self._state = "head"  # head | body | chunk-size | chunk-data | chunk-trailer
        self._remaining = 0
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> list[Response]:
        self._buffer += data
        out: list[Response] = []
        while True:
            response = self._step()
            if response is None:
                return out
            out.append(response)

    def _step(self) -> Response | None:
        buf = self._buffer
        while True:
            if self._state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        raise HttpError("response head over 64 KiB")
                    return None
                self._response = _parse_head(bytes(buf[:end]))
                del buf[: end + 4]
                response = self._response
                if response.status in (204, 304) or 100 <= response.status < 200:
                    return self._done()
                if "chunked" in response.headers.get("transfer-encoding", "").lower():
                    self._state = "chunk-size"
                    continue
                length = response.headers.get("content-length")
                if length is None:
                    raise HttpError("a response without Content-Length or chunked encoding")
                self._remaining = int(length)
                self._state = "body"
            elif self._state == "body":
                if len(buf) < self._remaining:
                    return None
                assert self._response is not None
                self._response.body = bytes(buf[: self._remaining])
                del buf[: self._remaining]
                return self._done()
            elif self._state == "chunk-size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[: end + 2]
                self._remaining = size
                self._state = "chunk-data" if size else "chunk-trailer"
            elif self._state == "chunk-data":
                if len(buf) < self._remaining + 2:
                    return None
                self._chunks.append(bytes(buf[: self._remaining]))
                del buf[: self._remaining + 2]
                self._state = "chunk-size"
            else:  # chunk-trailer: skip trailer fields up to the empty line
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                del buf[: end + 2]
                if end == 0:
                    assert self._response is not None
                    self._response.body = b"".join(self._chunks)
                    return self._done()

    def _done(self) -> Response:
        response = self._response
        assert response is not None
        self._response, self._state, self._chunks = None, "head", []
        return response


def _parse_head(head: bytes) -> Response:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Response(int(parts[1]), headers)


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; ``await request(raw)`` one at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser()
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self.parser.feed(data)
        except HttpError as exc:
            self._fail(exc)
            return
        for response in responses:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(response)
            if not response.keep_alive:
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def request(self, raw: bytes) -> Response:
        if self.closed or self.transport is None:
            raise ConnectionResetError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def open_connection(host: str, port: int) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(HttpConnection, host, port)
    return protocol


class HttpClient:
    """Requests to one server over one keep-alive connection, reopened when it closes."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: HttpConnection | None = None
        self._lock = asyncio.Lock()

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        raw = build_request(method, self.host, self.port, target, headers, body)
        async with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await asyncio.wait_for(
                    open_connection(self.host, self.port), self.timeout
                )
            try:
                return await asyncio.wait_for(self._conn.request(raw), self.timeout)
            except BaseException:
                self._conn.close()
                self._conn = None
                raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
