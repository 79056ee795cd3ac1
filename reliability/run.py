"""``make reliability``: the fault run, the fuzzers and the soak, then docs/reliability.md.

    python reliability/run.py                       # the run the docs show (a few minutes)
    python reliability/run.py --quick               # a small pass for development

Every process is started here on 127.0.0.1 and stopped here by its PID; every
part is bounded in time. PostgreSQL is the machine's server at
``--postgres`` (default ``postgres://postgres@127.0.0.1:5432``), in databases of
the run's own (``hb_faults``, ``hb_faults_fuzz``, ``hb_faults_soak``: dropped
and created again); without a reachable server the parts run on SQLite and the
faults that need PostgreSQL are reported as skipped. Redis is a throwaway
``redis-server`` on a free port.

Writes docs/reliability.json (every figure) and docs/reliability.md (generated
from it by reliability/report.py: nothing typed by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.run import machine  # noqa: E402 - the benchmark's machine description

from reliability import faults, fuzz, report, soak  # noqa: E402
from reliability.stack import log  # noqa: E402


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{url}/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--sqlite", action="store_true", help="do not use PostgreSQL")
    p.add_argument("--json", type=Path, default=ROOT / "docs/reliability.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs/reliability.md")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    if not args.postgres.startswith("postgres://postgres@127.0.0.1:"):
        p.error("--postgres must be a server on 127.0.0.1")
    pg = None if args.sqlite or not postgres_reachable(args.postgres) else args.postgres
    quick = args.quick
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": quick,
        "started_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_start": os.getloadavg(),
    }
    started = time.monotonic()

    log("fault run")
    fault_args = faults.parser().parse_args(
        [
            *("--replicas", "2" if quick else "3"),
            *("--schools", "2"),
            *("--screens", "4" if quick else "8"),
            *("--fault-seconds", "5" if quick else "8"),
            *("--seed", str(args.seed)),
        ]
    )
    fault_args.database_url = f"{pg}/hb_faults" if pg else None
    results["faults"] = faults.run_faults(fault_args)

    log("fuzzing")
    fuzz_args = fuzz.parser().parse_args(
        [
            *("--ws-cases", "300" if quick else "2000"),
            *("--http-cases", "300" if quick else "2000"),
            *("--schemathesis-examples", "3" if quick else "10"),
            *("--schemathesis-time-limit", "60" if quick else "150"),
            *("--seed", str(args.seed)),
        ]
    )
    fuzz_args.database_url = f"{pg}/hb_faults_fuzz" if pg else None
    results["fuzz"] = fuzz.run_fuzz(fuzz_args)

    log("soak with churn")
    soak_args = soak.parser().parse_args(
        [
            *("--replicas", "2"),
            *("--seconds", "20" if quick else "90"),
            *("--workers", "10" if quick else "30"),
            *("--seed", str(args.seed)),
        ]
    )
    soak_args.database_url = f"{pg}/hb_faults_soak" if pg else None
    results["soak"] = soak.run_soak(soak_args)

    results["load_average_end"] = os.getloadavg()
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["duration_s"] = round(time.monotonic() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    args.markdown.write_text(report.render(results))
    log(f"wrote {args.json} and {args.markdown}")
    problems = report.problems(results)
    for problem in problems:
        log(f"PROBLEM: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
