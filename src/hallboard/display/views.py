"""Display HTTP endpoints: snapshot, status, heartbeat, alert ack (docs/protocol.md).

Every answer, refusals included, is counted by endpoint and status code in
``hallboard_display_requests_total`` (``count_display_requests``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    JsonResponse,
)
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from hallboard.alerts.delivery import record_receipt
from hallboard.display import errors, snapshot
from hallboard.display.auth import authenticate
from hallboard.display.credentials import etag_matches
from hallboard.observability.metrics import count_display_requests
from hallboard.realtime.core import validation
from hallboard.screens.models import Screen
from hallboard.screens.status import heartbeat_is_news
from hallboard.staff import frames


def ws_url(request: HttpRequest) -> str:
    """Where this display connects for push (settings.DISPLAY_WS_URL, or derived).

    A DISPLAY_WS_URL that is only a path (``/ws/display/``) means "this site,
    where the reverse proxy routes ``/ws/`` to the gateways": the request's
    scheme and host (with its port) are put in front of it.
    """
    scheme = "wss" if request.is_secure() else "ws"
    if settings.DISPLAY_WS_URL.startswith("/"):
        return f"{scheme}://{request.get_host()}{settings.DISPLAY_WS_URL}"
    if settings.DISPLAY_WS_URL:
        return str(settings.DISPLAY_WS_URL)
    hostname = urllib.parse.urlsplit("//" + request.get_host()).hostname or "localhost"
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{scheme}://{host}:{settings.GATEWAY_PORT}{settings.DISPLAY_WS_PATH}"


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponseNotModified()  # no Content-Type, as the status fast path's
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


def _matches(request: HttpRequest, etag: str) -> bool:
    """``credentials.etag_matches``: the same test as the status fast path's."""
    return etag_matches(request.headers.get("If-None-Match", ""), etag)


@count_display_requests("snapshot")
@require_GET
def snapshot_view(request: HttpRequest) -> HttpResponseBase:
    screen = authenticate(request)
    if isinstance(screen, JsonResponse):
        return screen
    now = timezone.now()
    content, etag = snapshot.build(screen, now)
    if _matches(request, etag):
        return _not_modified(etag)
    content["meta"]["ws_url"] = ws_url(request)
    content["meta"].update(snapshot.volatile_meta(now, screen.school.tz))
    response = JsonResponse(content, json_dumps_params={"ensure_ascii": False})
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


# The cheap polling path: one indexed query, no rendering.
STATUS_FIELDS = (
    "id",
    "device_key",
    "allow_multi_device",
    "school__id",
    "school__revision",
    "school__timezone",
)


@count_display_requests("status")
@require_GET
def status_view(request: HttpRequest) -> HttpResponseBase:
    screen = authenticate(request, *STATUS_FIELDS)
    if isinstance(screen, JsonResponse):
        return screen
    school = screen.school
    local_date = timezone.now().astimezone(school.tz).date()
    etag = snapshot.status_etag(school.revision, local_date)
    if _matches(request, etag):
        return _not_modified(etag)
    response = JsonResponse({"rev": school.revision, "date": local_date.isoformat()})
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


def _parse_heartbeat(body: bytes) -> dict[str, Any] | str:
    """The fields to store, or what is wrong with the body (``validation``: the same
    checks as a heartbeat on the socket)."""
    try:
        beat = validation.heartbeat(validation.loads(body or b"{}"))
    except validation.InvalidMessage as exc:
        return exc.detail
    fields: dict[str, Any] = {
        "last_heartbeat_at": timezone.now(),
        "client_info": beat.client_info,
    }
    if beat.rev is not None:
        fields["revision_shown"] = beat.rev
    if beat.mode is not None:
        fields["connection_mode"] = beat.mode
    return fields


# What a heartbeat needs: the binding check, and the state before it (is it news?).
HEARTBEAT_FIELDS = (
    "id",
    "device_key",
    "allow_multi_device",
    "school__id",
    "last_heartbeat_at",
    "revision_shown",
    "connection_mode",
)


@csrf_exempt  # authenticated by the screen token, not by a cookie
@count_display_requests("heartbeat")
@require_POST
def heartbeat_view(request: HttpRequest) -> HttpResponseBase:
    screen = authenticate(request, *HEARTBEAT_FIELDS)
    if isinstance(screen, JsonResponse):
        return screen
    fields = _parse_heartbeat(request.body)
    if isinstance(fields, str):
        errors.logger.info("heartbeat refused for screen %s: %s", screen.pk, fields)
        return errors.invalid_body(fields)
    news = heartbeat_is_news(
        screen,
        fields.get("revision_shown"),
        fields.get("connection_mode"),
        fields["last_heartbeat_at"],
    )
    # A plain UPDATE: heartbeats never bump the school's revision.
    Screen.objects.filter(pk=screen.pk).update(**fields)
    if news:  # live dashboards re-read the row; routine heartbeats send nothing
        frames.screen_event(screen.school_id, screen.pk, "heartbeat")
    return HttpResponse(status=204)


def _parse_ack(body: bytes) -> tuple[int, str] | str:
    """(alert id, state), or what is wrong with the body (``validation``: the same checks
    as an alert ack on the socket)."""
    try:
        ack = validation.alert_ack(validation.loads(body or b"null"))
    except validation.InvalidMessage as exc:
        return exc.detail
    return ack.alert, ack.state


@csrf_exempt  # authenticated by the screen token, not by a cookie
@count_display_requests("ack")
@require_POST
def ack_view(request: HttpRequest) -> HttpResponseBase:
    """The screen showed an alert, or its all-clear (polling screens; push screens ack on the
    socket). Stored by ``hallboard.alerts.delivery.record_receipt``."""
    screen = authenticate(request, "id", "device_key", "allow_multi_device", "school__id")
    if isinstance(screen, JsonResponse):
        return screen
    parsed = _parse_ack(request.body)
    if isinstance(parsed, str):
        errors.logger.info("alert ack refused for screen %s: %s", screen.pk, parsed)
        return errors.invalid_body(parsed)
    alert_id, state = parsed
    if record_receipt(screen.pk, alert_id, state, "http") is None:
        errors.logger.info(
            "alert ack refused for screen %s: alert %s not in scope", screen.pk, alert_id
        )
        return errors.unknown_alert()
    return HttpResponse(status=204)
