"""``/api/v1/schools/{slug}/imports``: import files, read the history, the watched source's state.

``POST`` takes the files as ``multipart/form-data`` (field ``files``, repeated)
and answers the summary and the difference; with ``dry_run=true`` nothing is
changed. Importing needs the timetable right (roles admin and timetabler);
reading the history and the watched source's state, the view right. The CSV
templates are at ``/api/v1/import-templates/{kind}``. docs/api.md and
docs/import.md describe the answers.
"""

# No `from __future__ import annotations`: ninja builds its schemas from the annotations.

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile

from hallboard.api.errors import ApiError, not_found
from hallboard.api.scoping import principal, school_for
from hallboard.imports.detect import FAMILIES
from hallboard.imports.hallboard_csv import template
from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.plan import UNKNOWN_POLICIES, ImportOptions
from hallboard.imports.records import FileKind
from hallboard.imports.service import MAX_UPLOAD_BYTES, run_import
from hallboard.imports.text import MAX_FILE_BYTES
from hallboard.schools.access import Right

router = Router(tags=["imports"])

#: Imports the history listing returns at most.
HISTORY_LIMIT = 100


class ErrorOut(Schema):
    error: str = Field(description="A stable code, e.g. import_failed, forbidden, not_found.")
    detail: Any = Field(
        description="For import_failed: a list of {file, line, field, code, message}."
    )


class ProblemOut(Schema):
    file: str
    line: int | None
    field: str | None
    code: str
    message: str


class CountsOut(Schema):
    added: int
    changed: int
    removed: int
    unchanged: int
    conflicts: int


class ImportOut(Schema):
    id: int | None = Field(description="The import in the history (null if not recorded).")
    school: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    user: str | None
    origin: str = Field(description="admin, cli, api or watch.")
    source: str = Field(description="File names, folder or address.")
    format: str
    dry_run: bool
    status: str = Field(
        description="applied (the school's revision went up once), unchanged (the same "
        "files again: nothing written, no revision bump), preview (a dry run), failed."
    )
    summary: dict[str, Any] = Field(
        description="files (each with how it was read: encoding, separator, quoting), "
        "records, skipped, notes, unknown (per kind: code → count), unknown_policy, "
        "counts (per kind: added, changed, removed, unchanged, conflicts), days."
    )
    difference: dict[str, dict[str, list[dict[str, Any]]]] = Field(
        default_factory=dict,
        description="Per kind: added, changed, removed, conflicts; each item "
        "{key, what, at, fields: {name: [old, new]}, reason}. At most 200 per list.",
    )
    problems: list[ProblemOut]
    revision_before: int | None
    revision_after: int | None
    repeats: int


class SourceOut(Schema):
    kind: str = Field(description="folder or url.")
    location: str
    enabled: bool
    interval_seconds: int
    last_checked_at: dt.datetime | None
    last_imported_at: dt.datetime | None
    next_check_at: dt.datetime | None
    failing: bool
    failing_since: dt.datetime | None
    error: str | None = Field(description="A stable code, e.g. source_unreachable.")
    reason: str | None = Field(description="In words, e.g. the server's HTTP status.")


ERRORS = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
}


@router.post(
    "/schools/{slug}/imports",
    response={200: ImportOut, 413: ErrorOut, 422: ErrorOut, **ERRORS},
    summary="Import files",
)
def create_import(
    request: HttpRequest,
    slug: str,
    files: File[list[UploadedFile]],
    dry_run: Form[bool] = False,
    format: Form[Literal[FAMILIES]] = "auto",  # type: ignore[valid-type]
    unknown: Form[Literal[UNKNOWN_POLICIES]] = "create",  # type: ignore[valid-type]
    overwrite_edited: Form[bool] = False,
) -> dict[str, Any]:
    """Import Untis GPU files, Untis monitor pages or hallboard CSV (repeat ``files``).

    All or nothing: a file with problems answers ``422 import_failed`` listing each
    problem's file, line and field, and nothing is changed. Importing the same files
    again changes nothing and does not bump the revision. ``dry_run=true`` answers the
    difference without changing anything. ``unknown``: classes, subjects, teachers and
    rooms not in the master data are created (``create``) or left out with their rows
    (``report``). ``overwrite_edited``: take the import's values also for imported rows
    edited by hand since (otherwise they are conflicts and stay as they are).
    """
    school = school_for(request, slug, Right.TIMETABLE)
    total = 0
    for upload in files:
        size = upload.size or 0
        total += size
        if size > MAX_FILE_BYTES or total > MAX_UPLOAD_BYTES:
            raise ApiError(
                413,
                "too_large",
                f"At most {MAX_FILE_BYTES} bytes per file and {MAX_UPLOAD_BYTES} in all.",
            )
    read = [(upload.name or f"file{n}", upload.read()) for n, upload in enumerate(files)]
    who = principal(request)
    outcome = run_import(
        school,
        read,
        origin=ImportRun.Origin.API,
        format=format,
        dry_run=dry_run,
        options=ImportOptions(unknown=unknown, overwrite_edited=overwrite_edited),
        user=who.user_or_none,
    )
    if not outcome.ok:
        raise ApiError(422, "import_failed", outcome.run.problems)
    return outcome.as_json()


@router.get(
    "/schools/{slug}/imports", response={200: list[ImportOut], **ERRORS}, summary="Import history"
)
def list_imports(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    """The school's latest imports, newest first (without their differences)."""
    school = school_for(request, slug)
    runs = ImportRun.objects.filter(school=school).select_related("school", "user")
    out = []
    for run in runs.defer("upload")[:HISTORY_LIMIT]:
        item = run.as_json()
        item["summary"] = {k: v for k, v in item["summary"].items() if k != "difference"}
        out.append(item)
    return out


@router.get(
    "/schools/{slug}/imports/source",
    response={200: SourceOut, **ERRORS},
    summary="Watched source",
)
def watched_source(request: HttpRequest, slug: str) -> dict[str, Any]:
    """The school's watched folder or address and what its last check found."""
    school = school_for(request, slug)
    source = WatchedSource.objects.filter(school=school).first()
    if source is None:
        raise not_found("watched source")
    return source.status_json()


@router.get(
    "/schools/{slug}/imports/{pk}",
    response={200: ImportOut, 422: ErrorOut, **ERRORS},
    summary="One import",
)
def get_import(request: HttpRequest, slug: str, pk: int) -> dict[str, Any]:
    """One import of the history, with its difference (up to 50 rows per list)."""
    school = school_for(request, slug)
    if not 0 < pk < 2**63:
        raise not_found("import")
    run = ImportRun.objects.filter(school=school, pk=pk).select_related("school", "user").first()
    if run is None:
        raise not_found("import")
    item = run.as_json()
    item["difference"] = item["summary"].pop("difference", {})
    return item


@router.get(
    "/import-templates/{kind}",
    response={200: str, 422: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    summary="CSV template",
    openapi_extra={"responses": {200: {"description": "A CSV file.", "content": {"text/csv": {}}}}},
)
def csv_template(request: HttpRequest, kind: Literal["lessons", "substitutions"]) -> HttpResponse:
    """A hallboard CSV template with its header and two example rows (docs/import.md)."""
    file_kind = FileKind.CSV_LESSONS if kind == "lessons" else FileKind.CSV_SUBSTITUTIONS
    response = HttpResponse(template(file_kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="hallboard-{kind}.csv"'
    return response
