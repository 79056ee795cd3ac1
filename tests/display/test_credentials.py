"""hallboard.display.credentials: a request's credentials read as Django reads them."""

from __future__ import annotations

import io

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallboard.display import credentials
from hallboard.display.credentials import Credentials, Problem

QUERIES = [
    "token=a&dk=b",
    "token=a&token=b",
    "token=b&token=",
    "token=&token=b",
    "dk=one&dk=two&token=x",
    "token=%41%42&dk=a+b",
    "token",
    "=x&token=y",
    "a=1&&b=2;c=3",
    "token=caf%C3%A9",
    "",
]


@pytest.mark.parametrize("query", QUERIES)
def test_query_values_are_querydicts_last_values(query: str) -> None:
    """Each parameter means its last value, blank values kept: QueryDict.get's answer."""
    assert credentials.query_values(query) == QueryDict(query).dict()


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(["token", "dk", "x", ""]), st.text(max_size=6)), max_size=6)
)
def test_query_values_agree_with_django_for_any_query(pairs: list[tuple[str, str]]) -> None:
    """Whatever the parameters and their repetitions, the fast path's reading of a query
    equals Django's."""
    from urllib.parse import urlencode

    query = urlencode(pairs)
    assert credentials.query_values(query) == QueryDict(query).dict()


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="tokendk=&;%+ 4A\u00e9", max_size=24), st.none() | st.integers(0, 4))
def test_query_values_read_raw_queries_as_django_does(query: str, max_fields: int | None) -> None:
    """Any raw query string (with or without escapes, blank and repeated fields, names
    without ``=``) reads as Django's QueryDict reads it, and is refused over the same
    number of fields as Django's parser (``parse_qsl``) refuses it."""
    from urllib.parse import parse_qsl

    try:
        parse_qsl(query, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        with pytest.raises(ValueError, match="Max number of fields"):
            credentials.query_values(query, max_fields)
        return
    assert credentials.query_values(query, max_fields) == QueryDict(query).dict()


def test_too_many_parameters_are_refused() -> None:
    """Over max_fields the query is not read (Django answers it: TooManyFieldsSent)."""
    with pytest.raises(ValueError, match="Max number of fields"):
        credentials.query_values("a=1&b=2&c=3", max_fields=2)


def test_token_from_query_else_bearer_header() -> None:
    """?token= wins; without it, Authorization: Bearer (any case of the scheme)."""
    assert credentials.read({"token": "q"}, "Bearer h", "").token == "q"
    assert credentials.read({}, "bearer  h ", "").token == "h"
    assert credentials.read({"token": ""}, "Bearer h", "").token == "h"
    assert credentials.read({}, "Basic h", "").token == ""


def test_device_key_from_query_else_header_stripped() -> None:
    """?dk= wins; without it, X-Device-Key; surrounding spaces go."""
    assert credentials.read({"dk": " q "}, "", "h").device_key == "q"
    assert credentials.read({}, "", " h ").device_key == "h"


@pytest.mark.parametrize(
    ("found", "problem"),
    [
        (Credentials("t", "device-0001"), None),
        (Credentials("", "device-0001"), Problem.NO_TOKEN),
        (Credentials("t" * 257, "device-0001"), Problem.NO_TOKEN),
        (Credentials("t" * 256, "device-0001"), None),
        (Credentials("t", ""), Problem.NO_DEVICE_KEY),
        (Credentials("t", "short"), Problem.BAD_DEVICE_KEY),
        (Credentials("t", "device-0001,device-0001"), Problem.BAD_DEVICE_KEY),
        (Credentials("t", "d" * 129), Problem.BAD_DEVICE_KEY),
    ],
)
def test_problems_in_the_order_the_view_checks(found: Credentials, problem: Problem) -> None:
    """Token first (401), then a missing (400) or malformed device key (400)."""
    assert found.problem is problem


def test_repeated_headers_are_joined_as_djangos_asgi_handler_joins_them() -> None:
    """Two X-Device-Key headers read as Django reads them: one value, joined by a comma."""
    headers = [
        (b"x-device-key", b"device-0001"),
        (b"x-device-key", b"device-0002"),
        (b"authorization", b"Bearer t"),
        (b"x_device_key", b"spoofed-by-underscore"),
    ]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": headers,
    }
    request = ASGIRequest(scope, io.BytesIO())
    joined = credentials.joined_headers(headers, b"x-device-key", b"authorization")
    assert joined[b"x-device-key"] == request.headers["X-Device-Key"]
    assert joined[b"authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ("*", True),
        ('"x", "abc"', True),
        ('"x","abc"', True),
        ('"x"', False),
        ("", False),
        ('W/"abc"', False),  # weak comparison is not used: the ETags are strong
        ("abc", False),
    ],
)
def test_etag_matching(header: str, matches: bool) -> None:
    """If-None-Match names the ETag (in a list, or *) or it does not."""
    assert credentials.etag_matches(header, '"abc"') is matches
