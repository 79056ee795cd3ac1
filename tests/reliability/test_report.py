"""docs/reliability.md is generated: exactly what reliability/report.py makes of the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reliability import report  # noqa: E402


def results() -> dict[str, object]:
    return dict(json.loads((ROOT / "docs/reliability.json").read_text()))


def test_reliability_md_is_the_report_of_the_json() -> None:
    """docs/reliability.md is reliability/report.py's rendering of docs/reliability.json."""
    assert (ROOT / "docs/reliability.md").read_text() == report.render(results())


def test_operations_links_the_reliability_page() -> None:
    """Operators find the figures from docs/operations.md."""
    assert "(reliability.md)" in (ROOT / "docs/operations.md").read_text()


def test_a_missing_delivery_or_duplicate_write_is_a_problem() -> None:
    """The page and `make reliability` name what went wrong."""
    found = report.problems(
        {
            "faults": {
                "phases": [{"fault": "redis-kill", "missing": 3}],
                "writes": {"answered": 10, "announcements_in_database": 11},
            },
            "fuzz": {"websocket": {"failed": 0, "still_serves": True}, "http": {"failed": 2}},
            "soak": {},
        }
    )
    assert found == [
        "fault redis-kill: 3 deliveries missing",
        "writes: 10 answered but 11 in the database",
        "HTTP fuzzing: 2 requests failed",
    ]
