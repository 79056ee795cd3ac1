"""The status polling path without Django's request cycle: the common answer, fast.

Every display polls ``GET /api/display/status/`` every 8-45 s, forever; at ten
thousand screens that is most of the web tier's work, and almost every answer
is the same ``304 Not Modified``. This ASGI layer sits in front of Django
(``hallboard.asgi``) and answers the common case itself:

- a well-formed token whose screen is bound to the asking device (a token
  seen before is looked up in memory; a new one once in the database),
- within its rate limit (the same limiter and key as the Django view),
- from a host Django would accept.

It answers with the same status, ETag, body and headers as the Django view
(``hallboard.display.views.status_view``), computed by the same functions, and
counts them in the same metric.
Everything else (no token, unknown token, unbound screen, another device,
multi-device screens, any other path) goes to Django unchanged, so error
answers and binding have exactly one implementation.

Freshness, the part that matters (revision is truth):

- School revisions are re-read for every school in the cache, in one query a
  second, by a background thread; edits made in this process update the cache
  at once (``revision_committed``). So an answer is at most about a second
  behind the database; displays poll every 8-45 s.
- A rotated or revoked token or a deleted screen drops the cached credentials
  at once in the process where it happened; other processes re-read every
  cached token's screen every ``CREDENTIALS_TTL`` seconds (in batches), so a
  token revoked elsewhere may read its school's revision number (never
  content) there for at most that long.

``DISPLAY_STATUS_FAST_PATH=false`` turns it off (every request goes to Django).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

from hallboard.dbconn import give_back
from hallboard.display import errors, snapshot
from hallboard.display.auth import DEVICE_KEY, MAX_TOKEN_LENGTH
from hallboard.display.ratelimit import limiter
from hallboard.observability.metrics import display_requests_total
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token

logger = logging.getLogger("hallboard.display.fast_status")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments narrower

PATH = "/api/display/status/"
#: Seconds a cached token is trusted without looking at the database again.
CREDENTIALS_TTL = 10.0
#: Seconds between re-reads of the cached schools' revisions.
REFRESH_INTERVAL = 1.0


@dataclass(slots=True)
class _Screen:
    screen_id: int
    school_id: int
    device_key: str | None
    multi_device: bool | None


@dataclass(slots=True)
class _School:
    revision: int
    tz: ZoneInfo


class StatusCache:
    """Credentials and revisions the fast path answers from (one per process)."""

    def __init__(self, *, background: bool = True) -> None:
        self.screens: dict[str, _Screen] = {}  # token hash → screen
        self.schools: dict[int, _School] = {}
        self.background = background  # refresh revisions in a thread (off: call refresh())
        self._lock = threading.Lock()
        self._refresher: threading.Thread | None = None
        _CACHES.add(self)

    def screen(self, digest: str) -> _Screen | None:
        return self.screens.get(digest)

    def load(self, digest: str) -> _Screen | None:
        """Look a token up in the database (worker thread); remember it and its school."""
        try:
            return self._load(digest)
        finally:
            give_back()

    def _load(self, digest: str) -> _Screen | None:
        row = (
            Screen.objects.filter(token_hash=digest)
            .values_list(
                "id",
                "school_id",
                "device_key",
                "allow_multi_device",
                "school__revision",
                "school__timezone",
            )
            .first()
        )
        if row is None:
            self.screens.pop(digest, None)
            return None
        screen_id, school_id, device_key, multi, revision, tz = row
        entry = _Screen(screen_id, school_id, device_key, multi)
        self.screens[digest] = entry
        if school_id not in self.schools:
            self.schools[school_id] = _School(revision, ZoneInfo(tz))
        self._ensure_refresher()
        return entry

    def forget_screen(self, screen_id: int) -> None:
        with self._lock:
            for digest in [d for d, s in self.screens.items() if s.screen_id == screen_id]:
                self.screens.pop(digest, None)

    def set_revision(self, school_id: int, revision: int) -> None:
        school = self.schools.get(school_id)
        if school is not None and revision > school.revision:
            school.revision = revision

    def refresh(self, *, credentials: bool = False) -> None:
        """Re-read the revision (and time zone) of every cached school, and with
        ``credentials`` the screen of every cached token."""
        try:
            if credentials:
                self._refresh_credentials()
            self._refresh_schools()
        finally:
            give_back()  # never hold a server connection between refreshes

    def _refresh_credentials(self) -> None:
        digests = list(self.screens)
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            rows = Screen.objects.filter(token_hash__in=chunk).values_list(
                "token_hash", "id", "school_id", "device_key", "allow_multi_device"
            )
            found = {}
            for digest, screen_id, school_id, device_key, multi in rows:
                found[digest] = _Screen(screen_id, school_id, device_key, multi)
            for digest in chunk:  # rotated, revoked, deleted: gone
                if digest in found:
                    self.screens[digest] = found[digest]
                else:
                    self.screens.pop(digest, None)

    def _refresh_schools(self) -> None:
        ids = list(self.schools)
        for start in range(0, len(ids), 500):
            rows = School.objects.filter(pk__in=ids[start : start + 500]).values_list(
                "pk", "revision", "timezone"
            )
            seen = set()
            for pk, revision, tz in rows:
                seen.add(pk)
                school = self.schools.get(pk)
                if school is None or str(school.tz) != tz:
                    self.schools[pk] = _School(revision, ZoneInfo(tz))
                else:
                    school.revision = revision
            for pk in set(ids[start : start + 500]) - seen:  # deleted
                self.schools.pop(pk, None)

    def _ensure_refresher(self) -> None:
        if not self.background or (self._refresher is not None and self._refresher.is_alive()):
            return
        with self._lock:
            if self._refresher is None or not self._refresher.is_alive():
                self._refresher = threading.Thread(
                    target=self._refresh_forever, name="status-refresher", daemon=True
                )
                self._refresher.start()

    def _refresh_forever(self) -> None:
        last_credentials = time.monotonic()
        while True:
            time.sleep(REFRESH_INTERVAL)
            now = time.monotonic()
            credentials = now - last_credentials >= CREDENTIALS_TTL
            if credentials:
                last_credentials = now
            try:
                self.refresh(credentials=credentials)
            except Exception:
                # The database is away: stop answering from memory (every request
                # goes to Django, which reports the outage), and try again.
                logger.warning("status cache refresh failed; answering through Django")
                self.schools.clear()
                self.screens.clear()

    def clear(self) -> None:
        self.screens.clear()
        self.schools.clear()


#: Every cache of this process, told of this process's changes (connect_signals).
_CACHES: weakref.WeakSet[StatusCache] = weakref.WeakSet()
CACHE = StatusCache()


def _credentials(scope: Scope) -> tuple[str, str]:
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [""])[0]
    device_key = (query.get("dk") or [""])[0]
    if not token or not device_key:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and not token:
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = rest.strip()
            elif name == b"x-device-key" and not device_key:
                device_key = value.decode("latin-1").strip()
    return token, device_key


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


class FastStatus:
    """ASGI middleware: answers the common status poll, hands everything else to ``app``."""

    def __init__(self, app: ASGIApp, cache: StatusCache = CACHE) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "GET"
            or not settings.DISPLAY_STATUS_FAST_PATH
        ):
            await self.app(scope, receive, send)
            return
        answered = await self._answer(scope, send)
        if not answered:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        token, device_key = _credentials(scope)
        if not token or len(token) > MAX_TOKEN_LENGTH or not DEVICE_KEY.fullmatch(device_key):
            return False
        domain, _port = split_domain_port(_header(scope, b"host"))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return False
        digest = hash_token(token)
        screen = self.cache.screen(digest)
        if screen is None:
            screen = await asyncio.get_running_loop().run_in_executor(
                None, _load, self.cache, digest
            )
            if screen is None:
                return False
        if screen.device_key is None:
            self.cache.screens.pop(digest, None)  # Django binds it now; look again next time
            return False
        if screen.device_key != device_key or screen.multi_device:
            return False  # another device, multi-device screens: Django decides
        school = self.cache.schools.get(screen.school_id)
        if school is None:
            return False
        # The same limiter and key as the Django view, checked before answering
        # (in a thread when it asks Redis: the loop never waits on the network).
        if settings.REDIS_URL:
            retry_after = await asyncio.get_running_loop().run_in_executor(
                None, limiter().hit, "display", digest[:32], device_key
            )
        else:
            retry_after = limiter().hit("display", digest[:32], device_key)
        if retry_after is not None:
            await _send_django_response(send, errors.rate_limited(retry_after))
            display_requests_total.labels(endpoint="status", code="429").inc()
            return True
        local_date = timezone.now().astimezone(school.tz).date()
        etag = snapshot.status_etag(school.revision, local_date)
        if_none_match = _header(scope, b"if-none-match")
        if if_none_match and any(c.strip() in (etag, "*") for c in if_none_match.split(",") if c):
            await _send(send, 304, b"", etag, None)
            display_requests_total.labels(endpoint="status", code="304").inc()
            return True
        body = json.dumps({"rev": school.revision, "date": local_date.isoformat()}).encode()
        await _send(send, 200, body, etag, b"application/json")
        display_requests_total.labels(endpoint="status", code="200").inc()
        return True


def _load(cache: StatusCache, digest: str) -> _Screen | None:
    try:
        return cache.load(digest)
    except Exception:
        logger.warning("status fast path could not look a token up; answering through Django")
        return None


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


async def _send(
    send: Send, status: int, body: bytes, etag: str, content_type: bytes | None
) -> None:
    headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache"), *_SECURITY_HEADERS]
    if content_type is not None:
        headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_django_response(send: Send, response: Any) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in response.items()]
    headers.append((b"content-length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


def connect_signals() -> None:
    """Keep this process's cache exact for what this process changes."""
    from django.db.models.signals import post_delete

    from hallboard.schools.revision import revision_committed
    from hallboard.screens.models import credentials_changed

    def revision(school_id: int, revision: int, **_: Any) -> None:
        for cache in list(_CACHES):
            cache.set_revision(school_id, revision)

    def credentials(screen_id: int, **_: Any) -> None:
        for cache in list(_CACHES):
            cache.forget_screen(screen_id)

    def deleted(instance: Screen, **_: Any) -> None:
        credentials(instance.pk)

    revision_committed.connect(revision, dispatch_uid="fast-status-revision", weak=False)
    credentials_changed.connect(credentials, dispatch_uid="fast-status-credentials", weak=False)
    post_delete.connect(deleted, sender=Screen, dispatch_uid="fast-status-deleted", weak=False)
