"""What the import remembers: its history, each school's watched source, the rows it wrote.

- ``ImportRun``: one import (an upload in the admin, the CLI, the API, or a
  check of a watched source that found something new or failed): who, when,
  from where, what it found and changed (``summary``), and its problems.
- ``WatchedSource``: a school's folder or URL checked on a schedule
  (``hallboard.imports.watch``), with what the last check found.
- ``ImportedRow``: a fingerprint of each row an import wrote, as it wrote it.
  A row whose values no longer match its fingerprint was edited by a person
  since, and the next import leaves it alone (docs/import.md, "Manual edits").

None of these is shown on screens: writing them never bumps a school's revision.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hallboard.schools.models import School


class ImportRun(models.Model):
    """One import, from any way in."""

    class Origin(models.TextChoices):
        ADMIN = "admin", _("Admin upload")
        CLI = "cli", _("Command line")
        API = "api", _("API")
        WATCH = "watch", _("Watched source")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        UNCHANGED = "unchanged", _("Nothing changed")
        PREVIEW = "preview", _("Preview (dry run)")
        FAILED = "failed", _("Failed")

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="import_runs", verbose_name=_("school")
    )
    #: When the import began (set by whoever runs it; the record is saved only at its end).
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=pgettext_lazy("import run", "by"),
    )
    origin = models.CharField(_("way in"), max_length=8, choices=Origin.choices)
    source = models.CharField(
        pgettext_lazy("import run", "source"),
        max_length=300,
        blank=True,
        help_text=_("File names, folder or address."),
    )
    format = models.CharField(_("format"), max_length=16, default="auto")
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    revision_before = models.BigIntegerField(null=True, blank=True)
    revision_after = models.BigIntegerField(null=True, blank=True)
    #: A watched source failing the same way again updates its run instead of adding one.
    repeats = models.PositiveIntegerField(_("repeated"), default=0)
    #: The files of an admin preview, until it is confirmed or abandoned (zip).
    upload = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("import")
        verbose_name_plural = _("import history")
        indexes = [models.Index(fields=["school", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.school} {self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {added, changed, removed, unchanged, conflicts}}`` from the summary."""
        value = (self.summary or {}).get("counts", {})
        return value if isinstance(value, dict) else {}

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "school": self.school.slug,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "user": self.user.get_username() if self.user is not None else None,
            "origin": self.origin,
            "source": self.source,
            "format": self.format,
            "dry_run": self.dry_run,
            "status": self.status,
            "summary": self.summary,
            "problems": self.problems,
            "revision_before": self.revision_before,
            "revision_after": self.revision_after,
            "repeats": self.repeats,
        }


class WatchedSource(models.Model):
    """A school's folder or URL that the scheduler checks and imports when it changes."""

    class Kind(models.TextChoices):
        FOLDER = "folder", _("Folder")
        URL = "url", _("Web address (http, https)")

    class Unknown(models.TextChoices):
        CREATE = "create", _("Create them")
        REPORT = "report", _("Report them and leave their rows out")

    school = models.OneToOneField(
        School, on_delete=models.CASCADE, related_name="watched_source", verbose_name=_("school")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    location = models.CharField(
        _("folder or address"),
        max_length=1000,
        help_text=_("A folder on this server (the share Untis exports to) or an http(s) address."),
    )
    format = models.CharField(
        _("format"),
        max_length=16,
        default="auto",
        choices=[
            ("auto", _("Recognise")),
            ("untis-gpu", _("Untis GPU files")),
            ("untis-html", _("Untis monitor pages")),
            ("csv", _("hallboard CSV")),
        ],
    )
    unknown = models.CharField(
        _("unknown classes, teachers, rooms, subjects"),
        max_length=8,
        choices=Unknown.choices,
        default=Unknown.CREATE,
    )
    interval_seconds = models.PositiveIntegerField(
        _("check every (seconds)"), default=60, help_text=_("At least 10.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # what the last checks found (written by the scheduler)
    etag = models.CharField(max_length=300, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True, editable=False)
    last_imported_at = models.DateTimeField(
        _("last imported"), null=True, blank=True, editable=False
    )
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    last_error_code = models.CharField(max_length=40, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)
    checks = models.PositiveBigIntegerField(_("checks"), default=0, editable=False)

    class Meta:
        verbose_name = _("watched source")
        verbose_name_plural = _("watched sources")

    def __str__(self) -> str:
        return f"{self.school}: {self.location}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A changed location or kind is checked afresh (nothing remembered from the old one)."""
        if self.pk is not None and kwargs.get("update_fields") is None:
            old = WatchedSource.objects.filter(pk=self.pk).values("kind", "location").first()
            if old is not None and (old["kind"], old["location"]) != (self.kind, self.location):
                self.etag = self.last_modified = self.fingerprint = ""
                self.next_check_at = None
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from urllib.parse import urlsplit

        from hallboard.imports.watch import MIN_INTERVAL_SECONDS, allowed_folder

        errors: dict[str, Any] = {}
        location = (self.location or "").strip()
        self.location = location
        if self.kind == self.Kind.FOLDER and not allowed_folder(location):
            errors["location"] = _(
                "The folder must lie in one of the folders the operator allows for imports "
                "(HALLBOARD_IMPORT_FOLDERS)."
            )
        if self.kind == self.Kind.URL:
            parts = urlsplit(location)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors["location"] = _("An address starting with http:// or https://.")
        if self.interval_seconds is not None and self.interval_seconds < MIN_INTERVAL_SECONDS:
            errors["interval_seconds"] = _("At least %(seconds)s seconds.") % {
                "seconds": MIN_INTERVAL_SECONDS
            }
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def status_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "enabled": self.enabled,
            "interval_seconds": self.interval_seconds,
            "last_checked_at": self.last_checked_at,
            "last_imported_at": self.last_imported_at,
            "next_check_at": self.next_check_at,
            "failing": self.failing,
            "failing_since": self.failing_since,
            "error": self.last_error_code or None,
            "reason": self.last_error or None,
        }


class ImportedRow(models.Model):
    """The fingerprint of a row as an import last wrote it (for telling manual edits)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)  # "lesson", "substitution", "closure", ...
    object_id = models.BigIntegerField()
    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="unique_imported_row")
        ]
        indexes = [models.Index(fields=["school", "kind", "source"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} ({self.source}:{self.external_id})"
