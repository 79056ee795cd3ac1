"""``/metrics``, ``/api/display/ws-metrics/``, ``/healthz`` and ``/readyz`` (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_GET, require_safe

from hallboard.observability import access, exposition, readiness, report
from hallboard.observability.metrics import DatabaseCollector


def _no_store(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponseBase:
    viewer = access.viewer(request)
    if viewer is None:
        return access.unauthorized()
    body, content_type = exposition.render(request.headers.get("Accept", ""), viewer.school_ids)
    return _no_store(HttpResponse(body, content_type=content_type))


def _screens(viewer: access.Viewer) -> dict[str, Any]:
    """Screens by status and active alerts by severity, over the viewer's schools."""
    collector = DatabaseCollector(viewer.school_ids)
    try:
        by_school = collector.screen_counts()
        alerts = collector.alert_counts()
    except DatabaseError as exc:
        return {"screens": None, "alerts_active": None, "database_error": type(exc).__name__}
    screens: dict[str, int] = {"online": 0, "stale": 0, "offline": 0}
    for counts in by_school.values():
        for status, count in counts.items():
            screens[status] += count
    return {"screens": screens, "alerts_active": alerts}


@require_GET
def ws_metrics_view(request: HttpRequest) -> HttpResponseBase:
    viewer = access.viewer(request)
    if viewer is None:
        return access.unauthorized()
    document = report.document(report.collect())
    document.update(_screens(viewer))
    return _no_store(JsonResponse(document))


@require_safe  # GET or HEAD: some load balancers probe with HEAD
def healthz_view(request: HttpRequest) -> HttpResponseBase:
    """The process answers requests (touches nothing else: a liveness probe)."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_safe
def readyz_view(request: HttpRequest) -> HttpResponseBase:
    optional = frozenset(request.GET.get("optional", "").split(",")) - {""}
    ready, body = readiness.checks(optional)
    return _no_store(JsonResponse(body, status=200 if ready else 503))
