"""A soak with churn: screens connecting and disconnecting, polling, and writes, for a while.

    python reliability/soak.py --replicas 2 --seconds 120

Workers connect a screen's socket to one replica after another, wait for its
``hello``, hold it a moment, and leave — cleanly (a close frame) or abruptly
(the TCP connection dropped); now and then they poll ``status`` instead. A
writer commits a change every second meanwhile. Every few seconds the RSS and
open file descriptors of every process (each replica, Redis) are sampled.
Reported per process: the figures after a warm-up, at the end of the churn and
after it has settled, their maximum, and the growth; a leak shows as growth
that does not come back once the churn stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from reliability.clients import Writer  # noqa: E402
from reliability.stack import Stack, fd_count, log, rss_bytes  # noqa: E402

RUN_ENV = {"DISPLAY_RATE_LIMIT": "1000/5second"}  # churning screens ask often


def sample(stack: Stack) -> dict[str, dict[str, int | None]]:
    return {
        name: {"rss_bytes": rss_bytes(pid), "fds": fd_count(pid)}
        for name, pid in stack.pids().items()
    }


async def churn(
    stack: Stack, *, seconds: float, workers: int, warmup: float, settle: float, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    screens = stack.screens()
    endpoints = stack.endpoints()
    outcomes: Counter[str] = Counter()
    samples: list[tuple[float, dict[str, dict[str, int | None]]]] = []
    stop = asyncio.Event()

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        local = random.Random(rng.random())
        while not stop.is_set():
            screen = screens[local.randrange(len(screens))]
            web, gateway = endpoints[local.randrange(len(endpoints))]
            if local.random() < 0.2:
                try:
                    response = await client.get(
                        f"http://127.0.0.1:{web}/api/display/status/",
                        params={"token": screen["token"], "dk": screen["dk"]},
                        timeout=5,
                    )
                    outcomes[f"poll {response.status_code}"] += 1
                except httpx.HTTPError:
                    outcomes["poll failed"] += 1
                continue
            url = f"ws://127.0.0.1:{gateway}/ws/display/?token={screen['token']}&dk={screen['dk']}"
            try:
                async with connect(url, open_timeout=5, close_timeout=2) as ws:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    outcomes[str(message.get("type"))] += 1
                    await asyncio.sleep(local.uniform(0.05, 1.5))
                    if local.random() < 0.3:
                        ws.transport.abort()  # gone without a close frame
                        outcomes["abrupt"] += 1
            except Exception as error:
                outcomes[type(error).__name__] += 1

    async def sampler() -> None:
        while True:
            samples.append((time.monotonic(), sample(stack)))
            await asyncio.sleep(2.0)

    writer = Writer(stack.api_key, endpoints, [s["slug"] for s in stack.seed["schools"]])
    started = time.monotonic()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as client:
        tasks = [asyncio.create_task(worker(n, client)) for n in range(workers)]
        tasks.append(asyncio.create_task(writer.run(client, stop, retry_for=10)))
        await asyncio.sleep(warmup)
        baseline = sample(stack)
        sampling = asyncio.create_task(sampler())
        await asyncio.sleep(seconds)
        at_end = sample(stack)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(settle)
        settled = sample(stack)
        sampling.cancel()
    processes: dict[str, Any] = {}
    for name in baseline:
        series = [s[name] for _, s in samples if name in s]
        rss = [x["rss_bytes"] for x in series if x["rss_bytes"] is not None]
        fds = [x["fds"] for x in series if x["fds"] is not None]
        b, e, s = baseline[name], at_end.get(name, {}), settled.get(name, {})
        processes[name] = {
            "rss_mib": {
                "start": _mib(b.get("rss_bytes")),
                "end": _mib(e.get("rss_bytes")),
                "settled": _mib(s.get("rss_bytes")),
                "max": _mib(max(rss) if rss else None),
            },
            "fds": {
                "start": b.get("fds"),
                "end": e.get("fds"),
                "settled": s.get("fds"),
                "max": max(fds) if fds else None,
            },
        }
    cycles = sum(v for k, v in outcomes.items() if k == "hello")
    return {
        "seconds": seconds,
        "workers": workers,
        "connections": cycles,
        "connections_per_s": round(cycles / seconds, 1) if seconds else None,
        "outcomes": dict(sorted(outcomes.items())),
        "writes": len(writer.commits),
        "processes": processes,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def _mib(value: int | None) -> float | None:
    return round(value / 2**20, 1) if value is not None else None


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(
        replicas=args.replicas,
        database_url=args.database_url,
        redis=not args.no_redis,
        schools=2,
        screens_per_school=args.screens,
        env_extra=dict(RUN_ENV),
    )
    with stack:
        log(f"churn for {args.seconds:.0f} s with {args.workers} workers")
        result = asyncio.run(
            churn(
                stack,
                seconds=args.seconds,
                workers=args.workers,
                warmup=args.warmup,
                settle=args.settle,
                seed=args.seed,
            )
        )
        result["tracebacks_logged"] = stack.tracebacks()
    result["settings"] = {
        "replicas": args.replicas,
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "redis": not args.no_redis,
        "screens": 2 * args.screens,
        "warmup_s": args.warmup,
        "settle_s": args.settle,
        "env": RUN_ENV,
        "seed": args.seed,
    }
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--database-url", default=os.environ.get("RELIABILITY_DATABASE_URL"))
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--screens", type=int, default=20, help="screens per school")
    p.add_argument("--workers", type=int, default=20)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--settle", type=float, default=10)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--json", type=Path)
    return p


def main() -> None:
    args = parser().parse_args()
    result = run_soak(args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
