"""Watched sources on a schedule: imported when changed, skipped when not, failures with their
reason in the history and on the live dashboard, one process per check, and a GPU014 dropped
in a watched folder reaching a screen's snapshot."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.watch import check_source, claim, run_due
from hallboard.schools.models import School
from hallboard.timetable.models import Lesson, Substitution
from tests.conftest import Tenant, make_screen, make_user, revision_of, signed_in
from tests.display.conftest import ScreenClient

from .conftest import fixture_bytes
from .test_service import prepare

GPU001 = fixture_bytes("gpu001.txt")
GPU014 = fixture_bytes("gpu014_comma_utf8.txt")


def settle(folder: Path) -> None:
    """Date the files back a minute: the export finished a while ago."""
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))


@pytest.fixture
def share(tmp_path: Path, settings: Any) -> Path:
    """A folder the operator allows for imports."""
    settings.IMPORT_FOLDERS = [str(tmp_path)]
    folder = tmp_path / "untis"
    folder.mkdir()
    return folder


@pytest.fixture
def school(tenant: Tenant) -> School:
    return prepare(tenant.school)


def folder_source(school: School, folder: Path) -> WatchedSource:
    source = WatchedSource(school=school, kind="folder", location=str(folder))
    source.full_clean()
    source.save()
    return source


def test_a_folder_is_imported_when_it_changes_and_only_then(school: School, share: Path) -> None:
    """First check imports (history: origin watch); the same files again are not imported
    at all; a re-exported GPU014 is, and changes what changed."""
    (share / "GPU001.TXT").write_bytes(GPU001)
    (share / "GPU014.TXT").write_bytes(GPU014)
    settle(share)
    source = folder_source(school, share)
    first = check_source(source)
    assert first.outcome == "imported"
    assert first.run is not None
    assert first.run.origin == ImportRun.Origin.WATCH
    assert first.run.source == str(share)
    assert Substitution.objects.filter(school=school).count() == 6
    revision = revision_of(school)
    assert check_source(source).outcome == "not_modified"
    assert ImportRun.objects.count() == 1
    assert revision_of(school) == revision
    (share / "GPU014.TXT").write_bytes(GPU014.replace(b'"MUE","SCH"', b'"MUE","KRA"'))
    settle(share)
    again = check_source(source)
    assert again.outcome == "imported"
    assert again.run is not None
    assert again.run.summary["counts"]["substitutions"]["changed"] == 1
    assert revision_of(school) == revision + 1


def test_a_folder_being_written_is_checked_again_soon(school: School, share: Path) -> None:
    """Files modified a moment ago: "busy", nothing imported, the next check comes sooner."""
    (share / "GPU014.TXT").write_bytes(GPU014)
    source = folder_source(school, share)
    result = check_source(source)
    assert result.outcome == "busy"
    assert not Substitution.objects.exists()
    assert source.next_check_at is not None


def test_folders_outside_the_allowed_ones_are_refused(school: School, share: Path) -> None:
    """A school admin cannot point a source at any folder of the server."""
    source = WatchedSource(school=school, kind="folder", location="/etc")
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert "location" in caught.value.message_dict
    source.save()  # as if saved past the form: the check refuses it too
    result = check_source(source)
    assert result.outcome == "failed"
    assert "HALLBOARD_IMPORT_FOLDERS" in source.last_error


def test_a_bad_export_fails_once_and_stays_failing_until_fixed(school: School, share: Path) -> None:
    """A file with problems: the source is failing with the file, line and field as reason;
    the same bad files are not imported again; a fixed export clears it."""
    (share / "GPU014.TXT").write_bytes(fixture_bytes("bad/gpu014_bad_values.txt"))
    settle(share)
    source = folder_source(school, share)
    assert check_source(source).outcome == "failed"
    assert source.failing
    assert source.last_error.startswith("GPU014.TXT, line")
    assert check_source(source).outcome == "not_modified"
    assert source.failing
    assert ImportRun.objects.filter(status="failed").count() == 1
    (share / "GPU014.TXT").write_bytes(GPU014)
    settle(share)
    assert check_source(source).outcome == "imported"
    source.refresh_from_db()
    assert not source.failing
    assert source.last_error == ""


class _Plan(BaseHTTPRequestHandler):
    """Serves one GPU014 with an ETag; answers 304 to If-None-Match; fails when told to."""

    body = GPU014
    status = 200
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        etag = f'"{hash(self.body) & 0xFFFF}"'
        if self.status != 200:
            self.send_response(self.status)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def plan_server() -> Iterator[str]:
    _Plan.body, _Plan.status, _Plan.seen = GPU014, 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plan)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/GPU014.TXT"
    server.shutdown()
    server.server_close()


def test_an_address_is_fetched_with_conditional_requests(school: School, plan_server: str) -> None:
    """The second check sends If-None-Match and gets 304: nothing imported, nothing recorded.
    A server error makes the source failing with the status as reason, once in the history."""
    source = WatchedSource.objects.create(school=school, kind="url", location=plan_server)
    assert check_source(source).outcome == "imported"
    assert check_source(source).outcome == "not_modified"
    assert _Plan.seen[-1].get("If-None-Match")
    assert ImportRun.objects.count() == 1
    _Plan.status = 503
    assert check_source(source).outcome == "failed"
    assert check_source(source).outcome == "failed"
    failed = ImportRun.objects.get(status="failed")
    assert failed.repeats == 1
    assert source.last_error_code == "source_http_error"
    assert "503" in source.last_error


def test_a_failing_source_shows_on_the_live_dashboard(tenant: Tenant, school: School) -> None:
    """The school's dashboard names the failing source and its reason."""
    WatchedSource.objects.create(
        school=school,
        kind="url",
        location="http://127.0.0.1:9/subst_001.htm",
        failing_since=dt.datetime(2026, 9, 14, 5, 10, tzinfo=dt.UTC),
        last_checked_at=dt.datetime(2026, 9, 14, 5, 20, tzinfo=dt.UTC),
        last_error_code="source_unreachable",
        last_error="The source cannot be read: Connection refused.",
    )
    admin = make_user("boss", "admin", school=school)
    page = signed_in(admin).get(f"/staff/schools/{school.slug}/")
    text = page.content.decode()
    assert "Watched source failing since 14.09. 07:10" in text  # school time (Berlin)
    assert "Connection refused" in text
    assert "imports/source_status.js" in text


def test_a_due_check_is_taken_by_one_process_only(school: School, share: Path) -> None:
    """Two schedulers see the same due source: one claim wins, the other does nothing."""
    source = folder_source(school, share)
    now = dt.datetime.now(dt.UTC)
    assert claim(source, now)
    assert not claim(source, now)
    later = now + dt.timedelta(seconds=source.interval_seconds + 1)
    assert claim(source, later)


def test_watch_once_checks_every_source(school: School, share: Path) -> None:
    """`hallboard watch --once` checks each enabled source now and says how it went."""
    (share / "GPU001.TXT").write_bytes(GPU001)
    settle(share)
    folder_source(school, share)
    call_command("watch", "--once")
    assert Lesson.objects.filter(school=school).exists()
    WatchedSource.objects.update(location="/nowhere", kind="url")
    with pytest.raises(CommandError):
        call_command("watch", "--once", "--school", school.slug)


def test_a_gpu014_dropped_in_a_watched_folder_reaches_the_screen(
    school: School, share: Path, freeze: Callable[[dt.datetime], None]
) -> None:
    """End to end: the timetable imported, a screen showing Monday; an Untis export of
    GPU014 lands in the share; the scheduler's pass imports it and the screen's snapshot
    shows period 3 of 7a with SCH instead of MUE."""
    (share / "GPU001.TXT").write_bytes(GPU001)
    settle(share)
    folder_source(school, share)
    run_due()
    freeze(dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC))  # Monday 08:00 in Berlin
    _, token = make_screen(school)
    screen = ScreenClient(token)
    before = screen.get("snapshot").json()
    slot = next(s for s in before["day"]["slots"] if s["period"] == 3 and s["classes"] == ["7a"])
    assert slot["change"] is None
    (share / "GPU014.TXT").write_bytes(GPU014)
    settle(share)
    WatchedSource.objects.update(next_check_at=None)  # due now
    [(_, result)] = run_due()
    assert result.outcome == "imported"
    after = screen.get("snapshot").json()
    assert after["meta"]["rev"] == before["meta"]["rev"] + 1
    slot = next(s for s in after["day"]["slots"] if s["period"] == 3 and s["classes"] == ["7a"])
    assert slot["change"]["kind"] == "substitute"
    assert slot["regular"]["teachers"] == ["MUE"]
    assert slot["now"]["teachers"] == ["SCH"]
    assert slot["changed"] == ["teachers"]
