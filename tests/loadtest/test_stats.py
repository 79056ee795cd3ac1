"""Statistics of a load run: nearest-rank percentiles, summaries, rates."""

from __future__ import annotations

import pytest

from hallboard.loadtest import stats


def test_percentile_is_a_measured_value_by_nearest_rank() -> None:
    """p50 of 1..10 is 5, p99 of 1..200 is 198, p100 the maximum."""
    assert stats.percentile(list(range(1, 11)), 50) == 5
    assert stats.percentile(list(range(1, 201)), 99) == 198
    assert stats.percentile([3.0], 99) == 3.0
    assert stats.percentile([1, 2, 3], 100) == 3
    assert stats.percentile([], 50) is None
    with pytest.raises(ValueError, match="p must be"):
        stats.percentile([1], 0)


def test_summary_scales_and_an_empty_sample_has_no_figures() -> None:
    """A summary in milliseconds from seconds; an empty one says None, never 0."""
    s = stats.summary([0.001, 0.002, 0.010], scale=1000)
    assert (s["count"], s["min"], s["p50"], s["max"]) == (3, 1.0, 2.0, 10.0)
    assert s["mean"] == pytest.approx(4.333, abs=0.001)
    empty = stats.summary([])
    assert empty["count"] == 0
    assert all(empty[k] is None for k in ("min", "p50", "p95", "p99", "max", "mean"))


def test_rate_median_and_counts() -> None:
    """Rates need elapsed time; medians of even samples average; counts add up by reason."""
    assert stats.rate(500, 2.0) == 250.0
    assert stats.rate(5, 0) is None
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([]) is None
    assert stats.merge_counts([{"close:4401": 2}, {"timeout": 3, "close:4401": 1}]) == {
        "close:4401": 3,
        "timeout": 3,
    }
