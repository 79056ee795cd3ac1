"""docs/benchmarks.md from the benchmark's JSON: medians, the targets, met or not, and why not.

Every figure in the page comes from the JSON that ``bench/run.py`` wrote in
the same invocation; nothing is typed by hand. Regenerate the page alone with
``python bench/report.py docs/benchmarks.json docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

STACKS = {
    "seeds": "seeds' stack (Channels + channels_redis + daphne)",
    "hallboard": "hallboard (one process)",
    "hallboard-3": "hallboard, 3 gateway replicas via Redis",
}
TARGET_N = 10_000

Getter = Callable[[dict[str, Any]], float | None]


def _get(r: dict[str, Any], *path: str) -> Any:
    value: Any = r
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _share(cpu: float | None, wall: float | None) -> float | None:
    """CPU seconds over wall seconds: 1.0 is one core busy all the time."""
    if cpu is None or not wall:
        return None
    return round(float(cpu) / float(wall), 3)


def _per_connection_us(r: dict[str, Any]) -> float | None:
    """The server's CPU while connecting, per connection made: unlike its share of a core,
    it does not grow with the rate the load generator reaches."""
    cpu = _get(r, "scenarios", "connect", "server", "cpu_s")
    connected = _get(r, "scenarios", "connect", "connected")
    if cpu is None or not connected:
        return None
    return round(float(cpu) / int(connected) * 1e6, 1)


def _rounds(r: dict[str, Any], key: str) -> float | None:
    values = [
        x[key] for x in _get(r, "scenarios", "push-all", "rounds") or [] if x.get(key) is not None
    ]
    return statistics.median(values) if values else None


def _worst_generation(r: dict[str, Any]) -> int | None:
    by_generation = _get(r, "gc", "worst_ms_by_generation") or {}
    if not by_generation:
        return None
    return int(max(by_generation, key=lambda g: by_generation[g]))


METRICS: list[tuple[str, str, Getter]] = [
    ("connected", "screens connected", lambda r: _get(r, "scenarios", "connect", "connected")),
    ("kib", "KiB per idle connection", lambda r: _get(r, "scenarios", "connect", "kib_per_connection")),
    ("connects", "connects/s", lambda r: _get(r, "scenarios", "connect", "connects_per_s")),
    ("client_cpu", "load generator CPU while connecting (share of a core)", lambda r: _share(_get(r, "scenarios", "connect", "client_cpu_s"), _get(r, "scenarios", "connect", "elapsed_s"))),
    ("helper_cpu", "busiest other CPU while connecting (load generator, database, Redis; share)", lambda r: r.get("helper_cpu_busy")),
    ("server_cpu", "server CPU while connecting (share of a core)", lambda r: _share(_get(r, "scenarios", "connect", "server", "cpu_s"), _get(r, "scenarios", "connect", "elapsed_s"))),
    ("connect_cpu_us", "server CPU per connection made (µs)", _per_connection_us),
    ("handshake_p99", "handshake p99 (ms)", lambda r: _get(r, "scenarios", "connect", "handshake_ms", "p99")),
    ("idle_cpu", "idle server CPU (share of a core)", lambda r: _get(r, "scenarios", "connect", "idle", "server_cpu_share")),
    ("p50", "per-school push p50 (ms)", lambda r: _get(r, "scenarios", "latency", "latency_ms", "p50")),
    ("p99", "per-school push p99 (ms)", lambda r: _get(r, "scenarios", "latency", "latency_ms", "p99")),
    ("lat_missing", "per-school push: missing deliveries", lambda r: _get(r, "scenarios", "latency", "missing")),
    ("all_last", "push to every screen: last screen (ms)", lambda r: _rounds(r, "last_ms")),
    ("all_publish", "… of which the publisher's loop (ms)", lambda r: _rounds(r, "publish_ms")),
    ("all_missing", "push to every screen: missing deliveries", lambda r: _get(r, "scenarios", "push-all", "missing")),
    ("all_expected", "push to every screen: expected deliveries", lambda r: _get(r, "scenarios", "push-all", "expected")),
    ("cpu_us", "server CPU per delivered message (µs)", lambda r: _rounds(r, "server_cpu_us_per_delivery")),
    ("cpu_system", "… of which in the kernel (share)", lambda r: _rounds(r, "server_cpu_system_share")),
    ("gc", "worst GC pause (ms)", lambda r: _get(r, "gc", "worst_ms")),
    ("gc_gen", "… in generation", lambda r: _worst_generation(r)),
    ("storm", "reconnect storm: all back and current (s)", lambda r: _get(r, "scenarios", "storm", "all_current_s")),
    ("storm_missing", "reconnect storm: screens not current", lambda r: _get(r, "scenarios", "storm", "missing")),
    ("storm_errors", "reconnect storm: errors", lambda r: sum((_get(r, "scenarios", "storm", "errors") or {}).values())),
    ("rss_mib", "server RSS at the end (MiB)", lambda r: round(r["server_rss_end_bytes"] / 2**20, 1) if r.get("server_rss_end_bytes") else None),
]  # fmt: skip
WORST = {"lat_missing", "all_missing", "storm_missing", "storm_errors"}  # summed, not median


def aggregate(runs: list[dict[str, Any]], stack: str, n: int) -> dict[str, Any]:
    mine = [r for r in runs if r.get("stack") == stack and r.get("n") == n]
    ok = [r for r in mine if "error" not in r]
    out: dict[str, Any] = {
        "runs": len(mine),
        "errors": [r["error"][:300] for r in mine if "error" in r],
    }
    for key, _, getter in METRICS:
        values = [v for v in (getter(r) for r in ok) if v is not None]
        if not values:
            out[key] = None
        elif key in WORST:
            out[key] = max(values)
        else:
            out[key] = round(statistics.median(values), 3)
    profiles = [r["profile"] for r in ok if r.get("profile")]
    out["profile"] = profiles[0] if profiles else None
    out["connect_cpu_busy"] = _median_of(ok, lambda r: _busy(r))
    out["problems"] = sorted({p for r in ok for p in r.get("problems", [])})
    return out


def _busy(r: dict[str, Any]) -> float | None:
    cpu = _get(r, "scenarios", "connect", "server", "cpu_s")
    wall = _get(r, "scenarios", "connect", "elapsed_s")
    if cpu is None or not wall:
        return None
    return float(cpu) / float(wall)


def _median_of(runs: list[dict[str, Any]], getter: Getter) -> float | None:
    values = [v for v in (getter(r) for r in runs) if v is not None]
    return round(statistics.median(values), 3) if values else None


def _storm_cell(figures: dict[str, Any]) -> str:
    """A stack's reconnect-storm figure for the targets table; a storm never recovered says so."""
    if figures.get("storm") is not None:
        return f"{fmt(figures['storm'], 2)} s"
    if figures.get("storm_missing") or figures.get("storm_errors"):
        return (
            f"never all back and current: {fmt(figures.get('storm_missing'))} not current, "
            f"{fmt(figures.get('storm_errors'))} errors"
        )
    return "—"


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        return f"{int(value):,}"  # a count (a median of counts), not a measurement
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_report(results: dict[str, Any], path: Path) -> None:
    path.write_text(render(results))


README_START = "<!-- benchmarks: generated by bench/report.py from docs/benchmarks.json -->"
README_END = "<!-- /benchmarks -->"


def readme_summary(results: dict[str, Any]) -> str:
    """The README's short table: each target, hallboard's figure, met or not, the seeds'."""
    runs = results["runs"]
    sizes = results["settings"]["sizes"]
    target_n = TARGET_N if TARGET_N in sizes else max(sizes)
    hb = aggregate(runs, "hallboard", target_n)
    hb3 = aggregate(runs, "hallboard-3", target_n)
    seeds = aggregate(runs, "seeds", target_n)
    polls = results.get("status_polls", {})
    plain_rps = _median([p["requests_per_s"] for p in polls.get("plain", [])])
    fast_rps = _median([p["requests_per_s"] for p in polls.get("fast", [])])
    lines = [
        README_START,
        f"Measured by `make bench` on {results.get('finished_at', '?')} "
        f"({fmt(target_n)} screens, one process, this 2-core machine with the load "
        "generator beside it; the seeds' stack is Django Channels + channels_redis + "
        "daphne under the same load). Why a target is not met: "
        "[docs/benchmarks.md](docs/benchmarks.md).",
        "",
        "| target | hallboard | | seeds' stack |",
        "|---|---|---|---|",
    ]
    for name, value, met, seeds_value, _ in targets(hb, hb3, seeds, plain_rps, fast_rps):
        mark = "" if met is None else ("met" if met else "**not met**")
        lines.append(f"| {name} | {value} | {mark} | {seeds_value} |")
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(results: dict[str, Any], readme: Path) -> bool:
    """Replace the generated block of ``readme`` (between the markers); False if absent."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[:start] + readme_summary(results) + text[end + len(README_END) :])
    return True


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    settings = results["settings"]
    sizes = settings["sizes"]
    stacks = [s for s in settings["stacks"] if s in STACKS]
    agg = {(s, n): aggregate(runs, s, n) for s in stacks for n in sizes}
    lines: list[str] = []
    add = lines.append
    add("# Benchmarks: hallboard against the seeds' stack")
    add("")
    add(
        f"Generated by `python bench/run.py` (`make bench`) on {results['finished_at']} in "
        f"{fmt(results['duration_s'] / 60)} minutes; every figure below comes from that run "
        "(raw figures of every run: [benchmarks.json](benchmarks.json)). Do not edit by hand: "
        "rerun it. "
        + (
            "**This is a `--quick` run: small sizes, one run each; its figures are "
            "not the targets' conditions.**"
            if settings["quick"]
            else ""
        )
    )
    add("")
    m = results["machine"]
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| CPU | {m['cpu']} ({m['cores']} cores) |")
    add(f"| RAM | {m['ram_gib']} GiB |")
    add(f"| OS, kernel | {m['os']}, Linux {m['kernel']} |")
    add(f"| Python | {m['python']} |")
    add(f"| `ulimit -n` | {m['ulimit_n']['soft']} (hard {m['ulimit_n']['hard']}) per process |")
    add(f"| database | {settings['database']} |")
    start, end = results.get("load_average_start"), results.get("load_average_end")
    if start and end:
        add(
            f"| load average (1, 5, 15 min) | {', '.join(f'{x:.2f}' for x in start)} at the start, "
            f"{', '.join(f'{x:.2f}' for x in end)} at the end (other work on the machine) |"
        )
    add("")
    add("Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".")
    add("")
    add("## Method")
    add("")
    add(results["method"])
    add("")
    add(
        f"Sizes: {', '.join(fmt(n) for n in sizes)} screens; {settings['runs']} run(s) per size and "
        f"stack ({settings.get('runs_at_largest', settings['runs'])} at the largest), medians shown (missing deliveries and errors: the worst run). The largest size "
        "is the per-process file-descriptor limit less a margin: one process cannot hold more "
        "sockets here, so larger figures are extrapolated from KiB per connection and say so."
    )
    add("")

    # --- targets ---------------------------------------------------------------------------------
    target_n = TARGET_N if TARGET_N in sizes else max(sizes)
    hb = agg.get(("hallboard", target_n), {})
    hb3 = agg.get(("hallboard-3", target_n), {})
    seeds = agg.get(("seeds", target_n), {})
    polls = results.get("status_polls", {})
    plain_rps = _median([p["requests_per_s"] for p in polls.get("plain", [])])
    fast_rps = _median([p["requests_per_s"] for p in polls.get("fast", [])])
    add(
        f"## The targets (hallboard, {fmt(target_n)} screens"
        + ("" if target_n == TARGET_N else f" — **measured at {fmt(target_n)}, not 10,000**")
        + ")"
    )
    add("")
    add("| target | hallboard | met | seeds' stack | what limits it |")
    add("|---|---|---|---|---|")
    rows = targets(hb, hb3, seeds, plain_rps, fast_rps)
    for name, value, met, seeds_value, limit in rows:
        mark = "—" if met is None else ("**met**" if met else "**not met**")
        add(f"| {name} | {value} | {mark} | {seeds_value} | {limit} |")
    add("")

    # --- results by size -----------------------------------------------------------------------------
    add("## Results by size (medians)")
    for n in sizes:
        add("")
        add(f"### {fmt(n)} screens ({fmt(-(-n // 5))} schools)")
        add("")
        add("| | " + " | ".join(STACKS[s] for s in stacks) + " |")
        add("|---|" + "---|" * len(stacks))
        for key, label, _ in METRICS:
            add(f"| {label} | " + " | ".join(fmt(agg[(s, n)][key], 2) for s in stacks) + " |")
        notes = []
        for s in stacks:
            a = agg[(s, n)]
            for error in a["errors"]:
                notes.append(f"- {STACKS[s]}: a run failed: `{error.splitlines()[-1][:200]}`")
            for problem in a["problems"]:
                notes.append(f"- {STACKS[s]}: {problem}")
        if notes:
            add("")
            add("Reported by the load generator:")
            add("")
            lines.extend(notes)
    add("")

    # --- status polls ----------------------------------------------------------------------------
    if polls:
        add("## Status polls: 304 answers per second")
        add("")
        add("| server | requests/s | answers | p99 latency | server CPU |")
        add("|---|---|---|---|---|")
        for key, label in (
            ("plain", "plain Django view (`DISPLAY_STATUS_FAST_PATH=false`)"),
            ("fast", "default (fast path where available)"),
        ):
            ps = polls.get(key, [])
            if not ps:
                continue
            codes: dict[str, int] = {}
            for p in ps:
                for code, count in p["status_codes"].items():
                    codes[code] = codes.get(code, 0) + count
            add(
                f"| {label} | {fmt(_median([p['requests_per_s'] for p in ps]))} | "
                + ", ".join(f"{c}: {fmt(v)}" for c, v in sorted(codes.items()))
                + f" | {ps[0]['p99']} | {fmt(_median([p['server_cpu_s'] for p in ps]), 2)} s |"
            )
        add("")
        if plain_rps and fast_rps:
            add(f"Ratio default / plain: {fast_rps / plain_rps:.2f}×.")
            add("")

    # --- one process -----------------------------------------------------------------------------
    add("## Connections one process can hold")
    add("")
    largest = max(sizes)
    for s in stacks:
        if s == "hallboard-3":
            continue
        a = agg[(s, largest)]
        kib = a["kib"]
        held = a["connected"]
        line = f"- {STACKS[s]}: held {fmt(held)} of {fmt(largest)} at once"
        if kib:
            line += (
                f"; at {fmt(kib, 2)} KiB per connection, 600 MB would hold about "
                f"{fmt(int(600 * 2**20 / (kib * 1024)))} (extrapolated: the file-descriptor "
                "limit stops one process before that here)"
            )
        add(line + ".")
    add("")

    # --- profiles -----------------------------------------------------------------------------
    profiled = [
        (n, agg[("hallboard", n)]["profile"])
        for n in sizes
        if ("hallboard", n) in agg and agg[("hallboard", n)]["profile"]
    ]
    if profiled:
        add("## Where hallboard's time goes (py-spy, whole run)")
        add("")
        if settings.get("profile_mode") == "gil":
            add(
                "Sampled with `py-spy record --gil`: only the thread holding the GIL, i.e. where "
                "the server's Python CPU time goes."
            )
        else:
            add(
                "Sampled over all threads, waiting ones included: `Connection.wait` (psycopg) is "
                "the gateway's database threads waiting for PostgreSQL, `Runner.run` the event "
                "loop waiting for I/O. Later runs sample with `--gil` (the CPU-bound thread only)."
            )
        for n, profile in profiled:
            add("")
            add(f"{fmt(n)} screens, {fmt(profile['samples'])} samples. Functions running (self):")
            add("")
            add("| function | share |")
            add("|---|---|")
            for name, share in profile["self"][:12]:
                add(f"| `{name[:110]}` | {share} % |")
        add("")
    return "\n".join(lines) + "\n"


def _median(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def targets(hb: dict[str, Any], hb3: dict[str, Any], seeds: dict[str, Any],
            plain_rps: float | None, fast_rps: float | None) -> list[tuple[str, str, bool | None, str, str]]:  # fmt: skip
    """(target, hallboard's figure, met, seeds' figure, what limits it) for each target."""
    profile_ref = (
        "see the profile below"
        if hb.get("profile")
        else "`make bench BENCH_ARGS=--profile` adds a profile"
    )

    def le(value: float | None, bound: float) -> bool | None:
        return None if value is None else value <= bound

    def ge(value: float | None, bound: float) -> bool | None:
        return None if value is None else value >= bound

    rows = []
    gc_note = f"worst GC pause {fmt(hb.get('gc'))} ms sets the tail"
    busy = hb.get("connect_cpu_busy")
    client = hb.get("client_cpu")
    helpers = hb.get("helper_cpu")
    if busy is not None and busy >= 0.9:
        busy_note = (
            f"server CPU busy {fmt(100 * busy, 0)} % of the connect phase: CPU-bound in one "
            f"process ({profile_ref})"
        )
    elif helpers is not None and helpers >= 0.9:
        busy_note = (
            f"the server was {fmt(100 * (busy or 0), 0)} % busy, but the other core (load "
            f"generator, database, Redis and their share of the loopback traffic) was "
            f"{fmt(100 * helpers, 0)} % busy: on this 2-core machine the load beside the "
            f"server set the pace (handshake p99 {fmt(hb.get('handshake_p99'), 0)} ms)"
        )
    elif client is not None and client >= 0.9:
        busy_note = (
            f"the load generator was busy {fmt(100 * client, 0)} % of a core: it set the "
            "pace, not the server"
        )
    elif busy is not None:
        other = (
            ""
            if helpers is None
            else f"; the other core, with the database and Redis, {fmt(100 * helpers, 0)} %"
        )
        busy_note = (
            f"neither the server ({fmt(100 * busy, 0)} % busy) nor the load generator "
            f"({fmt(100 * (client or 0), 0)} %{other}) was saturated: handshakes in flight over their "
            f"latency (p99 {fmt(hb.get('handshake_p99'), 0)} ms, each waiting for its batch's "
            "database lookups) set the rate"
        )
    else:
        busy_note = profile_ref
    kib = hb.get("kib")
    rows.append(
        (
            "≤ 12 KiB per idle connection",
            fmt(kib, 2),
            le(kib, 12),
            fmt(seeds.get("kib"), 2),
            "memory per socket object, buffers and per-connection state" if not le(kib, 12) else "",
        )
    )
    projected = None if not kib else (50_000 * kib / 1024)
    rows.append(
        (
            "50,000 connections in one process within 600 MB (extrapolated)",
            f"{fmt(projected, 0)} MiB for the sockets" if projected else "—",
            le(projected, 600),
            "—",
            "fd limit 20,000 per process here: extrapolated from KiB per connection",
        )
    )
    rows.append(
        (
            "≥ 5,000 connects/s",
            fmt(hb.get("connects"), 0),
            ge(hb.get("connects"), 5000),
            fmt(seeds.get("connects"), 0),
            "" if ge(hb.get("connects"), 5000) else busy_note,
        )
    )
    storm_ok = None
    if hb.get("storm") is not None or hb.get("storm_missing"):
        storm_ok = (
            hb.get("storm") is not None
            and hb["storm"] <= 10
            and not hb.get("storm_missing")
            and not hb.get("storm_errors")
        )
    rows.append(
        (
            "reconnect storm: all back and current ≤ 10 s, 0 errors",
            f"{fmt(hb.get('storm'), 2)} s, {fmt(hb.get('storm_errors'))} errors, "
            f"{fmt(hb.get('storm_missing'))} not current",
            storm_ok,
            _storm_cell(seeds),
            "" if storm_ok else busy_note,
        )
    )
    rows.append(
        (
            "per-school push p99 ≤ 2 ms (one process)",
            f"{fmt(hb.get('p99'), 2)} ms",
            le(hb.get("p99"), 2),
            f"{fmt(seeds.get('p99'), 2)} ms",
            "" if le(hb.get("p99"), 2) else f"p50 {fmt(hb.get('p50'), 2)} ms; {gc_note}",
        )
    )
    rows.append(
        (
            "per-school push p99 ≤ 5 ms (3 replicas via Redis)",
            f"{fmt(hb3.get('p99'), 2)} ms",
            le(hb3.get("p99"), 5),
            "—",
            ""
            if le(hb3.get("p99"), 5)
            else f"p50 {fmt(hb3.get('p50'), 2)} ms; worst GC pause {fmt(hb3.get('gc'))} ms",
        )
    )
    all_ok = None
    if hb.get("all_last") is not None:
        all_ok = hb["all_last"] <= 100 and not hb.get("all_missing")
    rows.append(
        (
            "push to every screen: last within 100 ms, 0 lost",
            f"{fmt(hb.get('all_last'), 1)} ms, {fmt(hb.get('all_missing'))} lost of "
            f"{fmt(hb.get('all_expected'))}",
            all_ok,
            f"{fmt(seeds.get('all_last'), 1)} ms, {fmt(seeds.get('all_missing'))} lost",
            ""
            if all_ok
            else f"the edit itself (one transaction over every school and its on-commit "
            f"publishing) took {fmt(hb.get('all_publish'), 1)} ms; the deliveries then cost "
            f"{fmt(hb.get('cpu_us'), 1)} µs of server CPU each",
        )
    )
    rows.append(
        (
            "≤ 8 µs server CPU per delivered message",
            f"{fmt(hb.get('cpu_us'), 2)} µs",
            le(hb.get("cpu_us"), 8),
            f"{fmt(seeds.get('cpu_us'), 2)} µs",
            ""
            if le(hb.get("cpu_us"), 8)
            else (
                f"{fmt(100 * hb['cpu_system'], 0)} % of it in the kernel (each frame's loopback "
                f"TCP send, and waking the client that receives it); {profile_ref}"
                if hb.get("cpu_system") is not None
                else profile_ref
            ),
        )
    )
    rows.append(
        (
            "no GC pause over 20 ms",
            f"{fmt(hb.get('gc'), 2)} ms",
            le(hb.get("gc"), 20),
            f"{fmt(seeds.get('gc'), 2)} ms",
            ""
            if le(hb.get("gc"), 20)
            else f"the longest was a collection of generation {fmt(hb.get('gc_gen'), 0)}",
        )
    )
    rows.append(
        (
            "status-poll 304 path ≥ 5,000 requests/s",
            fmt(fast_rps, 0),
            ge(fast_rps, 5000),
            "—",
            ""
            if ge(fast_rps, 5000)
            else "not measured in this run: wrk was not installed (`apt-get install wrk`)"
            if fast_rps is None
            else "the Django request path per poll",
        )
    )
    ratio = fast_rps / plain_rps if fast_rps and plain_rps else None
    rows.append(
        (
            "… and ≥ 5× the plain Django view",
            f"{fmt(ratio, 2)}× ({fmt(plain_rps, 0)}/s plain)",
            ge(ratio, 5),
            "—",
            ""
            if ge(ratio, 5)
            else "no separate fast path measured"
            if ratio and ratio < 1.2
            else "not measured in this run"
            if ratio is None
            else "",
        )
    )
    return rows


if __name__ == "__main__":
    # python bench/report.py docs/benchmarks.json docs/benchmarks.md [README.md]
    data = json.loads(Path(sys.argv[1]).read_text())
    write_report(data, Path(sys.argv[2]))
    if len(sys.argv) > 3:
        update_readme(data, Path(sys.argv[3]))
