"""The gateway's opening handshake: one HTTP/1.1 request parsed, one answer built."""

from __future__ import annotations

import base64

import pytest

from hallboard.realtime.gateway.handshake import (
    MAX_REQUEST_BYTES,
    HandshakeError,
    Request,
    RequestReader,
    accept_key,
    check_upgrade,
    http_response,
    switching_protocols,
)

KEY = base64.b64encode(b"0123456789abcdef").decode()
UPGRADE = (
    "GET /ws/display/?token=t1&dk=device-0001 HTTP/1.1\r\n"
    "Host: example.org\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "X-Secret: not kept\r\n"
    "\r\n"
).encode()


def read(data: bytes, pieces: int = 1) -> Request:
    reader = RequestReader()
    size = -(-len(data) // pieces)
    request = None
    for start in range(0, len(data), size):
        request = reader.feed(data[start : start + size])
        if start + size < len(data):
            assert request is None, "answered before the request was complete"
    assert request is not None
    return request


@pytest.mark.parametrize("pieces", [1, 3, len(UPGRADE)])
def test_an_upgrade_is_parsed_however_it_arrives(pieces: int) -> None:
    """Method, path, query and the kept headers (lower-cased), in one read or byte by byte."""
    request = read(UPGRADE, pieces)
    assert request.method == "GET"
    assert request.path == "/ws/display/"
    assert request.query == {"token": "t1", "dk": "device-0001"}
    assert request.upgrade is True
    assert request.websocket_key == KEY
    assert request.headers["connection"] == "keep-alive, Upgrade"
    assert "x-secret" not in request.headers  # only the headers the server reads are kept
    assert "host" not in request.headers


def test_a_repeated_parameter_means_its_last_value() -> None:
    """?token=a&token=b is token b: as Django's QueryDict.get and the display's HTTP
    endpoints read it (hallboard.display.credentials)."""
    request = read(b"GET /ws/display/?token=a&dk=device-0001&token=b HTTP/1.1\r\n\r\n")
    assert request.query == {"token": "b", "dk": "device-0001"}


def test_a_plain_get_is_not_an_upgrade() -> None:
    """A health check's GET is parsed too, without the upgrade flag."""
    request = read(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (request.path, request.upgrade, request.query) == ("/healthz", False, {})


def test_malformed_http_is_400() -> None:
    """Bytes that are not HTTP are refused with 400."""
    with pytest.raises(HandshakeError) as refused:
        RequestReader().feed(b"\x16\x03\x01 not http\r\n\r\n")
    assert refused.value.status == 400


def test_a_long_url_is_414_and_long_headers_431() -> None:
    """Over MAX_REQUEST_BYTES: 414 while the request line is not complete, else 431."""
    with pytest.raises(HandshakeError) as url:
        RequestReader().feed(b"GET /" + b"a" * MAX_REQUEST_BYTES)
    assert url.value.status == 414
    reader = RequestReader()
    assert reader.feed(b"GET / HTTP/1.1\r\n") is None
    filler = b"X-Filler: " + b"f" * 88 + b"\r\n"  # 100 bytes
    for _ in range(MAX_REQUEST_BYTES // 100 - 1):
        assert reader.feed(filler) is None  # within the limit: still reading
    with pytest.raises(HandshakeError) as headers:
        reader.feed(filler * 2)
    assert headers.value.status == 431


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"method": "POST"}, 405),
        ({"upgrade": ""}, 426),
        ({"connection": "keep-alive"}, 426),
        ({"sec-websocket-version": "8"}, 426),
        ({"sec-websocket-key": "short"}, 400),
        ({"sec-websocket-key": "!!not base64!!"}, 400),
    ],
)
def test_an_invalid_upgrade_is_refused(change: dict[str, str], status: int) -> None:
    """RFC 6455 4.2.1: GET, Upgrade: websocket, Connection: Upgrade, version 13, a 16-byte key."""
    request = read(UPGRADE)
    check_upgrade(request)  # the untouched request is valid
    if "method" in change:
        request.method = change["method"]
    else:
        request.headers.update(change)
    with pytest.raises(HandshakeError) as refused:
        check_upgrade(request)
    assert refused.value.status == status


def test_accept_key_is_the_rfc_example() -> None:
    """RFC 6455 1.3's example key and answer."""
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_switching_protocols_answers_with_the_accept_key() -> None:
    """The 101 answer carries Sec-WebSocket-Accept for the client's key and no extension."""
    answer = switching_protocols("dGhlIHNhbXBsZSBub25jZQ==")
    assert answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in answer
    assert b"Sec-WebSocket-Extensions" not in answer
    assert answer.endswith(b"\r\n\r\n")


def test_http_response_is_complete_and_closes() -> None:
    """Status line, length, no caching, Connection: close, extra headers, then the body."""
    answer = http_response(503, b"busy\n", headers={"Retry-After": "5"})
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert "Content-Length: 5" in lines
    assert "Cache-Control: no-store" in lines
    assert "Connection: close" in lines
    assert "Retry-After: 5" in lines
    assert body == b"busy\n"
