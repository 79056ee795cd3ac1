"""bench/compare.py: two versions' benchmark runs side by side; a figure is called worse
only when every run after is worse than every run before (the run-to-run noise)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import compare  # noqa: E402 - the repository's bench/, not an installed package


def run(connects: float, p99: float, n: int = 1000) -> dict[str, Any]:
    return {
        "stack": "hallboard",
        "n": n,
        "scenarios": {
            "connect": {"connects_per_s": connects},
            "latency": {"latency_ms": {"p99": p99}},
        },
    }


def results(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"runs": list(runs), "machine": {"cpu": "test CPU"}, "finished_at": "then"}


def test_worse_only_when_the_ranges_do_not_overlap() -> None:
    """Less is worse for a rate, more is worse for a time; overlapping ranges are noise."""
    assert compare.verdict("connects", [100, 120], [80, 90]) == "**worse**"
    assert compare.verdict("connects", [100, 120], [90, 110]) == "within noise"
    assert compare.verdict("connects", [100, 120], [130, 140]) == "better"
    assert compare.verdict("p99", [5, 6], [7, 8]) == "**worse**"
    assert compare.verdict("p99", [5, 6], [4, 5.5]) == "within noise"
    assert compare.verdict("p99", [5, 6], [3, 4]) == "better"
    assert compare.verdict("p99", [], [3]) == "—"


def test_the_page_names_what_got_worse_and_shows_medians_and_ranges() -> None:
    """Each figure: median (lowest to highest) of each side; the summary lists what got worse."""
    before = results(run(1000, 5.0), run(1200, 6.0), run(1100, 5.5))
    after = results(run(1500, 7.0), run(1400, 8.0), run(1600, 9.0))
    text = compare.render(before, after, ("old", "new"))
    assert "| connects/s | 1,100 (1,000 to 1,200) | 1,500 (1,400 to 1,600) | better |" in text
    assert (
        "| per-school push p99 (ms) | 5.50 (5.00 to 6.00) | 8.00 (7.00 to 9.00) | **worse** |"
        in text
    )
    assert text.endswith(
        "Worse beyond the run-to-run noise: per-school push p99 (ms) at 1,000 (hallboard).\n"
    )


def test_files_of_several_sizes_are_compared_as_one(tmp_path: Path) -> None:
    """The runs of several files (one per size, taken in turns) are merged per side."""
    paths = []
    for i, n in enumerate((1000, 10000)):
        p = tmp_path / f"b{i}.json"
        p.write_text(json.dumps(results(run(100, 5.0, n))))
        paths.append(p)
    merged = compare.merged(paths)
    assert sorted(r["n"] for r in merged["runs"]) == [1000, 10000]
    out = tmp_path / "out.md"
    compare.main(["--before", *map(str, paths), "--after", *map(str, paths), "--out", str(out)])
    text = out.read_text()
    assert "1,000 screens (1 and 1 runs)" in text
    assert "10,000 screens (1 and 1 runs)" in text
    assert text.endswith("Worse beyond the run-to-run noise: nothing.\n")


def test_status_polls_are_compared_when_both_sides_measured_them() -> None:
    """The 304 rates of both versions, median and range; a slower fast path is named."""
    before = results(run(100, 5.0))
    after = results(run(100, 5.0))
    before["status_polls"] = {"fast": [{"requests_per_s": r} for r in (9000, 10000, 11000)]}
    after["status_polls"] = {"fast": [{"requests_per_s": r} for r in (6000, 7000, 8000)]}
    text = compare.render(before, after, ("old", "new"))
    assert (
        "| the default (fast path) | 10,000 (9,000 to 11,000) | 7,000 (6,000 to 8,000) "
        "| **worse** |" in text
    )
    assert "status polls, the default (fast path)" in text.splitlines()[-1]
    assert "plain Django view" not in text  # measured by neither side


def test_status_polls_are_compared_by_their_304_answers_not_their_429s() -> None:
    """A version that answers part of the polls with a cheap 429 does not look faster: the
    rates compared are 304 answers per second (requests per second times the 304 share)."""
    before = results(run(100, 5.0))
    after = results(run(100, 5.0))
    before["status_polls"] = {
        "fast": [{"requests_per_s": 25_000, "share_304": 0.75} for _ in range(3)]
    }
    after["status_polls"] = {"fast": [{"requests_per_s": 19_000, "share_304": 1.0}] * 3}
    text = compare.render(before, after, ("old", "new"))
    assert "| the default (fast path) | 18,750 (18,750 to 18,750) | 19,000 (19,000 to 19,000) " in (
        text
    )
    assert text.endswith("Worse beyond the run-to-run noise: nothing.\n")


def test_ranges_a_hair_apart_are_within_noise() -> None:
    """Two versions whose runs differ by less than 1 % (a storm set by the client's first
    backoff: 2.009 s against 2.011 s) are within noise; more than that is worse."""
    assert compare.verdict("storm", [2.009, 2.009], [2.011, 2.012]) == "within noise"
    assert compare.verdict("storm", [2.0, 2.0], [2.1, 2.2]) == "**worse**"
    assert compare.verdict("connects", [1000.0], [995.0]) == "within noise"
    assert compare.verdict("connects", [1000.0], [900.0]) == "**worse**"
    assert compare.verdict("connects", [1000.0], [1100.0]) == "better"
