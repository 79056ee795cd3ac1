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
  at once (``revisions_committed``). So an answer is at most about a second
  behind the database; displays poll every 8-45 s.
- A rotated or revoked token, a reset binding or a deleted screen drops the
  cached credentials at once in the process where it happened (signals, after
  the commit); other processes re-read every
  cached token's screen every ``CREDENTIALS_TTL`` seconds (in batches), so a
  token revoked elsewhere may read its school's revision number (never
  content) there for at most that long.

``The request is read as Django reads it, by the same functions
(``hallboard.display.credentials``: the last of repeated query parameters,
repeated headers joined; ``If-None-Match`` matched alike), and limited by the
same function (``hallboard.display.auth.limited``: the per-address throttle,
then the per-screen rate limit); its answers, 429 included, carry the headers
Django's security middleware adds (``security_headers``).

Readers take no lock: the cache is one immutable ``_Table`` that writers
(lookups, the refresher, signals) replace whole.

``DISPLAY_STATUS_FAST_PATH=false`` turns it off (every request goes to Django).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

from hallboard.dbconn import give_back
from hallboard.display import credentials, snapshot
from hallboard.display.auth import limited
from hallboard.display.credentials import Credentials
from hallboard.observability.metrics import display_requests_total
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token
from hallboard.settingscache import per_settings

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


@dataclass(frozen=True, slots=True)
class _Screen:
    screen_id: int
    school_id: int
    device_key: str | None
    multi_device: bool | None


@dataclass(frozen=True, slots=True)
class _School:
    revision: int
    tz: ZoneInfo


_NO_SCREENS: Mapping[str, _Screen] = MappingProxyType({})
_NO_SCHOOLS: Mapping[int, _School] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class _Table:
    """One state of the cache, never changed: readers take it whole (one attribute read,
    no lock) and writers replace it whole, so no reader sees a mapping change size.

    ``recent``: tokens looked up since the last refresh, a small mapping copied on
    each lookup; each refresh merges it into ``screens`` (copying the large one once
    a second instead of once per new token)."""

    screens: Mapping[str, _Screen]  # token hash → screen
    recent: Mapping[str, _Screen]
    schools: Mapping[int, _School]

    def screen(self, digest: str) -> _Screen | None:
        found = self.recent.get(digest)
        return found if found is not None else self.screens.get(digest)

    def digests(self) -> set[str]:
        return set(self.screens) | set(self.recent)


_EMPTY = _Table(_NO_SCREENS, _NO_SCREENS, _NO_SCHOOLS)


def _frozen(mapping: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(mapping) if mapping else _NO_SCREENS


class StatusCache:
    """Credentials and revisions the fast path answers from (one per process).

    Readers (the event loop) read ``self.table`` and nothing else, without a lock;
    writers (lookups in worker threads, the refresher, signals) build a new table
    under ``_lock`` and swap it in."""

    def __init__(self, *, background: bool = True) -> None:
        self.table = _EMPTY
        self.background = background  # refresh revisions in a thread (off: call refresh())
        self._lock = threading.Lock()  # writers only
        self._clears = 0  # whole-cache clears so far: a refresh that saw an older count stops
        self._dropped: set[str] | None = None  # dropped while a credentials refresh reads
        self._refresher: threading.Thread | None = None
        _CACHES.add(self)

    @property
    def screens(self) -> Mapping[str, _Screen]:
        """Every cached token hash's screen (a copy: for tests and support)."""
        table = self.table
        return MappingProxyType({**table.screens, **table.recent})

    @property
    def schools(self) -> Mapping[int, _School]:
        return self.table.schools

    def screen(self, digest: str) -> _Screen | None:
        return self.table.screen(digest)

    def school(self, school_id: int) -> _School | None:
        return self.table.schools.get(school_id)

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
            self.forget(digest)
            return None
        screen_id, school_id, device_key, multi, revision, tz = row
        entry = _Screen(screen_id, school_id, device_key, multi)
        with self._lock:
            table = self.table
            schools = table.schools
            if school_id not in schools:
                schools = MappingProxyType({**schools, school_id: _School(revision, ZoneInfo(tz))})
            self.table = _Table(table.screens, _frozen({**table.recent, digest: entry}), schools)
        self._ensure_refresher()
        return entry

    def _drop(self, digests: set[str]) -> None:
        """Swap in a table without ``digests`` (caller holds the lock)."""
        if self._dropped is not None:
            self._dropped |= digests  # the refresh reading now must not bring them back
        table = self.table
        if not digests:
            return
        screens = table.screens
        if any(d in screens for d in digests):
            screens = _frozen({d: s for d, s in screens.items() if d not in digests})
        recent = table.recent
        if any(d in recent for d in digests):
            recent = _frozen({d: s for d, s in recent.items() if d not in digests})
        self.table = _Table(screens, recent, table.schools)

    def forget(self, digest: str) -> None:
        """Drop one token (unknown now, or its screen is being bound by Django)."""
        with self._lock:
            self._drop({digest})

    def forget_screen(self, screen_id: int) -> None:
        """Drop every token of a screen: rotated, revoked, deleted, or its binding reset."""
        with self._lock:
            table = self.table
            self._drop(
                {d for d, s in table.screens.items() if s.screen_id == screen_id}
                | {d for d, s in table.recent.items() if s.screen_id == screen_id}
            )

    def set_revisions(self, revisions: Mapping[int, int]) -> None:
        """Cached schools move forward to these revisions (school id → revision), in one
        swap of the table (never backwards; schools not cached are not added)."""
        with self._lock:
            table = self.table
            newer = {
                school_id: _School(revision, school.tz)
                for school_id, revision in revisions.items()
                if (school := table.schools.get(school_id)) is not None
                and revision > school.revision
            }
            if newer:
                schools = MappingProxyType({**table.schools, **newer})
                self.table = _Table(table.screens, table.recent, schools)

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
        with self._lock:
            clears = self._clears
            self._dropped = set()
            digests = self.table.digests()
        try:
            found = self._read_credentials(sorted(digests))
        except BaseException:
            with self._lock:
                self._dropped = None
            raise
        with self._lock:
            dropped, self._dropped = self._dropped or set(), None
            if self._clears != clears:
                return  # cleared meanwhile (the database failed): start from nothing
            for digest in dropped:  # revoked, rotated, reset meanwhile: read too early
                found.pop(digest, None)
            table = self.table
            # Rotated, revoked, deleted: not found, gone. Looked up meanwhile: kept as recent.
            recent = {d: s for d, s in table.recent.items() if d not in digests}
            self.table = _Table(_frozen(found), _frozen(recent), table.schools)

    @staticmethod
    def _read_credentials(digests: list[str]) -> dict[str, _Screen]:
        found: dict[str, _Screen] = {}
        for start in range(0, len(digests), 500):
            rows = Screen.objects.filter(token_hash__in=digests[start : start + 500]).values_list(
                "token_hash", "id", "school_id", "device_key", "allow_multi_device"
            )
            for digest, screen_id, school_id, device_key, multi in rows:
                if digest is not None:
                    found[digest] = _Screen(screen_id, school_id, device_key, multi)
        return found

    def _refresh_schools(self) -> None:
        ids = list(self.table.schools)
        asked = set(ids)
        read: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 500):
            rows = School.objects.filter(pk__in=ids[start : start + 500]).values_list(
                "pk", "revision", "timezone"
            )
            for pk, revision, tz in rows:
                read[pk] = (revision, tz)
        with self._lock:
            table = self.table
            schools: dict[int, _School] = {}
            for pk, school in table.schools.items():
                if pk not in read:
                    if pk not in asked:
                        schools[pk] = school  # cached meanwhile
                    continue  # deleted
                revision, tz = read[pk]
                zone = school.tz if str(school.tz) == tz else ZoneInfo(tz)
                # Never backwards: an edit of this process may have committed after the read.
                schools[pk] = _School(max(revision, school.revision), zone)
            self.table = _Table(table.screens, table.recent, MappingProxyType(schools))

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
                self.clear()

    def clear(self) -> None:
        with self._lock:
            self._clears += 1
            self.table = _EMPTY


#: Every cache of this process, told of this process's changes (connect_signals).
_CACHES: weakref.WeakSet[StatusCache] = weakref.WeakSet()
CACHE = StatusCache()


#: The request headers the fast path reads (repeated ones joined by "," as Django does).
_HEADERS = (b"authorization", b"x-device-key", b"host", b"if-none-match")


def _read(scope: Scope) -> tuple[Credentials, dict[bytes, str]] | None:
    """The request's credentials and headers, read as Django reads them
    (``hallboard.display.credentials``), or None when Django should read it."""
    try:
        query = credentials.query_values(
            scope.get("query_string", b"").decode(), _settings().max_fields
        )
    except ValueError:  # not UTF-8, or too many parameters: Django answers
        return None
    headers = credentials.joined_headers(scope.get("headers", ()), *_HEADERS)
    found = credentials.read(
        query, headers.get(b"authorization", ""), headers.get(b"x-device-key", "")
    )
    return found, headers


def _address(scope: Scope) -> str:
    """The client's address as Django's ``REMOTE_ADDR`` (``throttle.request_address``)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass(frozen=True, slots=True)
class _Settings:
    """What the fast path reads of the settings for every request."""

    enabled: bool
    max_fields: int | None
    allowed_hosts: list[str]
    redis: bool


@per_settings
def _settings() -> _Settings:
    return _Settings(
        bool(settings.DISPLAY_STATUS_FAST_PATH),
        settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        list(settings.ALLOWED_HOSTS),
        bool(settings.REDIS_URL),
    )


@per_settings(maxsize=256)
def _host_allowed(host: str) -> bool:
    """Whether Django would accept this ``Host`` header (``HttpRequest.get_host``'s check),
    decided once per header value: a display sends the same one every time."""
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, _settings().allowed_hosts)


@functools.cache
def _counter(status: int) -> Any:
    """This process's ``hallboard_display_requests_total{endpoint="status"}`` series for
    ``status`` (looked up once, not for every answer)."""
    return display_requests_total.labels(endpoint="status", code=str(status))


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers Django's SecurityMiddleware and XFrameOptionsMiddleware add to an
    answer, from the same settings: every fast answer (200, 304, 429) carries them."""
    return list(_security_headers(scope.get("scheme") == "https"))


@per_settings
def _security_headers(https: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers: list[tuple[bytes, bytes]] = []
    if settings.SECURE_HSTS_SECONDS and https:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append((b"strict-transport-security", value.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        if not isinstance(policy, str):
            policy = ",".join(policy)
        headers.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.encode()))
    return tuple(headers)


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
            or not _settings().enabled
        ):
            await self.app(scope, receive, send)
            return
        answered = await self._answer(scope, send)
        if not answered:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        read = _read(scope)
        if read is None:
            return False
        found, headers = read
        if found.problem is not None:
            return False  # Django answers 400 or 401 (and logs it)
        if not _host_allowed(headers.get(b"host", "")):
            return False
        token, device_key = found.token, found.device_key
        digest = hash_token(token)
        screen = self.cache.screen(digest)
        if screen is None:
            screen = await asyncio.get_running_loop().run_in_executor(
                None, _load, self.cache, digest
            )
            if screen is None:
                return False
        if screen.device_key is None:
            self.cache.forget(digest)  # Django binds it now; look again next time
            return False
        if screen.device_key != device_key or screen.multi_device:
            return False  # another device, multi-device screens: Django decides
        school = self.cache.school(screen.school_id)
        if school is None:
            return False
        # The same throttle, limiter and key as the Django view, checked before
        # answering (in a thread when it asks Redis: the loop never waits on the network).
        address = _address(scope)
        if _settings().redis:
            refusal = await asyncio.get_running_loop().run_in_executor(
                None, limited, address, digest, device_key
            )
        else:
            refusal = limited(address, digest, device_key)
        if refusal is not None:
            await _send_django_response(send, refusal, scope)
            _counter(refusal.status_code).inc()
            return True
        local_date = timezone.now().astimezone(school.tz).date()
        etag = snapshot.status_etag(school.revision, local_date)
        if credentials.etag_matches(headers.get(b"if-none-match", ""), etag):
            await _send(send, scope, 304, b"", etag, None)
            _counter(304).inc()
            return True
        body = json.dumps({"rev": school.revision, "date": local_date.isoformat()}).encode()
        await _send(send, scope, 200, body, etag, b"application/json")
        _counter(200).inc()
        return True


def _load(cache: StatusCache, digest: str) -> _Screen | None:
    try:
        return cache.load(digest)
    except Exception:
        logger.warning("status fast path could not look a token up; answering through Django")
        return None


async def _send(
    send: Send, scope: Scope, status: int, body: bytes, etag: str, content_type: bytes | None
) -> None:
    headers = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    headers.append((b"content-length", str(len(body)).encode()))  # 304: 0, as Django's
    headers += security_headers(scope)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_django_response(send: Send, response: Any, scope: Scope) -> None:
    """A refusal built by the Django side's functions, with the headers Django's
    middleware would add."""
    headers = [(k.lower().encode(), v.encode()) for k, v in response.items()]
    headers.append((b"content-length", str(len(response.content)).encode()))
    headers += security_headers(scope)
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


def connect_signals() -> None:
    """Keep this process's cache exact for what this process changes."""
    from django.db.models.signals import post_delete

    from hallboard.schools.revision import revisions_committed
    from hallboard.screens.models import binding_reset, credentials_changed

    def revisions(revisions: Mapping[int, int], **_: Any) -> None:
        for cache in list(_CACHES):
            cache.set_revisions(revisions)

    def credentials(screen_id: int, **_: Any) -> None:
        for cache in list(_CACHES):
            cache.forget_screen(screen_id)

    def deleted(instance: Screen, **_: Any) -> None:
        credentials(instance.pk)

    revisions_committed.connect(revisions, dispatch_uid="fast-status-revision", weak=False)
    credentials_changed.connect(credentials, dispatch_uid="fast-status-credentials", weak=False)
    binding_reset.connect(credentials, dispatch_uid="fast-status-binding", weak=False)
    post_delete.connect(deleted, sender=Screen, dispatch_uid="fast-status-deleted", weak=False)
