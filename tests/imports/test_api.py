"""Imports through the API: multipart upload, dry run, summary and difference, all or nothing,
role checks, history, CSV templates, the watched source's state, every status documented."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from hallboard.api.models import ApiKey
from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.timetable.models import Lesson, Period, Substitution
from tests.conftest import KeyFactory, Tenant, revision_of
from tests.imports.conftest import fixture_bytes

GPU001 = b'5012,"7a","MUE","MA","R101",1,1,,\n5013,"8b","MUE","MA","R102",1,2,,\n'
GPU014 = (
    b'101,"20260914",1,,5012,"MUE","SCH","MA",,"MA",,"R101","R101",,"7a",'
    b'"","",0,"7a","",202609140712,\n'
)


def post(secret: str, slug: str = "alpha", files: Any = None, **form: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    uploads = [
        SimpleUploadedFile(name, data)
        for name, data in (files or [("GPU001.TXT", GPU001), ("GPU014.TXT", GPU014)])
    ]
    return Client().post(
        f"/api/v1/schools/{slug}/imports",
        {"files": uploads, **form},
        headers={"Authorization": f"Bearer {secret}"},
    )


def key(tenant: Tenant, role: str) -> str:
    _, secret = ApiKey.create(
        name=f"t {role}", organisation=tenant.organisation, school=tenant.school, role=role
    )
    return secret


def test_upload_applies_and_answers_summary_and_difference(tenant: Tenant) -> None:
    """A timetabler uploads GPU001 and GPU014: 200 applied, counts and difference per kind,
    one revision bump; the same files again: unchanged, no bump."""
    secret = key(tenant, "timetabler")
    before = revision_of(tenant.school)
    answer = post(secret)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "applied"
    assert body["origin"] == "api"
    assert body["summary"]["counts"]["lessons"]["added"] == 2
    assert body["summary"]["files"][0]["read_as"]["separator"] == "comma"
    assert [i["what"] for i in body["difference"]["substitutions"]["added"]] == [
        "2026-09-14 1 · 7a MA · substitute · → SCH"
    ]
    assert revision_of(tenant.school) == before + 1
    assert body["revision_after"] == before + 1
    again = post(secret).json()
    assert again["status"] == "unchanged"
    assert revision_of(tenant.school) == before + 1


def test_dry_run_changes_nothing(tenant: Tenant) -> None:
    """dry_run=true: status preview, the difference, nothing written."""
    answer = post(key(tenant, "admin"), dry_run="true")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "preview"
    assert len(answer.json()["difference"]["lessons"]["added"]) == 2
    assert not Lesson.objects.exists()


def test_bad_files_answer_422_with_file_line_and_field(tenant: Tenant) -> None:
    """A truncated file: 422 import_failed listing file, line, field; nothing changed."""
    before = revision_of(tenant.school)
    answer = post(
        key(tenant, "timetabler"),
        files=[("GPU001.TXT", GPU001), ("GPU014.TXT", fixture_bytes("bad/gpu014_bad_values.txt"))],
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "import_failed"
    assert body["detail"][0]["file"] == "GPU014.TXT"
    assert body["detail"][0]["line"] >= 1
    assert body["detail"][0]["field"]
    assert revision_of(tenant.school) == before
    assert not Lesson.objects.exists()
    assert ImportRun.objects.get().status == "failed"


def test_roles_other_than_timetabler_and_admin_are_refused(tenant: Tenant) -> None:
    """Office and viewer keys get 403; another organisation's school is 404; no key is 401."""
    assert post(key(tenant, "office")).status_code == 403
    assert post(key(tenant, "viewer")).status_code == 403
    assert post(key(tenant, "timetabler"), slug="nowhere").status_code == 404
    assert Client().post("/api/v1/schools/alpha/imports").status_code == 401
    assert not Lesson.objects.exists()


def test_options_unknown_report_and_format(tenant: Tenant) -> None:
    """unknown=report leaves out rows naming unknown codes; format=csv refuses GPU files."""
    Period.objects.create(
        school=tenant.school, number=3, starts_at=dt.time(10), ends_at=dt.time(11)
    )
    answer = post(
        key(tenant, "timetabler"),
        files=[("GPU001.TXT", b'1,"7a","NEU","MA","",1,1,,\n2,"7a","MUE","MA","",1,2,,\n')],
        unknown="report",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["summary"]["unknown"] == {"teachers": {"NEU": 1}}
    assert Lesson.objects.count() == 1
    wrong = post(key(tenant, "timetabler"), format="csv")
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["code"] == "unknown_format"  # not hallboard CSV
    bad_option = post(key(tenant, "timetabler"), unknown="ignore")
    assert bad_option.status_code == 422
    assert bad_option.json()["error"] == "validation_error"


def test_history_and_one_import(tenant: Tenant, api_as: KeyFactory) -> None:
    """The history lists imports newest first, for any role; one import carries its
    difference; another school's import is 404."""
    post(key(tenant, "timetabler"))
    viewer = api_as("viewer")
    history = viewer.get("schools/alpha/imports")
    assert history.status_code == 200
    run = history.json()[0]
    assert (run["status"], run["origin"], run["user"]) == ("applied", "api", None)
    one = viewer.get(f"schools/alpha/imports/{run['id']}")
    assert one.json()["difference"]["lessons"]["added"]
    assert (
        api_as("viewer", school=tenant.other_school)
        .get(f"schools/beta/imports/{run['id']}")
        .status_code
        == 404
    )
    assert viewer.get("schools/alpha/imports/99999999").status_code == 404


def test_csv_templates(api_as: KeyFactory) -> None:
    """The templates are CSV files with the documented header and two rows; an unknown kind
    is 422."""
    client = api_as("viewer")
    lessons = client.get("import-templates/lessons")
    assert lessons.status_code == 200
    assert lessons["Content-Type"].startswith("text/csv")
    assert lessons.content.decode().splitlines()[0].startswith("id,weekday,lesson,class")
    assert len(lessons.content.decode().splitlines()) == 3
    assert client.get("import-templates/substitutions").content.startswith(b"id,day,lesson")
    assert client.get("import-templates/other").status_code == 422


def test_watched_source_state(tenant: Tenant, api_as: KeyFactory) -> None:
    """The watched source's state with its failure reason; none configured is 404."""
    client = api_as("viewer")
    assert client.get("schools/alpha/imports/source").status_code == 404
    WatchedSource.objects.create(
        school=tenant.school,
        kind="url",
        location="http://127.0.0.1:9/plan/subst_001.htm",
        failing_since=dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC),
        last_error_code="source_http_error",
        last_error="The server answered HTTP 404.",
    )
    state = client.get("schools/alpha/imports/source").json()
    assert state["failing"] is True
    assert state["error"] == "source_http_error"
    assert state["reason"] == "The server answered HTTP 404."


def test_every_answered_status_is_in_the_openapi_document(tenant: Tenant) -> None:
    """Each status the import endpoints answered above is documented for them."""
    from hallboard.api.router import api

    paths = api.get_openapi_schema()["paths"]
    post_codes = set(paths["/api/v1/schools/{slug}/imports"]["post"]["responses"])
    assert {200, 401, 403, 404, 413, 422} <= {int(c) for c in post_codes}
    get_codes = set(paths["/api/v1/schools/{slug}/imports/{pk}"]["get"]["responses"])
    assert {200, 401, 404, 422} <= {int(c) for c in get_codes}
    template_codes = set(paths["/api/v1/import-templates/{kind}"]["get"]["responses"])
    assert {200, 401, 422} <= {int(c) for c in template_codes}


def test_a_file_over_the_limit_is_413(tenant: Tenant, settings: Any) -> None:
    """A file larger than the per-file limit is refused before it is read: 413 too_large."""
    from hallboard.imports import api as imports_api

    original = imports_api.MAX_FILE_BYTES
    imports_api.MAX_FILE_BYTES = 10
    try:
        answer = post(key(tenant, "timetabler"))
    finally:
        imports_api.MAX_FILE_BYTES = original
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    assert not Substitution.objects.exists()
