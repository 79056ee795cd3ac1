"""A lean HTTP/1.1 client for keep-alive polling and API edits: parsing is pure, I/O is a Protocol.

A polling display keeps one connection open and asks ``/api/display/status/``
every few seconds with ``If-None-Match``; the answer is usually ``304`` with no
body. A general client (httpx) costs far more CPU per request than that needs,
and the load generator shares two cores with the server under test; the
parsing is httptools' (see ``ResponseParser``). One
request at a time per connection (no pipelining), ``Content-Length`` and
chunked bodies, ``Connection: close`` honoured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import httptools


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
    """Feed bytes from the server, get complete responses back (no HEAD requests).

    httptools' parser (llhttp, in C) does the parsing: measured against the
    hand-written parser this module had, it costs about half the CPU per status
    answer (bench/loadgen_codecs.py, docs/loadtest.md). A response with a body
    but neither ``Content-Length`` nor chunked encoding is refused: a poll must
    not wait for the connection's end to know its answer is complete.
    """

    __slots__ = ("_body", "_done", "_error", "_headers", "_parser")

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._done: list[Response] = []
        self._error: str | None = None

    # httptools' callbacks
    def on_message_begin(self) -> None:
        self._headers, self._body = {}, bytearray()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        h = self._headers
        if (
            status not in (204, 304)
            and status >= 200
            and "content-length" not in h
            and "chunked" not in h.get("transfer-encoding", "").lower()
        ):
            self._error = "a response without Content-Length or chunked encoding"

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        self._done.append(
            Response(self._parser.get_status_code(), self._headers, bytes(self._body))
        )

    def feed(self, data: bytes) -> list[Response]:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise HttpError(f"not a valid HTTP/1.1 response: {exc}") from None
        if self._error is not None:
            raise HttpError(self._error)
        out, self._done = self._done, []
        return out


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
