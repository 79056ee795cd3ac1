"""The broker throughput figures in the docs are generated, never typed: docs/broker-benchmark.md
and the block docs/scaling.md quotes are what bench/broker_throughput.py makes of its JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import broker_throughput as bench  # noqa: E402 - the repository's bench/


def results() -> dict[str, Any]:
    return dict(json.loads((ROOT / "docs/broker-benchmark.json").read_text()))


def test_the_report_is_the_rendering_of_the_json() -> None:
    """docs/broker-benchmark.md is bench/broker_throughput.py's rendering of its JSON."""
    assert (ROOT / "docs/broker-benchmark.md").read_text() == bench.render(results())


def test_scaling_quotes_the_generated_block() -> None:
    """docs/scaling.md's figures ("Past one Redis") are the generated block of the same run."""
    block = bench.scaling_block(results())
    assert block.startswith(bench.SCALING_START)
    assert block in (ROOT / "docs/scaling.md").read_text()


def test_the_cost_model_separates_messages_from_deliveries() -> None:
    """Redis µs per message = base + per gateway * gateways, fitted to the measured counts;
    no model from one gateway count or from noise that makes delivery free."""

    def figures(points: dict[int, float]) -> dict[int, dict[str, float]]:
        return {g: {"redis_us": us} for g, us in points.items()}

    base, per_gateway = bench.cost_model(figures({1: 0.75, 3: 1.25, 5: 1.75})) or (0, 0)
    assert (round(base, 6), round(per_gateway, 6)) == (0.5, 0.25)
    assert bench.cost_model(figures({1: 1.0})) is None
    assert bench.cost_model(figures({1: 1.0, 3: 0.9})) is None


def test_what_set_the_pace_is_named_or_said_to_be_the_machine() -> None:
    """A process at 80 % of a core or more is named as the limit; below, the report says none
    was saturated and that the machine's other work set the pace."""
    busy = {"publisher_cpu_share": 0.95, "gateway_cpu_share": 0.5, "redis_cpu_share": 0.4}
    assert bench._limit(busy, [3.0, 2.0, 1.0], 2) == "the publishers (95 % of a core)"
    idle = {"publisher_cpu_share": 0.3, "gateway_cpu_share": 0.2, "redis_cpu_share": 0.1}
    text = bench._limit(idle, [7.5, 2.0, 1.0], 2)
    assert text.startswith("none saturated (the publishers the busiest, 30 % of a core)")
    assert "load average 7.5 on 2 cores" in text


def test_extrapolations_keep_two_significant_digits() -> None:
    """Extrapolated capacities are rounded to what they can claim."""
    assert [bench.approx(v) for v in (783_392, 17_359, 12.3, 5.5)] == [
        "780,000",
        "17,000",
        "12",
        "5.5",
    ]
