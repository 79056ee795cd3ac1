"""Display HTTP endpoints: snapshot, status, heartbeat (docs/protocol.md)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from hallboard.display import errors, snapshot
from hallboard.display.auth import authenticate
from hallboard.screens.models import Screen
from hallboard.screens.status import heartbeat_is_news
from hallboard.staff import frames

MAX_HEARTBEAT_BYTES = 4096
MAX_CLIENT_INFO_BYTES = 2048

#: 200 / 304 answers by endpoint since the process started (metrics later).
answers: dict[str, int] = {}


def _count(name: str) -> None:
    answers[name] = answers.get(name, 0) + 1


def ws_url(request: HttpRequest) -> str:
    """Where this display connects for push (settings.DISPLAY_WS_URL, or derived)."""
    if settings.DISPLAY_WS_URL:
        return str(settings.DISPLAY_WS_URL)
    scheme = "wss" if request.is_secure() else "ws"
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


@require_GET
def snapshot_view(request: HttpRequest) -> HttpResponseBase:
    screen = authenticate(request)
    if isinstance(screen, JsonResponse):
        return screen
    now = timezone.now()
    content, etag = snapshot.build(screen, now)
    if _matches(request, etag):
        _count("snapshot_304")
        return _not_modified(etag)
    content["meta"]["ws_url"] = ws_url(request)
    content["meta"].update(snapshot.volatile_meta(now, screen.school.tz))
    _count("snapshot_200")
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


@require_GET
def status_view(request: HttpRequest) -> HttpResponseBase:
    screen = authenticate(request, *STATUS_FIELDS)
    if isinstance(screen, JsonResponse):
        return screen
    school = screen.school
    local_date = timezone.now().astimezone(school.tz).date()
    etag = snapshot.status_etag(school.revision, local_date)
    if _matches(request, etag):
        _count("status_304")
        return _not_modified(etag)
    _count("status_200")
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
    _count("heartbeat")
    return HttpResponse(status=204)
