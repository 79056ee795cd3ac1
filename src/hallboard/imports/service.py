"""One import, whichever way it came in: read, plan, apply (unless a dry run), record.

``run_import`` is what the admin, the CLI, the API, the watched sources and the
demo call. It reads the files (``hallboard.imports.bundle``), works out the
difference (``hallboard.imports.plan``) and, unless it is a dry run, applies it
(``hallboard.imports.apply``), all inside one transaction that first locks the
school's row: two imports of one school never interleave, and a bad file or a
row that cannot be mapped changes nothing. Every import is recorded in the
history (``ImportRun``) with who, when, from where, the summary and the problems.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from hallboard.imports.apply import apply_plan
from hallboard.imports.bundle import MAX_FILES, read_files
from hallboard.imports.detect import FAMILIES
from hallboard.imports.errors import ImportFileError, Problem
from hallboard.imports.models import ImportRun
from hallboard.imports.plan import ImportOptions, Plan, plan_import
from hallboard.imports.text import MAX_FILE_BYTES
from hallboard.imports.untis_html import HtmlOptions
from hallboard.schools.models import School

logger = logging.getLogger("hallboard.imports")

#: Rows of each list the history keeps per import (the API answer carries more).
HISTORY_ITEMS = 50
#: Imports kept in a school's history; older ones are removed.
HISTORY_KEEP = 500
#: Largest upload of one import (all files together).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

Progress = Callable[[str, int, int], None]  # (step, done, total)


@dataclass
class Outcome:
    """What an import did: its history row, and the plan (None if the files were bad)."""

    run: ImportRun
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.run.status != ImportRun.Status.FAILED

    @property
    def changed(self) -> bool:
        return self.run.status == ImportRun.Status.APPLIED

    def difference(self) -> dict[str, Any]:
        return self.plan.difference() if self.plan is not None else {}

    def as_json(self) -> dict[str, Any]:
        out = self.run.as_json()
        out["summary"] = {k: v for k, v in out["summary"].items() if k != "difference"}
        out["difference"] = self.difference()
        return out


def describe_files(files: Sequence[tuple[str, bytes]]) -> str:
    names = ", ".join(name for name, _ in files)
    return names if len(names) <= 300 else names[:297] + "..."


def check_upload(files: Sequence[tuple[str, bytes]]) -> None:
    """Bounds of one import, before anything is parsed (``ImportFileError``)."""
    if not files:
        raise ImportFileError([Problem("-", "source_empty")])
    if len(files) > MAX_FILES:
        raise ImportFileError(
            [Problem(files[MAX_FILES][0], "too_many_files", params={"limit": MAX_FILES})]
        )
    for name, data in files:
        if len(data) > MAX_FILE_BYTES:
            raise ImportFileError([Problem(name, "too_large", params={"limit": MAX_FILE_BYTES})])
    if sum(len(data) for _, data in files) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            [Problem(files[0][0], "too_large", params={"limit": MAX_UPLOAD_BYTES})]
        )


def run_import(
    school: School,
    files: Sequence[tuple[str, bytes]],
    *,
    origin: str,
    format: str = "auto",
    dry_run: bool = False,
    options: ImportOptions | None = None,
    user: Any = None,
    source: str = "",
    html_options: HtmlOptions | None = None,
    progress: Progress | None = None,
    record: bool = True,
) -> Outcome:
    """Import ``files`` (name, bytes) into ``school``: all or nothing, recorded in the history."""
    if format not in FAMILIES:
        raise ValueError(f"format must be one of {FAMILIES}")
    options = options or ImportOptions()
    run = ImportRun(
        school=school,
        started_at=timezone.now(),  # now, not when the record is saved at the end
        user=user if getattr(user, "is_authenticated", False) else None,
        origin=origin,
        source=(source or describe_files(files))[:300],
        format=format,
        dry_run=dry_run,
    )
    outcome = Outcome(run)
    total = len(files)

    def read_progress(name: str) -> None:
        if progress is not None:
            progress("read", read_progress.done, total)  # type: ignore[attr-defined]
        read_progress.done += 1  # type: ignore[attr-defined]

    read_progress.done = 0  # type: ignore[attr-defined]
    try:
        check_upload(files)
        bundle = read_files(files, family=format, html_options=html_options, progress=read_progress)
        if progress is not None:
            progress("read", total, total)
        with transaction.atomic():
            locked = School.objects.select_for_update().get(pk=school.pk)
            run.revision_before = locked.revision
            if progress is not None:
                progress("plan", 0, 1)
            plan = plan_import(locked, bundle, options)
            outcome.plan = plan
            if progress is not None:
                progress("apply", 0, 1)
            changed = False if dry_run else apply_plan(plan)
            if progress is not None:
                progress("apply", 1, 1)
            run.revision_after = School.objects.values_list("revision", flat=True).get(pk=school.pk)
        if dry_run:
            run.status = ImportRun.Status.PREVIEW
        else:
            run.status = ImportRun.Status.APPLIED if changed else ImportRun.Status.UNCHANGED
        summary = plan.summary()
        summary["difference"] = {
            kind: {name: items[:HISTORY_ITEMS] for name, items in lists.items()}
            for kind, lists in plan.difference().items()
        }
        run.summary = summary
    except ImportFileError as exc:
        outcome.problems = list(exc.problems)
        run.status = ImportRun.Status.FAILED
        run.problems = [p.as_dict() for p in exc.problems]
        run.summary = {}
        logger.info(
            "import %s of %s failed: %s", origin, school.slug, exc, extra={"school": school.slug}
        )
    run.finished_at = timezone.now()
    if record:
        run.save()
        _prune(school)
    if run.status == ImportRun.Status.APPLIED:
        logger.info(
            "import %s of %s applied: revision %s → %s",
            origin,
            school.slug,
            run.revision_before,
            run.revision_after,
        )
    return outcome


def _prune(school: School) -> None:
    keep = list(ImportRun.objects.filter(school=school).values_list("pk", flat=True)[:HISTORY_KEEP])
    if len(keep) == HISTORY_KEEP:
        ImportRun.objects.filter(school=school, pk__lt=min(keep)).delete()


# --- files kept between a preview and its confirmation -----------------------------------


def pack(files: Sequence[tuple[str, bytes]]) -> bytes:
    """Files as one zip (kept with a preview until it is confirmed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (name, data) in enumerate(files):
            archive.writestr(f"{n:03d}/{name.replace('/', '_')}", data)
    return buffer.getvalue()


def unpack(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (info.filename.split("/", 1)[1], archive.read(info))
            for info in sorted(archive.infolist(), key=lambda i: i.filename)
        ]
