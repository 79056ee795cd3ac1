"""Observability: Prometheus metrics, the seed-compatible JSON, health, readiness, logs.

- ``metrics``: every metric hallboard exports, defined once (names fixed by
  the contracts between the parts), plus the collector of database-derived
  gauges computed at scrape time.
- ``multiprocess``: correct figures when ``hallboard serve --role web
  --workers N`` runs several worker processes (prometheus_client's
  multiprocess mode on a fresh directory per run).
- ``exposition``: ``GET /metrics`` in the Prometheus text (or OpenMetrics) format.
- ``figures`` and ``health``: the figures behind ``/api/display/ws-metrics/``
  and the ok / warning / critical verdict (a pure function of them).
- ``fleet``: gateways in other processes report their figures to Redis, so a
  web process that runs no gateway can still answer for them.
- ``readiness``: ``/healthz`` and ``/readyz``.
- ``summary``: the periodic summary log line.

docs/operations.md is the operator's view of all of this.
"""
