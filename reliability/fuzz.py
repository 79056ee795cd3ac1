"""Fuzz a running hallboard of the run's own: its gateway (WebSocket) and its HTTP API.

    python reliability/fuzz.py --ws-cases 2000 --http-cases 1500 --schemathesis-examples 20

Starts one replica (``hallboard serve``) on SQLite or ``--database-url``, then:
the WebSocket fuzzer (reliability/wsfuzz.py), a check that a well-behaved
screen still gets its hello, the HTTP junk fuzzer and schemathesis
(reliability/httpfuzz.py), and counts the tracebacks the server logged (every
bad input must be one log line, never a traceback).

Failed authentications are throttled per source address (``AUTH_FAILURE_RATE``,
docs/operations.md): every fuzzed request comes from 127.0.0.1, so the run
sets a rate the fuzzers do not reach (``RUN_ENV``) for its own server; the
throttle itself is tested in tests/test_throttle.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from reliability import httpfuzz, wsfuzz  # noqa: E402
from reliability.stack import Stack, log  # noqa: E402

RUN_ENV = {
    "AUTH_FAILURE_RATE": "1000000/minute",  # fuzzers guess wrong tokens on purpose
    "ADMIN_LOGIN_FAILURE_RATE": "1000000/minute",
    "DISPLAY_RATE_LIMIT": "1000000/second",  # the fuzzers' one token asks fast
}


def run_fuzz(args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(
        replicas=1,
        database_url=args.database_url,
        redis=not args.no_redis,
        schools=2,
        screens_per_school=2,
        env_extra=dict(RUN_ENV),
    )
    result: dict[str, Any] = {}
    started = time.time()
    with stack:
        node = stack.nodes[0]
        screen, spare = stack.screens()[0], stack.screens()[1]
        school = stack.seed["schools"][0]["slug"]
        log(f"WebSocket fuzzing: {args.ws_cases} cases")
        result["websocket"] = asyncio.run(
            wsfuzz.fuzz(
                "127.0.0.1",
                node.gateway,
                screen["token"],
                screen["dk"],
                cases=args.ws_cases,
                seed=args.seed,
            )
        )
        result["websocket"]["still_serves"] = asyncio.run(
            wsfuzz.still_serves("127.0.0.1", node.gateway, spare["token"], spare["dk"])
        )
        base = f"http://127.0.0.1:{node.web}"
        with httpfuzz.HttpxSender(base) as send:
            doc = json.loads(send("GET", "/api/v1/openapi.json", {}, None).body)
            log(f"HTTP fuzzing: {args.http_cases} cases")
            result["http"] = httpfuzz.junk(
                send,
                doc,
                api_key=stack.api_key,
                school=school,
                token=spare["token"],
                dk=spare["dk"],
                cases=args.http_cases,
                seed=args.seed,
            )
        if args.schemathesis_examples:
            log(f"schemathesis: {args.schemathesis_examples} examples per operation")
            result["schemathesis"] = httpfuzz.schemathesis(
                base,
                stack.api_key,
                max_examples=args.schemathesis_examples,
                seed=args.seed,
                work=stack.work,
                time_limit=args.schemathesis_time_limit,
            )
        result["tracebacks_logged"] = stack.tracebacks()
        if result["tracebacks_logged"]:
            result["log_tail"] = stack.log_tail(60)
        found = result["tracebacks_logged"] or result["websocket"]["failed"]
        if found or result["http"]["failed"] or result.get("schemathesis", {}).get("failures"):
            stack.keep = True  # the logs (and schemathesis' report) stay for a look
            result["work"] = str(stack.work)
    result["settings"] = {
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "redis": not args.no_redis,
        "env": RUN_ENV,
        "seed": args.seed,
    }
    result["elapsed_s"] = round(time.time() - started, 1)
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=os.environ.get("RELIABILITY_DATABASE_URL"))
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--ws-cases", type=int, default=1000)
    p.add_argument("--http-cases", type=int, default=1000)
    p.add_argument("--schemathesis-examples", type=int, default=10)
    p.add_argument("--schemathesis-time-limit", type=float, default=300)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--json", type=Path)
    return p


def main() -> None:
    args = parser().parse_args()
    result = run_fuzz(args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
