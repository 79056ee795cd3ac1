"""The admin's way in: upload one or more files, see the preview, confirm; the history; CSV
templates; watched sources set by school admins."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.schools.models import School
from hallboard.timetable.models import Lesson, Substitution
from tests.conftest import Tenant, make_user, revision_of, signed_in

from .conftest import fixture_bytes
from .test_service import prepare

UPLOAD = "/admin/imports/importrun/upload/"


def upload(client: Client, school: School, *names: str, **fields: str) -> object:
    files = [SimpleUploadedFile(name, fixture_bytes(fixture)) for name, fixture in names]
    return client.post(
        UPLOAD,
        {"school": school.pk, "upload": files, "format": "auto", "unknown": "create", **fields},
    )


def test_upload_preview_confirm(tenant: Tenant) -> None:
    """A timetabler uploads two files: the preview lists what would change and changes
    nothing; Confirm imports them in one revision bump and shows the result."""
    school = prepare(tenant.school)
    client = signed_in(make_user("tt", "timetabler", school=school))
    before = revision_of(school)
    answer = upload(
        client, school, ("GPU001.TXT", "gpu001.txt"), ("GPU014.TXT", "gpu014_comma_utf8.txt")
    )
    assert answer.status_code == 302
    preview_url = answer["Location"]
    page = client.get(preview_url).content.decode()
    assert "Preview of the import" in page
    assert 'id="import-confirm"' in page
    assert re.search(r"<td>Substitutions</td><td>6</td>", page)
    assert revision_of(school) == before
    assert not Lesson.objects.exists()
    confirmed = client.post(preview_url, {"confirm": "1"})
    assert confirmed.status_code == 302
    done = client.get(confirmed["Location"]).content.decode()
    assert "Imported: revision" in done
    assert Substitution.objects.filter(school=school).count() == 6
    assert revision_of(school) == before + 1
    runs = list(ImportRun.objects.order_by("pk").values_list("status", "origin", "user__username"))
    assert runs == [("preview", "admin", "tt"), ("applied", "admin", "tt")]
    assert ImportRun.objects.filter(upload__isnull=False).count() == 0
    # the preview is spent: no second confirmation
    assert client.post(preview_url, {"confirm": "1"}).status_code == 403


def test_a_bad_file_shows_its_problems_and_no_confirm(tenant: Tenant) -> None:
    """A file with problems: the page lists file, line, field; there is nothing to confirm."""
    school = prepare(tenant.school)
    client = signed_in(make_user("tt", "timetabler", school=school))
    answer = upload(client, school, ("GPU014.TXT", "bad/gpu014_bad_values.txt"))
    page = client.get(answer["Location"]).content.decode()
    assert 'id="import-problems"' in page
    assert "GPU014.TXT" in page
    assert 'id="import-confirm"' not in page


def test_only_timetablers_and_admins_import(tenant: Tenant) -> None:
    """An office member cannot open the upload form; the school list holds only schools the
    user may import into."""
    office = signed_in(make_user("office", "office", school=tenant.school))
    assert office.get(UPLOAD).status_code == 403
    client = signed_in(make_user("tt", "timetabler", school=tenant.school))
    page = client.get(UPLOAD).content.decode()
    assert tenant.school.name in page
    assert tenant.other_school.name not in page
    refused = upload(client, tenant.other_school, ("GPU001.TXT", "gpu001.txt"))
    assert refused.status_code == 200  # the form again, with the choice refused
    assert not ImportRun.objects.exists()


def test_history_lists_imports_of_visible_schools(tenant: Tenant) -> None:
    """The history shows the user's schools' imports with their time in school time."""
    school = prepare(tenant.school)
    client = signed_in(make_user("tt", "timetabler", school=school))
    upload(client, school, ("GPU001.TXT", "gpu001.txt"))
    ImportRun.objects.create(school=tenant.other_school, origin="cli", status="applied")
    page = client.get("/admin/imports/importrun/").content.decode()
    assert "Import files" in page
    assert page.count('class="field-status"') == 1  # one row: this school's preview
    assert tenant.other_school.name not in page


def test_csv_templates_download(tenant: Tenant) -> None:
    """Both CSV templates download from the upload page."""
    client = signed_in(make_user("tt", "timetabler", school=tenant.school))
    lessons = client.get("/admin/imports/importrun/template/lessons/")
    assert lessons["Content-Disposition"] == 'attachment; filename="hallboard-lessons.csv"'
    assert lessons.content.startswith(b"id,weekday,lesson")
    assert client.get("/admin/imports/importrun/template/other/").status_code == 404


def test_watched_sources_are_set_by_school_admins(
    tenant: Tenant, tmp_path: object, settings: object
) -> None:
    """A timetabler may not set the watched source (it reaches the network); an admin may,
    within the allowed folders."""
    settings.IMPORT_FOLDERS = [str(tmp_path)]  # type: ignore[attr-defined]
    timetabler = signed_in(make_user("tt", "timetabler", school=tenant.school))
    assert timetabler.get("/admin/imports/watchedsource/add/").status_code == 403
    admin = signed_in(make_user("boss", "admin", school=tenant.school))
    form = {
        "school": tenant.school.pk,
        "kind": "folder",
        "location": "/etc",
        "format": "auto",
        "unknown": "create",
        "interval_seconds": 60,
        "enabled": "on",
    }
    refused = admin.post("/admin/imports/watchedsource/add/", form)
    assert refused.status_code == 200
    assert "HALLBOARD_IMPORT_FOLDERS" in refused.content.decode()
    form["location"] = str(tmp_path)
    assert admin.post("/admin/imports/watchedsource/add/", form).status_code == 302
    assert WatchedSource.objects.get().location == str(tmp_path)


def test_history_names_the_zone_of_each_schools_time(tenant: Tenant) -> None:
    """An admin of schools in Berlin and London: each start time in the history is in its
    school's zone and says which (the page spans zones)."""
    import datetime as dt

    london = tenant.other_school
    School.objects.filter(pk=london.pk).update(timezone="Europe/London")
    admin = make_user("root", superuser=True)
    at = dt.datetime(2026, 11, 30, 21, 35, tzinfo=dt.UTC)
    for school in (tenant.school, School.objects.get(pk=london.pk)):
        run = ImportRun.objects.create(school=school, origin="cli", status="applied")
        ImportRun.objects.filter(pk=run.pk).update(started_at=at)
    page = signed_in(admin).get("/admin/imports/importrun/").content.decode()
    assert "2026-11-30 22:35 CET" in page  # Berlin
    assert "2026-11-30 21:35 GMT" in page  # London
