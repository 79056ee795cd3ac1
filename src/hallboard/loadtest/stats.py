"""Statistics of a load run: percentiles, rates, failures by reason. Pure functions.

Percentiles use the nearest-rank method on the sorted sample (no
interpolation): p99 of 200 latencies is the 198th smallest, a value that was
actually measured. An empty sample has no percentiles (``None``), never 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of an ascending sample."""
    if not sorted_values:
        return None
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def summary(values: Iterable[float], *, scale: float = 1.0, digits: int = 3) -> dict[str, Any]:
    """count, min, p50, p95, p99, max and mean of ``values`` times ``scale`` (e.g. 1000: ms)."""
    ordered = sorted(v * scale for v in values)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "count": len(ordered),
        "min": rounded(ordered[0] if ordered else None),
        "p50": rounded(percentile(ordered, 50)),
        "p95": rounded(percentile(ordered, 95)),
        "p99": rounded(percentile(ordered, 99)),
        "max": rounded(ordered[-1] if ordered else None),
        "mean": rounded(sum(ordered) / len(ordered) if ordered else None),
    }


def rate(count: int, seconds: float) -> float | None:
    """Events per second, or None when no time passed."""
    if seconds <= 0:
        return None
    return round(count / seconds, 1)


def merge_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Add up failure counters (reason → count), largest first."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total.most_common())


def median(values: Sequence[float]) -> float | None:
    """The median (mean of the middle two for an even count), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
