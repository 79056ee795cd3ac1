"""The fuzzers, small: bounded runs against a real server, and what they count as a failure."""

from __future__ import annotations

import asyncio
import json

from reliability import httpfuzz, wsfuzz
from reliability.stack import Stack

CASES = 200


def test_websocket_fuzzing_ends_every_case_with_a_documented_code(small_stack: Stack) -> None:
    """200 generated handshakes and frame sequences: each is answered with a 1xx/4xx status,
    ends with a documented close code or stays open; a screen still gets its hello after,
    and the gateway logged no traceback."""
    node = small_stack.nodes[0]
    screen, spare = small_stack.screens()[0], small_stack.screens()[1]
    result = asyncio.run(
        wsfuzz.fuzz("127.0.0.1", node.gateway, screen["token"], screen["dk"], cases=CASES, seed=7)
    )
    assert result["cases"] == CASES
    assert result["failed"] == 0, result["failures"]
    assert sum(result["outcomes"].values()) == CASES
    assert result["handshakes"]["valid"] > CASES // 3  # most cases reach the frames
    assert any(key.startswith("close 10") for key in result["outcomes"])
    assert asyncio.run(wsfuzz.still_serves("127.0.0.1", node.gateway, spare["token"], spare["dk"]))
    assert small_stack.tracebacks() == 0


def test_http_fuzzing_gets_no_5xx_and_only_documented_statuses(small_stack: Stack) -> None:
    """200 generated requests over every management API operation and the display
    endpoints: none answered 5xx, every refusal a JSON error, every status in the OpenAPI
    document."""
    node = small_stack.nodes[0]
    spare = small_stack.screens()[1]
    with httpfuzz.HttpxSender(f"http://127.0.0.1:{node.web}") as send:
        doc = json.loads(send("GET", "/api/v1/openapi.json", {}, None).body)
        result = httpfuzz.junk(
            send,
            doc,
            api_key=small_stack.api_key,
            school=small_stack.seed["schools"][0]["slug"],
            token=spare["token"],
            dk=spare["dk"],
            cases=CASES,
            seed=7,
        )
    assert result["cases"] == CASES
    assert result["failed"] == 0, result["failures"]
    assert not any(status.startswith("5") for status in result["statuses"])
    assert small_stack.tracebacks() == 0


def test_the_http_fuzzer_counts_a_5xx_an_html_error_and_an_undocumented_status() -> None:
    """What the fuzzer calls a failure: a 500, a refusal that is not JSON, a status the
    operation does not document."""
    ok = httpfuzz.Answer(404, "application/json", b'{"error": "not_found"}')
    assert httpfuzz._check(ok, {"200", "404"}) is None
    assert httpfuzz._check(httpfuzz.Answer(500, "application/json", b"{}"), None)
    assert httpfuzz._check(httpfuzz.Answer(400, "text/html", b"<h1>"), None)
    assert httpfuzz._check(ok, {"200"}) == "status 404 not in the OpenAPI document"
    answers = iter([httpfuzz.Answer(500, "text/html", b"boom")] * 10)
    doc = {"paths": {"/api/v1/x": {"get": {"responses": {"200": {}}}}}}
    result = httpfuzz.junk(
        lambda *_: next(answers), doc, api_key="k", school="s", token="t", dk="d", cases=5, seed=1
    )
    assert result["failed"] == 5


def test_a_websocket_case_fails_on_an_undocumented_close_or_a_5xx() -> None:
    """Close codes outside the documented ones (1011: internal error) and 5xx handshake
    answers are failures; the generator is the same for the same seed."""
    case = wsfuzz.Case(0, "valid:message", b"GET / HTTP/1.1\r\n\r\n", [b"x"])
    assert wsfuzz.Outcome("close", 1008).ok(case)
    assert not wsfuzz.Outcome("close", 1011).ok(case)
    assert not wsfuzz.Outcome("http", 500).ok(case)
    assert not wsfuzz.Outcome("dropped").ok(
        wsfuzz.Case(1, "bad-request", b"GET / HTTP/1.1\r\n\r\n")
    )
    first = wsfuzz.generate(3, 50, "127.0.0.1", 1, "hbs_t", "dk-00001")
    again = wsfuzz.generate(3, 50, "127.0.0.1", 1, "hbs_t", "dk-00001")
    assert [(c.label, c.frames) for c in first] == [(c.label, c.frames) for c in again]
