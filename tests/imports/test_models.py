"""The import history's record: the real start of an import, and its columns told apart in
German."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from django.utils import timezone

from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.watch import check_source
from tests.conftest import Tenant, make_user, signed_in

from .conftest import fixture_bytes
from .test_service import do, prepare


def test_a_run_records_when_it_began_not_when_it_was_saved(tenant: Tenant) -> None:
    """An import's start is taken as it begins: before what happens during it, and never
    after its finish (the record itself is written only at the end)."""
    school = prepare(tenant.school)
    during: list[dt.datetime] = []
    outcome = do(
        school,
        [("GPU001.TXT", fixture_bytes("gpu001.txt"))],
        progress=lambda *_args: during.append(timezone.now()),
    )
    run = ImportRun.objects.get(pk=outcome.run.pk)
    assert during
    assert run.finished_at is not None
    assert run.started_at <= min(during) <= max(during) <= run.finished_at


def test_german_history_heads_by_and_source_apart(tenant: Tenant) -> None:
    """In the German admin the history's "by" and "source" columns have different headings."""
    school = prepare(tenant.school)
    ImportRun.objects.create(school=school, origin="cli", status="applied", source="GPU001.TXT")
    client = signed_in(make_user("tt", "timetabler", school=school))
    client.cookies["django_language"] = "de"
    page = client.get("/admin/imports/importrun/").content.decode()
    texts = {}
    for name in ("by", "source"):
        head = rf'<th scope="col"\s+class="[^"]*column-{name}[^"]*">(.*?)</th>'
        match = re.search(head, page, re.S)
        assert match is not None, name
        texts[name] = re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()
    assert texts["by"] != texts["source"]
    assert texts["by"].lower() == "ausgeführt von"
    assert texts["source"].lower() == "quelle"


def test_a_failed_check_of_a_watched_source_starts_when_it_was_checked(
    tenant: Tenant, tmp_path: Path, settings: Any
) -> None:
    """A watched source that cannot be read is recorded as failed at the moment of its check:
    start and finish both that moment, never a start after the finish."""
    settings.IMPORT_FOLDERS = [str(tmp_path)]
    folder = tmp_path / "untis"
    folder.mkdir()
    source = WatchedSource(school=prepare(tenant.school), kind="folder", location=str(folder))
    source.full_clean()
    source.save()
    folder.rmdir()  # the share is gone
    checked = timezone.now() - dt.timedelta(minutes=5)
    assert check_source(source, now=checked).outcome == "failed"
    run = ImportRun.objects.get(status="failed")
    assert run.started_at == run.finished_at == checked
