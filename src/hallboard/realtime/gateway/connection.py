"""One TCP connection to the gateway, as a lean ``asyncio.Protocol``.

Why not the `websockets` library's asyncio server: it runs a handler task and
a keepalive task per connection and builds every outgoing frame per
connection. hallboard holds tens of thousands of mostly idle sockets and
writes the same few dozen bytes to thousands of them at once, so the glue is
its own, as python-websockets recommends for such cases: ``data_received``
feeds websockets' sans-I/O ``Protocol`` (framing, control frames, the closing
handshake), the gateway writes frames encoded once per publish straight to the
transport, and keepalive is one sweep over all sockets (``Gateway._sweep``).

Life of a socket (``Phase``)::

    HANDSHAKE ── request parsed ──► PENDING ── accepted ──► OPEN ── close sent ──► CLOSING
        │  (HTTP answer: health,          │ (auth in a      │                        │
        │   metrics, errors) ──► CLOSED   │  batch, thread) └── peer closes ─────────┤
        └─────────────────────────────────┴── refused: 101 + close frame ──► CLOSING ┴─► CLOSED
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import TYPE_CHECKING, Any, cast

from websockets.frames import Close, Frame, Opcode
from websockets.protocol import SEND_EOF, Protocol, Side, State

from hallboard.realtime.core import messages
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.handshake import HandshakeError, RequestReader, http_response

if TYPE_CHECKING:
    from hallboard.realtime.core.messages import InboundLimit
    from hallboard.realtime.gateway.server import Gateway

# websockets logs every closed connection at INFO: noise at tens of thousands of
# sockets. The gateway logs what matters (refusals, policy closes) itself.
_ws_logger = logging.getLogger("hallboard.realtime.ws")
_ws_logger.setLevel(logging.WARNING)
#: Bytes a client may send before its socket is accepted (it should send none).
_MAX_EARLY_BYTES = 4096


class Phase(enum.IntEnum):
    HANDSHAKE = 0
    PENDING = 1
    OPEN = 2
    CLOSING = 3
    CLOSED = 4


class Kind(enum.IntEnum):
    DISPLAY = 0
    STAFF = 1


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


class Socket(asyncio.Protocol):
    """A display's or a staff page's socket. Hashable by identity: the hub's handle."""

    __slots__ = (
        "close_code",
        "early",
        "gateway",
        "inbound",
        "kind",
        "last_seen",
        "live",
        "opened_at",
        "phase",
        "ping_sent_at",
        "reader",
        "rev_shown",
        "school_id",
        "screen_id",
        "transport",
        "user_id",
        "ws",
    )

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.phase = Phase.HANDSHAKE
        self.reader: RequestReader | None = RequestReader()
        self.ws: Protocol | None = None
        self.early = b""
        self.kind = Kind.DISPLAY
        self.screen_id = 0
        self.school_id = 0
        self.user_id = 0
        self.inbound: InboundLimit | None = None
        self.rev_shown: int | None = None
        self.opened_at = self.last_seen = gateway.clock()
        self.ping_sent_at: float | None = None
        self.close_code: int | None = None
        self.live = False  # opened and counted as such (metrics)

    def __repr__(self) -> str:
        return f"<Socket {self.kind.name.lower()} screen={self.screen_id} {self.phase.name}>"

    # --- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but are one.
        self.transport = cast("asyncio.Transport", transport)
        self.transport.set_write_buffer_limits(high=self.gateway.options.write_limit)
        self.gateway.socket_made(self)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self.gateway.clock()
        self.ping_sent_at = None
        phase = self.phase
        if phase >= Phase.OPEN:
            self._receive_frames(data)
        elif phase == Phase.HANDSHAKE:
            self._receive_request(data)
        else:  # PENDING: a client should wait for the 101; keep a little, refuse a flood
            self.early += data
            if len(self.early) > _MAX_EARLY_BYTES:
                self.abort()

    def eof_received(self) -> bool | None:
        if self.ws is not None and self.phase >= Phase.OPEN:
            self.ws.receive_eof()
            self._flush_protocol()
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = Phase.CLOSED
        self.gateway.socket_lost(self)
        # Break the reference cycles a socket has, so reference counting frees it
        # at once even when the collector no longer looks at it (server/gctune.py):
        # this object ↔ its transport, and the protocol ↔ its parser generator.
        self.transport = None
        if self.ws is not None:
            self.ws.parser = None  # type: ignore[assignment]  # the generator goes, and its frame
            self.ws = None
        self.reader = None

    def pause_writing(self) -> None:
        self.gateway.hub.congested(self, self.gateway.clock())

    def resume_writing(self) -> None:
        if self.phase == Phase.OPEN:
            for frame in self.gateway.hub.drained(self):
                self.write(encode_frame(frame))

    # --- the opening handshake ----------------------------------------------------
    def _receive_request(self, data: bytes) -> None:
        assert self.reader is not None
        try:
            request = self.reader.feed(data)
        except HandshakeError as exc:
            self.respond(exc.status, exc.detail.encode() + b"\n")
            return
        if request is None:
            return
        self.reader = None
        self.phase = Phase.PENDING
        self.gateway.request_received(self, request)

    def peer(self) -> Any:
        """The remote address (``peername``), for the failed-authentication throttle."""
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    def respond(self, status: int, body: bytes, **kwargs: Any) -> None:
        """Answer with plain HTTP and close (errors, health checks, metrics)."""
        if self.transport is not None and self.phase < Phase.OPEN:
            self.transport.write(http_response(status, body, **kwargs))
            self.transport.close()
        self.phase = Phase.CLOSING

    def open(self, handshake: bytes, frames: list[bytes]) -> None:
        """Complete the handshake and write the first frames, in one write."""
        if self.phase != Phase.PENDING or self.transport is None:
            return
        self.phase = Phase.OPEN
        self.transport.write(handshake + b"".join(frames))
        if self.early:
            early, self.early = self.early, b""
            self._receive_frames(early)

    def refuse(self, handshake: bytes, code: int, reason: str) -> None:
        """Complete the handshake only to close at once with ``code`` (what displays read)."""
        if self.phase != Phase.PENDING or self.transport is None:
            return
        self.phase = Phase.OPEN
        self.transport.write(handshake)
        self.close(code, reason)

    def _protocol(self) -> Protocol:
        # Made on first use: most sockets stay silent for long stretches and a
        # protocol object is ~1.5 KiB; a storm of connects need not build them.
        if self.ws is None:
            self.ws = Protocol(Side.SERVER, state=State.OPEN, max_size=messages.MAX_FRAME_BYTES)
            self.ws.logger = _ws_logger
            self.ws.debug = False
        return self.ws

    # --- frames ---------------------------------------------------------------------
    def _receive_frames(self, data: bytes) -> None:
        ws = self._protocol()
        ws.receive_data(data)
        for event in ws.events_received():
            if not isinstance(event, Frame) or self.phase != Phase.OPEN:
                continue
            if event.opcode is Opcode.TEXT:
                self.gateway.text_received(self, bytes(event.data))
            elif event.opcode is Opcode.BINARY:
                self.close(CloseCode.POLICY_VIOLATION, "binary frames are not accepted")
            # PING is answered by the protocol; PONG and CLOSE need nothing more here
        if self.phase == Phase.OPEN and ws.state is not State.OPEN:
            # The protocol failed the connection (frame over max_size, bad framing)
            # or the peer started the closing handshake.
            sent = ws.close_sent
            if sent is not None and ws.close_rcvd is None:
                self.close_code = int(sent.code)
                self.gateway.count_close(int(sent.code))
            self.phase = Phase.CLOSING
            self.gateway.socket_closing(self)
        self._flush_protocol()

    def _flush_protocol(self) -> None:
        ws, transport = self.ws, self.transport
        if ws is None or transport is None:
            return
        for chunk in ws.data_to_send():
            if chunk is SEND_EOF or chunk == b"":
                transport.close()  # a server closes the TCP connection first
                return
            transport.write(chunk)

    def write(self, frame: bytes) -> bool:
        """Write an encoded frame (only while open); whether it was written."""
        if self.phase == Phase.OPEN and self.transport is not None:
            self.transport.write(frame)
            return True
        return False

    def ping(self, now: float) -> None:
        if self.phase == Phase.OPEN and self.transport is not None:
            self.ping_sent_at = now
            self.transport.write(PING_FRAME)

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake with ``code``; the peer answers, then TCP closes."""
        if self.phase != Phase.OPEN:
            return
        self.close_code = code
        self._protocol().send_close(code, reason)
        self.phase = Phase.CLOSING
        self.gateway.socket_closing(self)
        self._flush_protocol()

    def abort(self) -> None:
        """Drop the TCP connection now (dead peer, timeout, flood)."""
        if self.transport is not None:
            self.transport.abort()
