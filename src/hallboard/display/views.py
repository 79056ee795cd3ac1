"""Display HTTP endpoints: snapshot, status, heartbeat, alert ack (docs/protocol.md).

Every answer, refusals included, is counted by endpoint and status code in
``hallboard_display_requests_total`` (``count_display_requests``).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from hallboard.alerts.delivery import RECEIPT_STATES, record_receipt
from hallboard.display import errors, snapshot
from hallboard.display.auth import authenticate
from hallboard.observability.metrics import count_display_requests
from hallboard.screens.models import Screen
from hallboard.screens.status import heartbeat_is_news
from hallboard.staff import frames

MAX_HEARTBEAT_BYTES = 4096
MAX_ACK_BYTES = 1024
MAX_CLIENT_INFO_BYTES = 2048


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
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


def _matches(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return any(candidate.strip() in (etag, "*") for candidate in header.split(",") if candidate)


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
    """The fields to store, or what is wrong with the body."""
    if len(body) > MAX_HEARTBEAT_BYTES:
        return f"The body is over {MAX_HEARTBEAT_BYTES} bytes."
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return "The body is not valid JSON."
    if not isinstance(data, dict):
        return "The body must be a JSON object."
    fields: dict[str, Any] = {"last_heartbeat_at": timezone.now()}
    rev = data.get("rev")
    if rev is not None:
        if not isinstance(rev, int) or isinstance(rev, bool) or rev < 0:
            return "rev must be a non-negative integer (the revision shown)."
        fields["revision_shown"] = rev
    mode = data.get("mode")
    if mode is not None:
        if mode not in (Screen.Mode.PUSH, Screen.Mode.POLL):
            return 'mode must be "ws" or "poll".'
        fields["connection_mode"] = mode
    uptime = data.get("uptime_s")
    if uptime is not None and (
        not isinstance(uptime, int | float) or isinstance(uptime, bool) or uptime < 0
    ):
        return "uptime_s must be a non-negative number of seconds."
    health = data.get("health", {})
    if not isinstance(health, dict):
        return "health must be a JSON object of client figures."
    info = {"uptime_s": uptime, "health": health}
    if len(json.dumps(info)) > MAX_CLIENT_INFO_BYTES:
        return f"health is over {MAX_CLIENT_INFO_BYTES} bytes."
    fields["client_info"] = info
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
    """(alert id, state), or what is wrong with the body."""
    if len(body) > MAX_ACK_BYTES:
        return f"The body is over {MAX_ACK_BYTES} bytes."
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return "The body is not valid JSON."
    if not isinstance(data, dict):
        return 'The body must be a JSON object: {"alert": <id>, "state": "shown" | "cleared"}.'
    alert = data.get("alert")
    if not isinstance(alert, int) or isinstance(alert, bool) or alert < 1:
        return "alert must be the id of the alert (a positive integer)."
    state = data.get("state")
    if state not in RECEIPT_STATES:
        return 'state must be "shown" or "cleared".'
    return alert, state


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
