"""Every metric hallboard exports, defined once (prometheus_client).

The names are a contract: the gateway, the web side, ``deploy/`` (Grafana
dashboard, alert rules) and docs/operations.md all use them, and a test checks
that every name ``deploy/`` mentions is defined here.

Python names are the metric names without the ``hallboard_`` prefix, so a
caller finds ``hallboard_gateway_refused_total`` as ``metrics.gateway_refused_total``.

Several processes (``hallboard serve --role web --workers N``): prometheus_client
then runs in multiprocess mode (``hallboard.observability.multiprocess``).
Counters and histograms are summed over every process that ever wrote them
since the server started. Gauges say how they combine:

- ``hallboard_gateway_connections``: ``livesum`` (sockets held by the live processes);
- ``hallboard_broker_connected``: ``livemin`` (0 as soon as one live process lost its broker).

``hallboard_screens`` and ``hallboard_alerts_active`` are not kept in memory
at all: ``DatabaseCollector`` reads them from the database when scraped, so
every process answers the same and none has to keep them up to date.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger("hallboard.observability")

# No "<name>_created" series: they double the series count for a timestamp
# Prometheus does not need, and multiprocess mode does not export them either.
disable_created_metrics()

# --- gateway side (the gateway calls these) -----------------------------------------

gateway_connections = Gauge(
    "hallboard_gateway_connections",
    "Sockets held by the gateway, by kind (display, staff) and state (authenticating, open).",
    ["kind", "state"],
    multiprocess_mode="livesum",
)
# Exported as hallboard_gateway_connections_accepted_total: a counter named
# hallboard_gateway_connections_total would share its metric family name
# ("hallboard_gateway_connections") with the gauge above, which the exposition
# format does not allow (prometheus_client refuses to register both).
gateway_connections_total = Counter(
    "hallboard_gateway_connections_accepted_total",
    "Sockets accepted (authenticated and subscribed), by kind.",
    ["kind"],
)
gateway_refused_total = Counter(
    "hallboard_gateway_refused_total",
    "Connects refused, by close code (4400 missing parameters, 4401 invalid token, "
    "4403 bound elsewhere, 4409 push off, 1013 at capacity, 1001 draining).",
    ["code"],
)
gateway_closed_total = Counter(
    "hallboard_gateway_closed_total",
    "Open sockets closed by the server, by close code.",
    ["code"],
)
gateway_slow_client_disconnects_total = Counter(
    "hallboard_gateway_slow_client_disconnects_total",
    "Sockets closed with 4408 because their send buffer stayed full too long.",
)
gateway_events_received_total = Counter(
    "hallboard_gateway_events_received_total",
    "Broker events received by the gateway, by event kind.",
    ["kind"],
)
gateway_events_ignored_total = Counter(
    "hallboard_gateway_events_ignored_total",
    "Broker events the gateway could not act on (logged), by reason: unknown kind or "
    "malformed (not JSON, a field missing or of the wrong type).",
    ["reason"],
)
gateway_messages_delivered_total = Counter(
    "hallboard_gateway_messages_delivered_total",
    "Frames written to sockets, by message type.",
    ["type"],
)
gateway_messages_failed_total = Counter(
    "hallboard_gateway_messages_failed_total",
    "Frames dropped (slow or closing socket), by message type.",
    ["type"],
)
gateway_dropped_total = Counter(
    "hallboard_gateway_dropped_total",
    "Sockets dropped without a closing handshake, by reason (open_timeout, close_timeout, "
    "ping_timeout, flood, buffer, error).",
    ["reason"],
)
gateway_rows_rejected_total = Counter(
    "hallboard_gateway_rows_rejected_total",
    "Rows of a gateway batch the database refused (the rest of the batch was written), "
    "by kind (heartbeat, delivered, ack, alert_ack, disconnect, auth).",
    ["kind"],
)
gateway_db_deadlocks_total = Counter(
    "hallboard_gateway_db_deadlocks_total",
    "Gateway batches the database aborted as deadlocked (each retried), by batch "
    "(authentication, write).",
    ["batch"],
)
gateway_coalesced_total = Counter(
    "hallboard_gateway_coalesced_total",
    "Invalidations absorbed by coalescing (sent later as one trailing message).",
)
#: Seconds from publish (the event's "ts", the publisher's time.time()) to the
#: frames written: one observation per event per gateway.
push_latency_seconds = Histogram(
    "hallboard_push_latency_seconds",
    "Seconds from an event's publication to its frames written to the sockets.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
broker_connected = Gauge(
    "hallboard_broker_connected",
    "1 while the gateway's broker connection is up, else 0, by broker (memory, redis).",
    ["broker"],
    multiprocess_mode="livemin",
)
broker_reconnects_total = Counter(
    "hallboard_broker_reconnects_total",
    "Times the gateway's broker connection was re-established (each followed by a resync).",
)
broker_resync_failures_total = Counter(
    "hallboard_broker_resync_failures_total",
    "Resyncs after a broker reconnect that failed (database away) and were retried.",
)
broker_callback_errors_total = Counter(
    "hallboard_broker_callback_errors_total",
    "Exceptions raised by the gateway's handling of a broker event (logged; the broker "
    "keeps running).",
)

# --- any process ---------------------------------------------------------------------

gc_pause_seconds = Histogram(
    "hallboard_gc_pause_seconds",
    "Python garbage collector pauses, by generation.",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

# --- web side ------------------------------------------------------------------------

realtime_published_total = Counter(
    "hallboard_realtime_published_total",
    "Events published to the broker, by event kind (invalidate, alert, command, ...).",
    ["kind"],
)
realtime_publish_failed_total = Counter(
    "hallboard_realtime_publish_failed_total",
    "Events whose publication to Redis failed (polling covers them), by event kind.",
    ["kind"],
)
display_requests_total = Counter(
    "hallboard_display_requests_total",
    "Display HTTP requests, by endpoint (status, snapshot, heartbeat, ack, pair) and status code.",
    ["endpoint", "code"],
)
display_refusals_total = Counter(
    "hallboard_display_refusals_total",
    "Display requests refused, by error code (invalid_token, screen_bound, rate_limited, ...).",
    ["error"],
)
staff_refusals_total = Counter(
    "hallboard_staff_refusals_total",
    "Requests of the staff pages' JSON endpoints refused, by page and error code.",
    ["page", "error"],
)
ratelimit_storage_errors_total = Counter(
    "hallboard_ratelimit_storage_errors_total",
    "Rate-limit checks that failed on the storage (Redis down) and let the request through.",
)

database_up = Gauge(
    "hallboard_database_up",
    "1 while this process reaches its database, 0 while it fails fast (database outage; "
    "hallboard.dbhealth).",
    multiprocess_mode="livemin",
)
database_up.set(1)
database_unavailable_total = Counter(
    "hallboard_database_unavailable_total",
    "Web requests answered 503 database_unavailable because the database did not answer.",
)
auth_failures_total = Counter(
    "hallboard_auth_failures_total",
    "Failed authentications, by kind (display token, socket token or ticket, API key, "
    "admin login); counted per source address by hallboard.throttle.",
    ["kind"],
)
auth_throttled_total = Counter(
    "hallboard_auth_throttled_total",
    "Authentication attempts refused because their source address failed too often, by kind.",
    ["kind"],
)
idempotent_replays_total = Counter(
    "hallboard_idempotent_replays_total",
    "Management API writes answered from a stored response (a retry with the same "
    "Idempotency-Key), instead of being carried out again.",
)

View = Callable[..., HttpResponseBase]


def count_display_requests(endpoint: str) -> Callable[[View], View]:
    """Count every answer of a display endpoint in ``hallboard_display_requests_total``."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def counted(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                response = view(request, *args, **kwargs)
            except Exception as exc:
                from hallboard.dbhealth import is_unavailable

                code = "503" if is_unavailable(exc) else "500"  # the answer it turns into
                display_requests_total.labels(endpoint=endpoint, code=code).inc()
                raise
            display_requests_total.labels(endpoint=endpoint, code=str(response.status_code)).inc()
            return response

        return counted

    return decorate


# --- from the database, at scrape time ------------------------------------------------

SCREENS = "hallboard_screens"
ALERTS_ACTIVE = "hallboard_alerts_active"


class DatabaseCollector:
    """``hallboard_screens{school, status}`` and ``hallboard_alerts_active{severity}``.

    Read when scraped (status by ``hallboard.screens.status``, the one place it
    is decided). ``school_ids`` limits both to what the scraping principal may
    view (None: every school): an alert counts when its scope includes one of
    those schools. With the database down the families are left out (and the
    failure logged), so the rest of the scrape still arrives.
    """

    def __init__(self, school_ids: Iterable[int] | None = None) -> None:
        self.school_ids = None if school_ids is None else frozenset(school_ids)

    def describe(self) -> Iterator[Metric]:
        yield self._screens_family()
        yield self._alerts_family()

    def collect(self) -> Iterator[Metric]:
        try:
            screens = self._screens_family()
            for slug, counts in sorted(self.screen_counts().items()):
                for status, count in counts.items():
                    screens.add_metric([slug, status], count)
            alerts = self._alerts_family()
            for severity, count in self.alert_counts().items():
                alerts.add_metric([severity], count)
        except DatabaseError as exc:
            logger.warning("metrics: database-derived gauges left out of the scrape: %s", exc)
            return
        yield screens
        yield alerts

    @staticmethod
    def _screens_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            SCREENS,
            "Screens by school (slug) and status (online, stale, offline).",
            labels=["school", "status"],
        )

    @staticmethod
    def _alerts_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            ALERTS_ACTIVE, "Emergency alerts active now, by severity.", labels=["severity"]
        )

    def screen_counts(self) -> dict[str, dict[str, int]]:
        """Screens per status for each school that has screens, by school slug."""
        from hallboard.screens.models import Screen
        from hallboard.screens.status import STATUSES, counts_by_school

        rows = Screen.objects.select_related("school").only(
            "last_heartbeat_at",
            "revision_shown",
            "connection_mode",
            "push_refused_code",
            "school__slug",
            "school__revision",
            "school__revision_changed_at",
        )
        if self.school_ids is not None:
            rows = rows.filter(school_id__in=self.school_ids)
        screens = list(rows)
        slugs = {screen.school.pk: screen.school.slug for screen in screens}
        by_school = counts_by_school(screens, timezone.now())
        return {
            slugs[school_id]: {status: counts[status] for status in STATUSES}
            for school_id, counts in by_school.items()
        }

    def alert_counts(self) -> dict[str, int]:
        """Active alerts per severity (every severity, zero included)."""
        from hallboard.alerts.models import Alert
        from hallboard.schools.models import School

        alerts = Alert.objects.active()
        if self.school_ids is not None:
            org_ids = School.objects.filter(pk__in=self.school_ids).values("organisation_id")
            alerts = alerts.filter(
                Q(school_id__in=self.school_ids)
                | Q(school__isnull=True, organisation_id__in=org_ids)
            )
        rows = alerts.order_by().values("severity").annotate(n=Count("id"))
        counts = {row["severity"]: row["n"] for row in rows}
        return {severity: counts.get(severity, 0) for severity in Alert.Severity.values}


def metric_names() -> set[str]:
    """Every series name hallboard exports, as PromQL sees them (``_total``, ``_bucket``...)."""
    from prometheus_client import REGISTRY

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names: set[str] = set()
    for family in [*REGISTRY.collect(), *DatabaseCollector().describe()]:
        if family.name.startswith("hallboard_"):
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names
