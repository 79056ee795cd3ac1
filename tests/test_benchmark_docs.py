"""The benchmark figures in the docs are generated, never typed: docs/benchmarks.md and the
README's summary are exactly what bench/report.py makes of docs/benchmarks.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402 - the repository's bench/, not an installed package


def results() -> dict[str, object]:
    return dict(json.loads((ROOT / "docs/benchmarks.json").read_text()))


def test_benchmarks_md_is_the_report_of_the_json() -> None:
    """docs/benchmarks.md is bench/report.py's rendering of docs/benchmarks.json."""
    assert (ROOT / "docs/benchmarks.md").read_text() == report.render(results())


def test_the_readme_quotes_the_generated_summary() -> None:
    """The README's performance block is the generated summary of the same run."""
    readme = (ROOT / "README.md").read_text()
    assert report.readme_summary(results()) in readme


def test_a_storm_that_never_recovered_says_so() -> None:
    """A stack whose screens never all came back shows its counts, not an empty time."""
    assert report._storm_cell({"storm": None, "storm_missing": 9801, "storm_errors": 143241}) == (
        "never all back and current: 9,801 not current, 143,241 errors"
    )
    assert report._storm_cell({"storm": 5.046}) == "5.05 s"
    assert report._storm_cell({}) == "—"


def test_a_busy_helper_core_is_named_as_what_set_the_connect_rate() -> None:
    """When the connect rate fell short while the server had room but the other core was
    full, the report says the other core."""
    runs = results()

    def short_of_helpers(r: dict[str, Any]) -> dict[str, Any]:
        connect = {**r["scenarios"]["connect"], "connects_per_s": 2_000.0}
        return {**r, "helper_cpu_busy": 0.97, "scenarios": {**r["scenarios"], "connect": connect}}

    text = report.render(
        {
            **runs,
            "runs": [
                short_of_helpers(r) if r.get("stack") == "hallboard" and r.get("n") == 10_000 else r
                for r in runs["runs"]  # type: ignore[attr-defined]
            ],
        }
    )
    connects = next(line for line in text.splitlines() if line.startswith("| ≥ 5,000 connects/s"))
    assert "97 % busy" in connects
    assert "set the pace" in connects
