"""HTTP fuzzing of the management API and the display endpoints, from the OpenAPI document.

Two fuzzers, each bounded:

- ``junk``: a seeded generator of its own (no extra dependency, also used by
  ``make test``): for every operation of ``/api/v1/openapi.json`` it sends
  bodies built from the operation's schema and then broken — ``null`` for a
  field, wrong types, NUL characters, integers beyond 64 bits, ``NaN``,
  offsets beyond ±16 h, deep nesting, ``null`` or non-JSON as the whole body —
  with odd path parameters, plus the display endpoints with broken tokens,
  device keys and bodies.
- ``schemathesis``: the schemathesis command line (the ``reliability`` extra)
  against the same document, with its checks ``not_a_server_error`` and
  ``status_code_conformance``.

A request passes when it is answered below 500, with a JSON error body
(``{"error": …}``) when it is refused, and — for the management API — with a
status the OpenAPI document lists for the operation. Operations that would
make the server fetch a URL (iCal feeds, watched import sources) are not fuzzed:
a run reaches 127.0.0.1 only.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Operations not fuzzed: they make the server fetch a URL from the request.
EXCLUDED = re.compile(r"calendar/ical|imports/source")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


Send = Callable[[str, str, dict[str, str], bytes | None], Answer]


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
        seen += 1
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(schema["allOf"][0], doc)
    return schema


def _sample(schema: dict[str, Any], doc: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A value the schema would accept (roughly): the start for the breakage."""
    schema = _resolve(schema, doc)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(s, doc) for s in schema[key]]
            non_null = [s for s in options if s.get("type") != "null"] or options
            return _sample(rng.choice(non_null), doc, rng, depth + 1)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            name: _sample(sub, doc, rng, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_sample(schema.get("items", {}), doc, rng, depth + 1)] if depth < 4 else []
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-11-23T10:00:00+01:00"
        if fmt == "date":
            return "2026-11-23"
        if fmt == "time":
            return "08:00"
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None


BAD_VALUES: list[Any] = [
    None,
    "",
    "\u0000",
    "a\u0000b",
    2**63,
    -(2**63) - 1,
    10**40,
    -1,
    0,
    1.5,
    True,
    [],
    {},
    "x" * 5000,
    "2026-11-23T10:00:00+23:00",
    "2026-11-23T10:00:00-16:30",
    "9999-12-31T23:59:59Z",
    "0000-01-01",
    "2026-02-30",
    "25:61",
    "08:00:00+05:00",
    "🙂",
]
RAW_BODIES = [
    b"null",
    b"",
    b"[]",
    b"42",
    b'"text"',
    b"{",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1e999}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": "\\u0000"}',
    b"\xff\xfe\x00",
    b'{"a": 123456789012345678901234567890}',
]
PATH_VALUES = [
    "0",
    "-1",
    "9223372036854775808",
    "abc",
    "%00",
    "%2e%2e",
    "1.5",
    "x" * 300,
    "%F0%9F%99%82",
]


def _body(schema: dict[str, Any] | None, doc: dict[str, Any], rng: random.Random) -> bytes | None:
    if schema is None:
        return None if rng.random() < 0.7 else rng.choice(RAW_BODIES)
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(RAW_BODIES)
    value = _sample(schema, doc, rng)
    if isinstance(value, dict) and value and roll < 0.95:
        for name in rng.sample(sorted(value), rng.randint(1, min(3, len(value)))):
            value[name] = rng.choice(BAD_VALUES)
    elif roll >= 0.95:
        pass  # the valid sample itself
    return json.dumps(value).encode()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in sorted(doc.get("paths", {}).items()):
        if EXCLUDED.search(path):
            continue
        for method in METHODS:
            if method in item:
                out.append((method.upper(), path, item[method]))
    return out


def _request_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return dict(content["application/json"].get("schema", {}))
    return None


def _fill_path(path: str, rng: random.Random, school: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "slug":
            return school if rng.random() < 0.8 else rng.choice([*PATH_VALUES, "rel-2", "nowhere"])
        return str(rng.randint(1, 30)) if rng.random() < 0.6 else rng.choice(PATH_VALUES)

    return re.sub(r"\{(\w+)\}", value, path)


def _check(answer: Answer, documented: set[str] | None) -> str | None:
    """What is wrong with an answer (None: nothing)."""
    if answer.status >= 500:
        return f"server error {answer.status}"
    if (
        documented is not None
        and str(answer.status) not in documented
        and "default" not in documented
    ):
        return f"status {answer.status} not in the OpenAPI document"
    if answer.status >= 400 and answer.status != 405:
        if "json" not in answer.content_type:
            return f"{answer.status} answered as {answer.content_type or 'no content type'}"
        try:
            parsed = json.loads(answer.body)
        except ValueError:
            return f"{answer.status} with a body that is not JSON"
        if not isinstance(parsed, dict) or "error" not in parsed:
            return f"{answer.status} without an error code"
    return None


def display_cases(
    rng: random.Random, token: str, dk: str
) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    """Requests to the display endpoints: broken credentials, bodies and pairing requests."""
    tokens = [token, "", "hbs_" + "0" * 40, token + "%00", "t" * 400]
    dks = [dk, "", "short", "%00%00%00%00%00%00%00%00", "x" * 200, "ü" * 10]
    out: list[tuple[str, str, dict[str, str], bytes | None]] = []
    for _ in range(40):
        t, d = rng.choice(tokens), rng.choice(dks)
        endpoint = rng.choice(["status", "snapshot", "heartbeat", "ack"])
        method = "GET" if endpoint in ("status", "snapshot") else "POST"
        body = None
        if method == "POST":
            fields = {
                "rev": rng.choice([1, -1, 2**63, "x", None]),
                "mode": rng.choice(["ws", "poll", 1]),
                "alert": rng.choice([1, 0, 2**63]),
                "state": rng.choice(["shown", "cleared", "no"]),
                "health": rng.choice([{}, {"a": "\u0000"}, "x"]),
                "uptime_s": rng.choice([1, -1, 1e308]),
            }
            body = rng.choice([json.dumps(fields).encode(), *RAW_BODIES])
        out.append((method, f"/api/display/{endpoint}/?token={t}&dk={d}", {}, body))
    for _ in range(15):
        body = rng.choice(
            [
                json.dumps({"dk": rng.choice([dk, 1, None, [], {"a": 1}, "\u0000" * 9])}).encode(),
                *RAW_BODIES,
            ]
        )
        out.append(("POST", "/api/display/pair/", {}, body))
        code = rng.choice(["ABCDEF", "%00", "x" * 300, "zzzzzz"])
        out.append(
            (
                "GET",
                f"/api/display/pair/{code}/",
                {"X-Pairing-Secret": rng.choice(["", "x", "\u00e9"])},
                None,
            )
        )
    return out


def junk(
    send: Send,
    doc: dict[str, Any],
    *,
    api_key: str,
    school: str,
    token: str,
    dk: str,
    cases: int,
    seed: int,
) -> dict[str, Any]:
    """``cases`` requests spread over every operation (and the display endpoints)."""
    rng = random.Random(seed)
    ops = operations(doc)
    statuses: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    started = time.monotonic()
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    planned: list[tuple[str, str, dict[str, str], bytes | None, set[str] | None]] = []
    for method, path, headers, body in display_cases(rng, token, dk):
        planned.append((method, path, headers, body, None))
    while len(planned) < cases:
        method, path, op = ops[len(planned) % len(ops)]
        headers = dict(auth)
        if rng.random() < 0.05:
            headers["Authorization"] = rng.choice(
                ["Bearer", "Bearer hbk_nope", "Basic x", "Bearer \u00e9"]
            )
        if method in ("POST", "PUT", "PATCH") and rng.random() < 0.1:
            headers["Content-Type"] = rng.choice(
                ["multipart/form-data", "multipart/form-data; boundary=", "text/plain", ""]
            )
        if method == "POST" and rng.random() < 0.3:
            headers["Idempotency-Key"] = rng.choice(
                ["k-" + str(rng.random()), "", "x" * 300, "a b"]
            )
        url = _fill_path(path, rng, school)
        planned.append(
            (
                method,
                url,
                headers,
                _body(_request_schema(op), doc, rng),
                set(op.get("responses", {})),
            )
        )
    for method, url, headers, body, documented in planned[:cases]:
        try:
            answer = send(method, url, headers, body)
        except Exception as error:
            failures.append({"request": f"{method} {url}", "problem": f"raised {error!r}"[:300]})
            continue
        statuses[str(answer.status)] += 1
        problem = _check(answer, documented)
        if problem is not None:
            failures.append(
                {
                    "request": f"{method} {url}"[:200],
                    "body": (body or b"")[:200].decode("utf-8", "replace"),
                    "problem": problem,
                }
            )
    return {
        "cases": min(cases, len(planned)),
        "operations": len(ops),
        "seed": seed,
        "elapsed_s": round(time.monotonic() - started, 1),
        "statuses": dict(sorted(statuses.items())),
        "failed": len(failures),
        "failures": failures[:50],
    }


class HttpxSender:
    """Sends the fuzzer's requests to a server with httpx; a context manager (closes its client)."""

    def __init__(self, base: str, timeout: float = 15.0) -> None:
        import httpx

        self.client = httpx.Client(base_url=base, timeout=timeout)

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Answer:
        clean = {k.encode(): v.encode("utf-8") for k, v in headers.items()}
        response = self.client.request(method, url, headers=clean, content=body)
        return Answer(
            response.status_code, response.headers.get("content-type", ""), response.content
        )

    def __enter__(self) -> HttpxSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


# --- schemathesis ---
def schemathesis_available() -> str | None:
    found = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    return found if Path(found).exists() else None


def schemathesis(
    base: str, api_key: str, *, max_examples: int, seed: int, work: Path, time_limit: float
) -> dict[str, Any]:
    """Run the schemathesis command line; its JUnit report says which operations failed."""
    binary = schemathesis_available()
    if binary is None:
        return {"skipped": "schemathesis not installed (pip install -e '.[reliability]')"}
    report = work / "schemathesis"
    report.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "-H",
        f"Authorization: Bearer {api_key}",
        "--checks",
        "not_a_server_error,status_code_conformance",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--exclude-path-regex",
        EXCLUDED.pattern,
        "--report",
        "junit",
        "--report-dir",
        str(report),
        "--no-color",
        "--workers",
        "2",
        "--max-time",
        str(int(time_limit)),
        "--generation-database",
        "none",
        "--request-timeout",
        "15",
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 - our own command line
            argv, capture_output=True, text=True, timeout=time_limit + 60, check=False, cwd=work
        )
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        output = (
            (expired.stdout or b"").decode()
            if isinstance(expired.stdout, bytes)
            else str(expired.stdout or "")
        )
        code = None
    (work / "schemathesis.log").write_text(output)
    return {
        "exit_code": code,
        "elapsed_s": round(time.monotonic() - started, 1),
        "max_examples": max_examples,
        "seed": seed,
        **_junit(report),
        "summary": _summary(output),
    }


def _junit(folder: Path) -> dict[str, Any]:
    import xml.etree.ElementTree as ET

    tests = failures = errors = 0
    failed: list[dict[str, str]] = []
    for path in folder.glob("*.xml"):
        root = ET.parse(path).getroot()  # noqa: S314 - written by schemathesis just now
        for case in root.iter("testcase"):
            tests += 1
            for kind in ("failure", "error"):
                for item in case.findall(kind):
                    if kind == "failure":
                        failures += 1
                    else:
                        errors += 1
                    text = (item.get("message") or item.text or "").strip()
                    failed.append(
                        {"operation": case.get("name", "?"), "kind": kind, "message": text[:600]}
                    )
    return {"operations": tests, "failures": failures, "errors": errors, "failed": failed[:40]}


def _summary(output: str) -> list[str]:
    keep = ("passed", "failed", "error", "Test cases", "Operations", "seconds", "generated")
    return [line.strip() for line in output.splitlines() if any(k in line for k in keep)][-12:]
