"""Database outages: bounded waits, fail fast while the database is away, one answer for it.

The one place that decides what hallboard does when its database does not
answer (docs/operations.md, "Database outage"):

- **Bounded waits.** Every round trip to PostgreSQL (query, commit, rollback,
  health check) runs under ``WATCHDOG``: if no answer arrives within the
  statement timeout plus ``WATCHDOG_GRACE`` seconds, the connection's socket is
  shut down, so the waiting thread gets an error instead of waiting for a
  network that may never answer. The server enforces the same bound from its
  side (``statement_timeout``, ``idle_in_transaction_session_timeout``, set as
  connection options in ``settings.py``), so a transaction the client gave up
  on is rolled back by the server and can never commit later.
- **Fail fast.** The first failure to reach the database (no connection from
  the pool in time, a refused or timed-out connect, a watchdog kill, a broken
  connection) marks it *down* (``health_for``: per database): from then on every attempt to
  connect fails at once with ``DatabaseUnavailable`` instead of each request
  waiting the full timeout, and a background probe tries a fresh connection
  every ``PROBE_INTERVAL`` seconds. The first probe that gets ``SELECT 1``
  through marks it up again: recovery within about a second of the
  database's return.
- **One answer.** Web requests that meet an outage get
  ``503 {"error": "database_unavailable", ...}`` with ``Retry-After``
  (``unavailable_response``), from the management API, the display endpoints
  and every other page (``UnavailableMiddleware``, ``server_error``); never an
  HTML 500 on an API. The gateway refuses new sockets with 1013.

Counted in ``hallboard_database_up`` (per process) and
``hallboard_database_unavailable_total``; each transition logs one line.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from hallboard.observability import metrics

logger = logging.getLogger("hallboard.database")

#: Seconds a web client is told to wait before retrying (``Retry-After``).
RETRY_AFTER_SECONDS = 5
#: Seconds between two connection attempts of the probe while the database is down.
PROBE_INTERVAL = 0.5
#: Seconds the watchdog waits beyond the statement timeout before it cuts a connection.
WATCHDOG_GRACE = 2.0


class DatabaseUnavailable(OperationalError):
    """Raised instead of connecting while the database is known to be down."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot serve this now" (answer 503, not 500).

    Operational errors (no connection, timeouts, a broken connection, a
    cancelled statement, a deadlock, SQLite's "database is locked") and
    interface errors (a connection already closed). Integrity and data errors
    are not: they are bugs or bad input.
    """
    return isinstance(exc, OperationalError | InterfaceError)


# --- the watchdog --------------------------------------------------------------------


def _cut(fd: int) -> None:
    """Shut the socket ``fd`` down in both directions: a thread blocked on it wakes up."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


class Watchdog:
    """Cuts database connections whose round trip outlives its bound (one thread per process)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[object, tuple[float, int]] = {}  # token → (deadline, socket fd)
        self._thread: threading.Thread | None = None
        self.cut = 0  # connections cut so far

    @contextmanager
    def bound(self, fd: int | None, seconds: float | None) -> Iterator[Callable[[], bool]]:
        """Run the block with socket ``fd`` cut after ``seconds``; yields "was it cut?"."""
        if fd is None or not seconds or seconds <= 0:
            yield lambda: False
            return
        token = object()
        fired = False
        with self._cond:
            was_empty = not self._armed
            self._armed[token] = (time.monotonic() + seconds, fd)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="database-watchdog", daemon=True
                )
                self._thread.start()
            elif was_empty:
                self._cond.notify()

        def cut() -> bool:
            return fired

        try:
            yield cut
        finally:
            with self._cond:
                fired = self._armed.pop(token, None) is None

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [t for t, (deadline, _) in self._armed.items() if deadline <= now]
                for token in due:
                    _, fd = self._armed.pop(token)
                    self.cut += 1
                    _cut(fd)
                if self._armed:
                    earliest = min(deadline for deadline, _ in self._armed.values())
                    self._cond.wait(max(0.01, earliest - now))
                else:
                    self._cond.wait()


WATCHDOG = Watchdog()


# --- up or down --------------------------------------------------------------------


class Health:
    """Whether this process can reach its database; probes it while it cannot."""

    def __init__(self, *, probe_interval: float = PROBE_INTERVAL) -> None:
        self.probe_interval = probe_interval
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.reason = ""
        self._probe: Callable[[], None] | None = None
        self._prober: threading.Thread | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def check(self) -> None:
        """Raise ``DatabaseUnavailable`` while the database is down (instead of waiting)."""
        if self.down_since is not None:
            raise DatabaseUnavailable(f"database unavailable: {self.reason}")

    def failed(self, exc: BaseException | str, probe: Callable[[], None]) -> None:
        """Reaching the database failed: mark it down, start ``probe`` (raises while down)."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        reason = reason.strip().splitlines()[0][:200] if reason.strip() else "no answer"
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
            self.reason = reason
            self._probe = probe
            metrics.database_up.set(0)
            logger.warning("database unavailable (%s); failing fast until it answers", reason)
            self._prober = threading.Thread(target=self._probe_until_up, daemon=True)
            self._prober.name = "database-probe"
            self._prober.start()

    def recovered(self) -> None:
        with self._lock:
            if self.down_since is None:
                return
            seconds = time.monotonic() - self.down_since
            self.down_since = None
            self.reason = ""
            metrics.database_up.set(1)
        logger.warning("database reachable again after %.1f s", seconds)

    def _probe_until_up(self) -> None:
        while self.down_since is not None:
            time.sleep(self.probe_interval)
            probe = self._probe
            if probe is None:
                continue
            try:
                probe()
            except Exception as exc:  # still down: try again after the interval
                self.reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:200]
                continue
            self.recovered()


_targets: dict[tuple[str, ...], Health] = {}
_targets_lock = threading.Lock()


def health_for(settings_dict: dict[str, Any]) -> Health:
    """The ``Health`` of one database server and database: another target that fails
    (a second database, a test's unreachable one) never makes this one fail fast."""
    key = tuple(str(settings_dict.get(k) or "") for k in ("HOST", "PORT", "NAME", "USER"))
    with _targets_lock:
        if key not in _targets:
            _targets[key] = Health()
        return _targets[key]


# --- what web requests answer ----------------------------------------------------------


def unavailable_response(request: HttpRequest | None = None) -> HttpResponse:
    """``503 database_unavailable`` with ``Retry-After``: JSON, or a short page for browsers."""
    metrics.database_unavailable_total.inc()
    detail = "The database is not answering; your request was not carried out. Try again shortly."
    response: HttpResponse
    if request is not None and _wants_html(request):
        from django.utils.translation import gettext

        body = "<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p>".format(
            gettext("Temporarily unavailable"),
            gettext("The database is not answering. Please try again in a moment."),
        )
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    else:
        response = JsonResponse({"error": "database_unavailable", "detail": detail}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # One line per outage is logged by Health, not one per request (django.request).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _wants_html(request: HttpRequest) -> bool:
    path = request.path
    if path.startswith("/api/") or path in ("/readyz", "/healthz", "/metrics"):
        return False
    return "text/html" in request.headers.get("Accept", "")


class UnavailableMiddleware:
    """Turns a view's database outage into ``unavailable_response``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_unavailable(exception):
            return unavailable_response(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an outage is a 503; anything else a JSON 500 on APIs, else Django's page.

    Reached for exceptions that no view-level handler turned into an answer
    (e.g. raised by a middleware, such as a session saved after the view).
    """
    exc = sys.exc_info()[1]
    if exc is not None and is_unavailable(exc):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": "internal_error", "detail": "The server failed; this is a bug."},
            status=500,
        )
        response["Cache-Control"] = "no-store"
        return response
    from django.views.defaults import server_error as default

    return default(request)


def api_exception(exc: Exception) -> tuple[int, str, Any] | None:
    """For the management API's exception handler: (status, code, detail) of an outage."""
    if is_unavailable(exc):
        return 503, "database_unavailable", "The database is not answering; try again shortly."
    return None


# --- migrations run unbounded ------------------------------------------------------------


def _unbounded_for_migrations(using: str = "default", **_: Any) -> None:
    """``pre_migrate``: a migration may take longer than a request (a new index on a big table)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql" or not hasattr(connection, "round_trip_bound"):
        return
    connection.round_trip_bound = None
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET idle_in_transaction_session_timeout = 0")


def _bounded_again(using: str = "default", **_: Any) -> None:
    """``post_migrate``: back to the configured bounds for whatever the process does next."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql" or not hasattr(connection, "round_trip_bound"):
        return
    from hallboard.dbbackend.base import bound_seconds

    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")
        cursor.execute("RESET idle_in_transaction_session_timeout")
    connection.round_trip_bound = bound_seconds(connection.settings_dict)


#: Public names: the migration lock's wait is unbounded the same way (server.dbready).
unbounded_for_migrations = _unbounded_for_migrations
bounded_again = _bounded_again


def connect_signals() -> None:
    from django.db.models.signals import post_migrate, pre_migrate

    pre_migrate.connect(_unbounded_for_migrations, dispatch_uid="dbhealth-unbounded")
    post_migrate.connect(_bounded_again, dispatch_uid="dbhealth-bounded")
