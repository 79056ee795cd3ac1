"""Watched sources: each school's folder or URL, checked on a schedule and imported on change.

Where it runs: a thread of every web process of ``hallboard serve`` (and so of
``hallboard demo``), unless ``HALLBOARD_IMPORT_WATCH=false``; or in the
foreground with ``hallboard watch`` (``--once`` for a single pass, e.g. from
cron). Any number of these may run at once: a check is *claimed* by one
conditional ``UPDATE`` of the source's ``next_check_at`` (only one process
wins it), so a source is never checked twice at the same time.

A check (``check_source``):

* reads the folder or URL (``hallboard.imports.sources``: settled files,
  conditional requests, bounded in bytes, files and time);
* does nothing more when it is not modified (304, the same fingerprint) or a
  folder is still being written ("busy": the next check comes sooner);
* otherwise imports what it found (``run_import``, origin ``watch``): each such
  run is in the import history;
* on failure (unreachable, HTTP error, timeout, a file with problems) marks the
  source failing with the reason, shown on the live dashboard and in the admin,
  and records the failure in the history; the same failure again only counts
  ``repeats`` on that history row. The next check that imports clears it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from hallboard.imports.errors import ImportFileError, Problem
from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.plan import ImportOptions
from hallboard.imports.service import run_import
from hallboard.imports.sources import Fetched, fetch_url, read_folder

logger = logging.getLogger("hallboard.imports.watch")

#: Shortest interval a source may be checked at.
MIN_INTERVAL_SECONDS = 10
#: After a "busy" folder (files still being written), the next check comes this soon.
BUSY_RETRY_SECONDS = 3


def allowed_folder(location: str) -> bool:
    """Is this folder inside one of ``IMPORT_FOLDERS`` (an operator's choice, not a user's)?"""
    try:
        path = Path(location).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(path.is_relative_to(Path(root).resolve()) for root in settings.IMPORT_FOLDERS)


@dataclass
class CheckResult:
    """What one check did: "imported", "unchanged", "not_modified", "busy" or "failed"."""

    outcome: str
    run: ImportRun | None = None
    reason: str = ""


def claim(source: WatchedSource, now: dt.datetime) -> bool:
    """Take the check that is due for ``source``; False if another process took it."""
    interval = max(MIN_INTERVAL_SECONDS, source.interval_seconds)
    taken = (
        WatchedSource.objects.filter(pk=source.pk, enabled=True)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        .update(next_check_at=now + dt.timedelta(seconds=interval))
    )
    return taken == 1


def fetch(source: WatchedSource) -> Fetched:
    if source.kind == WatchedSource.Kind.FOLDER:
        if not allowed_folder(source.location):
            raise ImportFileError(
                [
                    Problem(
                        source.location,
                        "source_unreachable",
                        params={"detail": _("the folder is not among HALLBOARD_IMPORT_FOLDERS")},
                    )
                ]
            )
        return read_folder(Path(source.location), previous_fingerprint=source.fingerprint)
    return fetch_url(
        source.location,
        etag=source.etag,
        last_modified=source.last_modified,
        previous_fingerprint=source.fingerprint,
    )


def check_source(source: WatchedSource, *, now: dt.datetime | None = None) -> CheckResult:
    """Check one source now (whether due or not) and import what changed."""
    now = now or timezone.now()
    source.checks += 1
    source.last_checked_at = now
    fields = ["checks", "last_checked_at"]
    try:
        fetched = fetch(source)
    except ImportFileError as exc:
        result = _failed(source, exc.problems, now)
        # start afresh next time: no conditional request, no fingerprint to match
        source.etag = source.last_modified = source.fingerprint = ""
        fields += ["etag", "last_modified", "fingerprint"]
        source.save(update_fields=[*fields, *_FAILURE_FIELDS])
        return result
    if fetched.busy:
        source.next_check_at = now + dt.timedelta(seconds=BUSY_RETRY_SECONDS)
        source.save(update_fields=[*fields, "next_check_at"])
        return CheckResult("busy")
    if fetched.not_modified:
        if fetched.etag or fetched.last_modified:
            source.etag, source.last_modified = fetched.etag, fetched.last_modified
            fields += ["etag", "last_modified"]
        source.save(update_fields=fields)
        return CheckResult("not_modified")
    outcome = run_import(
        source.school,
        fetched.files,
        origin=ImportRun.Origin.WATCH,
        format=source.format,
        options=ImportOptions(unknown=source.unknown),
        source=source.location,
    )
    # What was handled is remembered even when the import failed: the same bad export
    # is not imported again and again; the failure stays until the source changes.
    source.etag, source.last_modified = fetched.etag, fetched.last_modified
    source.fingerprint = fetched.fingerprint
    fields += ["etag", "last_modified", "fingerprint"]
    if not outcome.ok:
        _mark_failing(source, outcome.problems[0] if outcome.problems else None, now)
        source.save(update_fields=[*fields, *_FAILURE_FIELDS])
        return CheckResult("failed", outcome.run, source.last_error)
    source.last_imported_at = now
    source.failing_since = None
    source.last_error_code = source.last_error = ""
    source.save(update_fields=[*fields, "last_imported_at", *_FAILURE_FIELDS])
    return CheckResult("imported" if outcome.changed else "unchanged", outcome.run)


_FAILURE_FIELDS = ["failing_since", "last_error_code", "last_error"]


def _mark_failing(source: WatchedSource, problem: Problem | None, now: dt.datetime) -> None:
    if source.failing_since is None:
        source.failing_since = now
    source.last_error_code = problem.code if problem else "failed"
    source.last_error = str(problem)[:500] if problem else ""


def _failed(source: WatchedSource, problems: list[Problem], now: dt.datetime) -> CheckResult:
    """A source that could not be read: failing, and in the history once per reason."""
    first = problems[0]
    same = (
        source.failing_since is not None
        and source.last_error_code == first.code
        and source.last_error == str(first)[:500]
    )
    _mark_failing(source, first, now)
    logger.warning("watched source of %s failing: %s", source.school.slug, first)
    last = (
        ImportRun.objects.filter(
            school=source.school, origin=ImportRun.Origin.WATCH, source=source.location[:300]
        )
        .defer("upload")
        .first()
    )
    if same and last is not None and last.status == ImportRun.Status.FAILED:
        ImportRun.objects.filter(pk=last.pk).update(repeats=last.repeats + 1, finished_at=now)
        return CheckResult("failed", last, source.last_error)
    run = ImportRun.objects.create(
        school=source.school,
        origin=ImportRun.Origin.WATCH,
        source=source.location[:300],
        format=source.format,
        status=ImportRun.Status.FAILED,
        problems=[p.as_dict() for p in problems],
        started_at=now,
        finished_at=now,
    )
    return CheckResult("failed", run, source.last_error)


def run_due(now: dt.datetime | None = None) -> list[tuple[WatchedSource, CheckResult]]:
    """Check every enabled source that is due and that this process claims."""
    now = now or timezone.now()
    due = WatchedSource.objects.filter(enabled=True).filter(
        Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)
    )
    done = []
    for source in due.select_related("school").order_by("next_check_at", "pk"):
        if not claim(source, now):
            continue
        source.refresh_from_db()
        try:
            done.append((source, check_source(source, now=now)))
        except Exception:  # one source's bug must not stop the others' checks
            logger.exception("checking the watched source of %s failed", source.school.slug)
    return done


class Watcher(threading.Thread):
    """The scheduler: every ``IMPORT_WATCH_TICK_SECONDS``, the sources that are due."""

    def __init__(self, stop: threading.Event, tick: float | None = None) -> None:
        super().__init__(name="hallboard-import-watch", daemon=True)
        self.stop = stop
        self.tick = tick if tick is not None else settings.IMPORT_WATCH_TICK_SECONDS

    def run(self) -> None:
        logger.info("watching import sources every %.0f s", self.tick)
        said = ""
        while not self.stop.is_set():
            try:
                close_old_connections()
                run_due()
                said = ""
            except Exception as exc:  # the database away for a moment: try again next tick
                if str(exc) != said:  # one line per new reason, not one per tick
                    said = str(exc)
                    logger.warning("import watch pass failed: %s", said[:300])
            finally:
                close_old_connections()
            self.stop.wait(self.tick)


def start_thread(stop: threading.Event) -> Watcher | None:
    """The scheduler in this process, unless ``HALLBOARD_IMPORT_WATCH`` turns it off."""
    if not settings.IMPORT_WATCH:
        return None
    watcher = Watcher(stop)
    watcher.start()
    return watcher
