"""``GET /metrics``: every metric, in the format the scraper asks for.

The process metrics (this process's, or every worker's in multiprocess mode)
plus the database-derived gauges, limited to the schools the viewer may see.
Also what a process without the Django web app (a gateway) needs to answer a
scrape itself: ``render(accept, school_ids)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder

from hallboard.observability import gcpause, multiprocess
from hallboard.observability.metrics import DatabaseCollector


class _Forward:
    """The metrics of another registry, as one collector of this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return iter(self.source.collect())


def render(accept: str = "", school_ids: Iterable[int] | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of a scrape (text format 0.0.4, or OpenMetrics if accepted)."""
    gcpause.flush()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(multiprocess.registry()))
    registry.register(DatabaseCollector(school_ids))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
