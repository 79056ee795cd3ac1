"""The load client's HTTP/1.1 response parsing (keep-alive polling and API edits)."""

from __future__ import annotations

import pytest

from hallboard.loadtest.http1 import HttpError, ResponseParser, build_request


def test_request_has_host_headers_and_body_length() -> None:
    """A request names the host, carries the headers, and a body with its length."""
    raw = build_request("PATCH", "127.0.0.1", 8000, "/api/v1/x", {"A": "b"}, b'{"k":1}')
    assert raw == (
        b"PATCH /api/v1/x HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nA: b\r\n"
        b'Content-Length: 7\r\n\r\n{"k":1}'
    )
    assert b"Content-Length" not in build_request("GET", "::1", 80, "/")
    assert b"Host: [::1]:80" in build_request("GET", "::1", 80, "/")


def test_304_has_no_body_and_the_next_response_follows() -> None:
    """A 304 ends at its head; two keep-alive answers in one read come out as two."""
    parser = ResponseParser()
    out = parser.feed(
        b'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\n\r\n'
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
        b'{"rev":4}'
    )
    assert [(r.status, r.body) for r in out] == [(304, b""), (200, b'{"rev":4}')]
    assert out[0].headers["etag"] == '"abc"'


def test_body_split_across_reads() -> None:
    """A Content-Length body arriving in pieces is returned once complete."""
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab") == []
    (response,) = parser.feed(b"cde")
    assert response.body == b"abcde"
    assert response.keep_alive


def test_chunked_body_is_joined() -> None:
    """Chunked transfer encoding is decoded, trailer and all."""
    parser = ResponseParser()
    (response,) = parser.feed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"
    )
    assert response.body == b"abcde"
    assert not response.keep_alive


@pytest.mark.parametrize(
    "data",
    [b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n"],
)
def test_invalid_responses_raise(data: bytes) -> None:
    """Not HTTP, or a 200 with no way to know where its body ends, is an error."""
    with pytest.raises(HttpError):
        ResponseParser().feed(data)
