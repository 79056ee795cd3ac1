"""One TCP connection to the gateway, as a lean ``asyncio.Protocol``.

Why not the `websockets` library's asyncio server: it runs a handler task and
a keepalive task per connection and builds every outgoing frame per
connection. hallboard holds tens of thousands of mostly idle sockets and
writes the same few dozen bytes to thousands of them at once, so the glue is
its own, as python-websockets recommends for such cases: ``data_received``
feeds websockets' sans-I/O ``Protocol`` (framing, control frames, the closing
handshake), the gateway writes frames encoded once per publish straight to the
transport, and keepalive is one sweep over all sockets (the node's ``tick``).

A socket knows its owner only as ``Owner`` (below): what it reports and asks;
the gateway is one, a test may be another. What a connection *means* (its
screen, its topics, its keepalive) is the node's (``core.node``); the socket is
the bytes: framing, phases, bounds.

Life of a socket (``Phase``)::

    HANDSHAKE ── request parsed ──► PENDING ── accepted ──► OPEN ── close sent ──► CLOSING
        │  (HTTP answer: health,          │ (auth in a      │                        │
        │   metrics, errors) ──► CLOSING  │  batch, thread) └── peer closes ─────────┤
        └─────────────────────────────────┴── refused: 101 + close frame ──► CLOSING ┴─► CLOSED

What one socket may cost, whatever its peer does (docs/realtime.md, "Limits"):

- HANDSHAKE: ``MAX_REQUEST_BYTES`` (8 KiB) of request, in one read or many (414 or
  431 past it), within ``open_timeout``; PENDING: ``_MAX_EARLY_BYTES`` read ahead.
- OPEN: frames and messages of at most 4 KiB; messages and control frames (ping,
  pong) each rate-limited (1008 past it); pongs are answered only while open.
- CLOSING (a close sent or received, a refusal, an HTTP answer): nothing is
  answered any more; ``CLOSING_BYTES`` (``LINGER_BYTES`` after an HTTP error) are
  read and discarded, then the socket is dropped; it is dropped anyway
  ``close_timeout`` after closing began, whatever the peer sends meanwhile.
- Every phase: the bytes written and not yet read by the peer stay under
  ``GatewayOptions.max_write_buffer``, else the socket is dropped.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from websockets.frames import Close, Frame, Opcode
from websockets.protocol import SEND_EOF, Side, State
from websockets.protocol import Protocol as WsProtocol

from hallboard.observability import metrics
from hallboard.realtime.core import messages
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import ControlLimit
from hallboard.realtime.core.node import Kind
from hallboard.realtime.gateway.handshake import (
    HandshakeError,
    Request,
    RequestReader,
    http_response,
)

# websockets logs every closed connection at INFO: noise at tens of thousands of
# sockets. The gateway logs what matters (refusals, policy closes) itself.
_ws_logger = logging.getLogger("hallboard.realtime.ws")
_ws_logger.setLevel(logging.WARNING)
logger = logging.getLogger("hallboard.realtime.gateway")
#: Bytes a client may send before its socket is accepted (it should send none).
_MAX_EARLY_BYTES = 4096
#: Bytes a closing socket may still send (its close frame; a message it sent meanwhile).
CLOSING_BYTES = 2 * messages.MAX_FRAME_BYTES
#: Bytes read and discarded after answering a request that was not read to its end.
LINGER_BYTES = 256 * 1024


_DROP_REASONS = {
    "open_timeout": "no complete request within the open timeout",
    "close_timeout": "the closing handshake did not end within the close timeout",
    "ping_timeout": "no answer to a ping",
    "flood": "sent more than a closing or pending socket may",
    "buffer": "left more than the write buffer's limit unread",
    "error": "an unexpected error",
}


class Phase(enum.IntEnum):
    HANDSHAKE = 0
    PENDING = 1
    OPEN = 2
    CLOSING = 3
    CLOSED = 4


def encode_frame(text: str) -> bytes:
    """A server text frame (unmasked, final, no extension), to write as it is to any number
    of sockets: the header of RFC 6455 5.2, built here because it is three cases of a few
    bytes and this runs for every publish (websockets' ``Frame.serialize`` validates and
    applies extensions, which these frames never need)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=False, extensions=[])


PING_FRAME = Frame(Opcode.PING, b"hb").serialize(mask=False, extensions=[])


class Limits(Protocol):
    @property
    def write_limit(self) -> int:
        """A socket's send buffer over this pauses writing to it (``pause_writing``)."""

    @property
    def max_write_buffer(self) -> int:
        """A socket whose peer leaves more than this unread is dropped, in any phase."""


class Owner(Protocol):
    """What a socket needs from whoever holds it (the gateway)."""

    clock: Callable[[], float]

    @property
    def limits(self) -> Limits: ...

    def socket_made(self, sock: Socket) -> None: ...
    def request_received(self, sock: Socket, request: Request) -> None: ...
    def seen(self, sock: Socket) -> None: ...
    def text_received(self, sock: Socket, data: bytes) -> None: ...
    def congested(self, sock: Socket) -> None: ...
    def drained(self, sock: Socket) -> None: ...
    def close(self, sock: Socket, code: CloseCode, reason: str | None = None) -> None: ...
    def count_close(self, code: int) -> None: ...
    def socket_closing(self, sock: Socket) -> None: ...
    def socket_lost(self, sock: Socket) -> None: ...


class Socket(asyncio.Protocol):
    """A display's or a staff page's socket. Hashable by identity: the hub's handle."""

    __slots__ = (
        "close_code",
        "closing_at",
        "closing_bytes",
        "control",
        "early",
        "fragments",
        "kind",
        "lingering",
        "live",
        "opened_at",
        "owner",
        "phase",
        "reader",
        "transport",
        "ws",
    )

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.phase = Phase.HANDSHAKE
        self.reader: RequestReader | None = RequestReader()
        self.ws: WsProtocol | None = None
        self.early = b""
        self.kind = Kind.DISPLAY
        #: Control frames (ping, pong) the peer may send; made at its first one.
        self.control: ControlLimit | None = None
        #: A text message arriving in fragments (at most MAX_FRAME_BYTES in all).
        self.fragments: list[bytes] | None = None
        self.opened_at = owner.clock()
        #: When the closing handshake (or the HTTP answer) started: the fixed deadline's start.
        self.closing_at: float | None = None
        self.closing_bytes = 0
        self.lingering = False  # answered an unread request; discarding until the peer closes
        self.close_code: int | None = None
        self.live = False  # opened and counted as such (metrics)

    def __repr__(self) -> str:
        return f"<Socket {self.kind.name.lower()} {self.phase.name}>"

    # --- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but are one.
        self.transport = cast("asyncio.Transport", transport)
        self.transport.set_write_buffer_limits(high=self.owner.limits.write_limit)
        self.owner.socket_made(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._data_received(data)
        except Exception as exc:  # a bug must cost this socket only, in one line
            logger.error(
                "%r dropped: %s while reading it: %s", self, type(exc).__name__, str(exc)[:200]
            )
            self.drop("error")

    def _data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase == Phase.OPEN:
            # Only an open socket's traffic counts as a sign of life (keepalive); the
            # deadlines of handshakes and closing handshakes are fixed.
            self.owner.seen(self)
            self._receive_frames(data)
        elif phase == Phase.HANDSHAKE:
            self._receive_request(data)
        elif phase == Phase.PENDING:
            # A client should wait for the 101; keep a little, refuse a flood.
            self.early += data
            if len(self.early) > _MAX_EARLY_BYTES:
                self.drop("flood")
        else:
            # CLOSING: only the peer's close frame (or EOF) is awaited; whatever else
            # it sends is discarded unanswered, within a budget, until closing_at's deadline.
            self.closing_bytes += len(data)
            if self.closing_bytes > (LINGER_BYTES if self.lingering else CLOSING_BYTES):
                self.drop("flood")
            elif self.ws is not None and not self.lingering:
                self._receive_frames(data)

    def eof_received(self) -> bool | None:
        if self.ws is not None and self.phase >= Phase.OPEN:
            self.ws.receive_eof()
            self._flush_protocol()
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = Phase.CLOSED
        self.owner.socket_lost(self)
        # Break the reference cycles a socket has, so reference counting frees it
        # at once even when the collector no longer looks at it (server/gctune.py):
        # this object ↔ its transport, and the protocol ↔ its parser generator.
        self.transport = None
        if self.ws is not None:
            self.ws.parser = None  # type: ignore[assignment]  # the generator goes, and its frame
            self.ws = None
        self.reader = None
        self.fragments = None

    def pause_writing(self) -> None:
        self.owner.congested(self)

    def resume_writing(self) -> None:
        if self.phase == Phase.OPEN:
            self.owner.drained(self)

    # --- the opening handshake ----------------------------------------------------
    def _receive_request(self, data: bytes) -> None:
        assert self.reader is not None
        try:
            request = self.reader.feed(data)
        except HandshakeError as exc:
            logger.info("HTTP request refused with %d: %s", exc.status, exc.detail)
            # The request was not read to its end: keep reading (and discarding) after
            # the answer, so closing does not reset the connection before the client has it.
            self.respond(exc.status, exc.detail.encode() + b"\n", linger=True)
            return
        if request is None:
            return
        self.reader = None
        self.phase = Phase.PENDING
        self.owner.request_received(self, request)

    def peer(self) -> Any:
        """The remote address (``peername``), for the failed-authentication throttle."""
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    def respond(self, status: int, body: bytes, *, linger: bool = False, **kwargs: Any) -> None:
        """Answer with plain HTTP and close (errors, health checks, metrics).

        ``linger``: the client may still be sending (a request over the limit): shut
        down our side only and discard what still arrives, up to ``LINGER_BYTES``
        and the close timeout, as web servers do ("lingering close").
        """
        transport = self.transport
        if transport is not None and self.phase < Phase.OPEN:
            transport.write(http_response(status, body, **kwargs))
            if linger and transport.can_write_eof():
                transport.write_eof()
                self.lingering = True
            else:
                transport.close()
        self._closing()

    def open(self, handshake: bytes, frames: list[bytes]) -> None:
        """Complete the handshake and write the first frames, in one write."""
        if self.phase != Phase.PENDING or self.transport is None:
            return
        self.phase = Phase.OPEN
        if not self._send(handshake + b"".join(frames)):
            return
        if self.early:
            early, self.early = self.early, b""
            self._receive_frames(early)

    def refuse(self, handshake: bytes, code: int, reason: str) -> None:
        """Complete the handshake only to close at once with ``code`` (what displays read)."""
        if self.phase != Phase.PENDING or self.transport is None:
            return
        self.phase = Phase.OPEN
        self.early = b""  # never read: the socket is refused
        if self._send(handshake):
            self.close(code, reason)

    def _protocol(self) -> WsProtocol:
        # Made on first use: most sockets stay silent for long stretches and a
        # protocol object is ~1.5 KiB; a storm of connects need not build them.
        if self.ws is None:
            self.ws = WsProtocol(Side.SERVER, state=State.OPEN, max_size=messages.MAX_FRAME_BYTES)
            self.ws.logger = _ws_logger
            self.ws.debug = False
        return self.ws

    # --- frames ---------------------------------------------------------------------
    def _receive_frames(self, data: bytes) -> None:
        ws = self._protocol()
        ws.receive_data(data)
        flood = False
        for event in ws.events_received():
            if not isinstance(event, Frame):
                continue
            opcode = event.opcode
            if opcode is Opcode.PING or opcode is Opcode.PONG:
                flood = not self._control_allowed() or flood
            elif self.phase != Phase.OPEN or flood:
                continue
            elif opcode is Opcode.TEXT:
                if event.fin:
                    self.owner.text_received(self, bytes(event.data))
                else:
                    # websockets holds the fragments together to max_size (1009 past it).
                    self.fragments = [bytes(event.data)]
            elif opcode is Opcode.CONT:
                if self.fragments is not None:
                    self.fragments.append(bytes(event.data))
                    if event.fin:
                        text, self.fragments = b"".join(self.fragments), None
                        self.owner.text_received(self, text)
            elif opcode is Opcode.BINARY:
                self.owner.close(self, CloseCode.POLICY_VIOLATION, "binary frames are not accepted")
            # CLOSE needs nothing more here: the protocol answers it (below)
        if flood:
            # Unanswered: the pongs of this read are dropped, the socket closed (or,
            # already closing, dropped).
            self._flush_protocol(pongs=False)
            if self.phase == Phase.OPEN:
                logger.info("%r sent too many control frames; closing", self)
                self.owner.close(self, CloseCode.POLICY_VIOLATION, "too many control frames")
            else:
                self.drop("flood")
            return
        if self.phase == Phase.OPEN and ws.state is not State.OPEN:
            # The protocol failed the connection (frame over max_size, bad framing)
            # or the peer started the closing handshake.
            sent = ws.close_sent
            if sent is not None and ws.close_rcvd is None:
                self.close_code = int(sent.code)
                self.owner.count_close(int(sent.code))
            self._closing()
        self._flush_protocol()

    def _control_allowed(self) -> bool:
        now = self.owner.clock()
        if self.control is None:
            self.control = ControlLimit(now)
        return self.control.allow(now)

    def _flush_protocol(self, *, pongs: bool = True) -> None:
        """Write what websockets' protocol has to send: close frames, EOF, and pongs while
        the socket is open (never while closing: a closing peer gets no answers)."""
        ws, transport = self.ws, self.transport
        if ws is None or transport is None:
            return
        pongs = pongs and self.phase == Phase.OPEN
        for chunk in ws.data_to_send():
            if chunk is SEND_EOF or chunk == b"":
                transport.close()  # a server closes the TCP connection first
                return
            if not pongs and chunk[0] & 0x0F == Opcode.PONG.value:
                continue
            if not self._send(chunk):
                return

    def _send(self, data: bytes) -> bool:
        """Write ``data`` unless the peer left more than ``max_write_buffer`` bytes unread:
        then it is dropped (the bound on what any socket costs, in any phase)."""
        transport = self.transport
        if transport is None:
            return False
        if transport.get_write_buffer_size() + len(data) > self.owner.limits.max_write_buffer:
            self.drop("buffer")
            return False
        transport.write(data)
        return True

    def write(self, frame: bytes) -> bool:
        """Write an encoded frame (only while open); whether it was written."""
        if self.phase == Phase.OPEN:
            return self._send(frame)
        return False

    def ping(self) -> None:
        if self.phase == Phase.OPEN and self.transport is not None:
            self._send(PING_FRAME)

    def close(self, code: int, reason: str = "") -> bool:
        """Start the closing handshake with ``code``; the peer answers, then TCP closes.

        Whether a close frame with ``code`` was sent: not when the socket is no longer
        open, nor when the closing handshake has begun already (the peer's close frame
        came in the same read as the message that made us close)."""
        if self.phase != Phase.OPEN:
            return False
        ws = self._protocol()
        sent = ws.state is State.OPEN
        if sent:
            self.close_code = code
            ws.send_close(code, reason)
        self._closing()
        self._flush_protocol()
        return sent

    def _closing(self) -> None:
        self.phase = Phase.CLOSING
        self.fragments = None
        if self.closing_at is None:
            self.closing_at = self.owner.clock()
            self.owner.socket_closing(self)

    def drop(self, reason: str) -> None:
        """Drop the TCP connection now, counted and logged (once) by ``reason``."""
        if self.transport is None or self.phase == Phase.CLOSED:
            return
        metrics.gateway_dropped_total.labels(reason=reason).inc()
        logger.info(
            "%s socket from %s dropped while %s: %s",
            self.kind.name.lower(),
            self._source(),
            self.phase.name.lower(),
            _DROP_REASONS.get(reason, reason),
        )
        self.phase = Phase.CLOSED  # connection_lost follows; nothing more is read or written
        self.transport.abort()

    def _source(self) -> str:
        """The peer's address (the proxy's, behind one), for the log."""
        peer = self.peer()
        return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"

    def abort(self) -> None:
        """Drop the TCP connection now (dead peer, timeout, flood, shutdown)."""
        if self.transport is not None:
            self.transport.abort()
