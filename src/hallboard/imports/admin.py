"""Admin: upload files, preview the difference, confirm; the import history; watched sources.

*Import history* lists every import of the schools a user may see. Its
*Import files* button leads to the upload form: one or more files, the format,
what to do with unknown references. Sending it makes a dry run and shows its
preview (per kind what would be added, changed and removed, the conflicts with
manual edits, the problems); *Confirm* imports the same files for real. The
uploaded files wait with the preview (in the database, so any web process can
confirm it) and are dropped once confirmed, or after a day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from hallboard.imports.hallboard_csv import template
from hallboard.imports.models import ImportRun, WatchedSource
from hallboard.imports.plan import KINDS, ImportOptions
from hallboard.imports.records import FileKind
from hallboard.imports.report import kind_names
from hallboard.imports.service import MAX_UPLOAD_BYTES, pack, run_import, unpack
from hallboard.imports.text import MAX_FILE_BYTES
from hallboard.imports.watch import check_source
from hallboard.schools import zones
from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import School

#: How long an unconfirmed preview keeps its files.
PREVIEW_KEEP = dt.timedelta(days=1)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    school = forms.ModelChoiceField(queryset=School.objects.none(), label=_("school"))
    upload = MultipleFileField(
        label=_("files"),
        help_text=_(
            "Untis GPU files (GPU001.TXT … GPU018.TXT), Untis monitor pages (subst_001.htm …) "
            "or hallboard CSV; several at once."
        ),
    )
    format = forms.ChoiceField(
        label=_("format"),
        choices=[
            ("auto", _("Recognise")),
            ("untis-gpu", _("Untis GPU files")),
            ("untis-html", _("Untis monitor pages")),
            ("csv", _("hallboard CSV")),
        ],
        initial="auto",
    )
    unknown = forms.ChoiceField(
        label=_("classes, teachers, rooms, subjects not in the master data"),
        choices=WatchedSource.Unknown.choices,
        initial=WatchedSource.Unknown.CREATE,
    )
    overwrite_edited = forms.BooleanField(
        label=_("take the import's values also for rows edited by hand since"),
        required=False,
    )

    def clean_upload(self) -> list[Any]:
        files: list[Any] = self.cleaned_data["upload"]
        total = 0
        for upload in files:
            total += upload.size
            if upload.size > MAX_FILE_BYTES or total > MAX_UPLOAD_BYTES:
                raise forms.ValidationError(
                    _("At most %(file)s bytes per file and %(all)s in all.")
                    % {"file": MAX_FILE_BYTES, "all": MAX_UPLOAD_BYTES}
                )
        return files


def _local(value: dt.datetime | None, school: School) -> str:
    if value is None:
        return "-"
    return value.astimezone(school.tz).strftime("%Y-%m-%d %H:%M")


class SchoolFilter(admin.SimpleListFilter):
    """By school, offering only the schools the user may see."""

    title = _("school")
    parameter_name = "school__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        who = principal(request)
        schools = School.objects.all() if who.is_superuser else who.schools(Right.VIEW)
        return [(str(school.pk), school.name) for school in schools.order_by("name")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset.filter(school_id=value) if value and value.isdigit() else queryset


@admin.register(ImportRun)
class ImportRunAdmin(SchoolScopedAdmin):
    right = Right.TIMETABLE
    list_display = ["started", "school", "origin", "by", "source", "status", "changes"]
    list_filter = [SchoolFilter, "status", "origin"]
    list_select_related = ["school", "user"]
    search_fields = ["source"]
    date_hierarchy = "started_at"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("upload")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # imports are made through the upload form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history is a record

    def can_import(self, request: HttpRequest) -> bool:
        who = principal(request)
        return who.is_superuser or who.schools(Right.TIMETABLE).exists()

    @admin.display(description=_("started"), ordering="started_at")
    def started(self, obj: ImportRun) -> str:
        # The history spans schools: a time in another zone than the page's is named with it.
        text = _local(obj.started_at, obj.school)
        if obj.started_at is not None and zones.spans_zones(obj.school.tz):
            text += f" {timezone.localtime(obj.started_at, obj.school.tz).tzname()}"
        return text

    @admin.display(description=pgettext_lazy("import run", "by"))
    def by(self, obj: ImportRun) -> str:
        return obj.user.get_username() if obj.user is not None else obj.get_origin_display()

    @admin.display(description=_("changes"))
    def changes(self, obj: ImportRun) -> str:
        if obj.status == ImportRun.Status.FAILED:
            extra = f" (x{obj.repeats + 1})" if obj.repeats else ""
            return gettext("%(n)s problem(s)") % {"n": len(obj.problems)} + extra
        parts = []
        for kind, row in obj.counts.items():
            moved = row.get("added", 0) + row.get("changed", 0) + row.get("removed", 0)
            if moved:
                parts.append(f"{kind_names().get(kind, kind)} {moved}")
        return ", ".join(parts) or "-"

    # --- the upload, preview and confirm pages ---------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="imports_importrun_upload"),
            path("<int:pk>/preview/", wrap(self.preview_view), name="imports_importrun_preview"),
            path(
                "template/<str:kind>/", wrap(self.template_view), name="imports_importrun_template"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra_context = {**(extra_context or {}), "can_import": self.can_import(request)}
        return super().changelist_view(request, extra_context)

    def _schools(self, request: HttpRequest) -> Any:
        who = principal(request)
        return School.objects.all() if who.is_superuser else who.schools(Right.TIMETABLE)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_import(request):
            raise PermissionDenied
        _drop_stale_previews()
        form = UploadForm(request.POST or None, request.FILES or None)
        field = form.fields["school"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = self._schools(request)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            files = [(f.name, f.read()) for f in data["upload"]]
            outcome = run_import(
                data["school"],
                files,
                origin=ImportRun.Origin.ADMIN,
                format=data["format"],
                dry_run=True,
                options=ImportOptions(
                    unknown=data["unknown"], overwrite_edited=data["overwrite_edited"]
                ),
                user=request.user,
            )
            run = outcome.run
            if outcome.ok:
                ImportRun.objects.filter(pk=run.pk).update(upload=pack(files))
                request.session[f"import-options-{run.pk}"] = {
                    "unknown": data["unknown"],
                    "overwrite_edited": data["overwrite_edited"],
                }
            return redirect("admin:imports_importrun_preview", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import files"),
            "form": form,
            "opts": self.model._meta,
            "templates": [
                ("lessons", gettext("Lessons (CSV template)")),
                ("substitutions", gettext("Substitutions (CSV template)")),
            ],
        }
        return TemplateResponse(request, "admin/imports/importrun/upload.html", context)

    def _run_for(self, request: HttpRequest, pk: int) -> ImportRun:
        run = self.get_queryset(request).filter(pk=pk).select_related("school", "user").first()
        if run is None:
            raise Http404
        return run

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A dry run's preview, with Confirm while its files wait; then the run itself."""
        run = self._run_for(request, pk)
        waiting = (
            run.status == ImportRun.Status.PREVIEW
            and run.origin == ImportRun.Origin.ADMIN
            and ImportRun.objects.filter(pk=run.pk, upload__isnull=False).exists()
        )
        if request.method == "POST" and "confirm" in request.POST:
            if not waiting or not principal(request).can(Right.TIMETABLE, run.school):
                raise PermissionDenied
            stored = ImportRun.objects.values_list("upload", flat=True).get(pk=run.pk)
            files = unpack(bytes(stored or b""))
            chosen = request.session.pop(f"import-options-{run.pk}", {})
            outcome = run_import(
                run.school,
                files,
                origin=ImportRun.Origin.ADMIN,
                format=run.format,
                options=ImportOptions(
                    unknown=chosen.get("unknown", "create"),
                    overwrite_edited=bool(chosen.get("overwrite_edited")),
                ),
                user=request.user,
                source=run.source,
            )
            ImportRun.objects.filter(pk=run.pk).update(upload=None)
            done = outcome.run
            if done.status == ImportRun.Status.APPLIED:
                messages.success(
                    request,
                    gettext("Imported: revision %(before)s → %(after)s.")
                    % {"before": done.revision_before, "after": done.revision_after},
                )
            elif done.status == ImportRun.Status.UNCHANGED:
                messages.info(request, gettext("Nothing changed: the school already had this."))
            else:
                messages.error(request, gettext("The import failed; nothing was changed."))
            return redirect("admin:imports_importrun_preview", done.pk)
        summary = run.summary or {}
        counts = summary.get("counts", {})
        names = kind_names()
        rows = [
            {"name": names[kind], **counts[kind]}
            for kind in KINDS
            if kind in counts and any(counts[kind].values())
        ]
        difference = []
        for kind in KINDS:
            lists = summary.get("difference", {}).get(kind, {})
            for change, mark in (
                ("conflicts", "!"),
                ("added", "+"),
                ("changed", "~"),
                ("removed", "-"),
            ):
                for item in lists.get(change, []):
                    difference.append({"kind": names[kind], "change": change, "mark": mark, **item})
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Preview of the import")
            if run.status == ImportRun.Status.PREVIEW
            else gettext("Import"),
            "run": run,
            "opts": self.model._meta,
            "started": _local(run.started_at, run.school),
            "rows": rows,
            "difference": difference,
            "notes": summary.get("notes", []),
            "unknown": [
                (names.get(kind, kind), codes) for kind, codes in summary.get("unknown", {}).items()
            ],
            "files": summary.get("files", []),
            "waiting": waiting,
            "reason_names": {
                "edited_by_hand": gettext("edited by hand since the last import: kept"),
                "deleted_by_hand": gettext("deleted by hand since the last import: not re-added"),
                "manual_change_there": gettext(
                    "a change made by hand for this lesson and date: kept, the import's left out"
                ),
                "manual_changes_depend": gettext(
                    "changes made by hand name this lesson: it is kept"
                ),
                "unknown_reference": gettext("not in the master data: created"),
            },
        }
        return TemplateResponse(request, "admin/imports/importrun/run.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            pk = int(object_id)
        except ValueError:
            raise Http404 from None
        return redirect("admin:imports_importrun_preview", pk)

    def template_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        kinds = {"lessons": FileKind.CSV_LESSONS, "substitutions": FileKind.CSV_SUBSTITUTIONS}
        if kind not in kinds:
            raise Http404
        response = HttpResponse(template(kinds[kind]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="hallboard-{kind}.csv"'
        return response


def _drop_stale_previews() -> None:
    ImportRun.objects.filter(
        upload__isnull=False, started_at__lt=timezone.now() - PREVIEW_KEEP
    ).update(upload=None)


class WatchedSourceForm(forms.ModelForm):
    class Meta:
        model = WatchedSource
        fields = ["school", "kind", "location", "format", "unknown", "interval_seconds", "enabled"]


@admin.register(WatchedSource)
class WatchedSourceAdmin(SchoolScopedAdmin):
    """A school's folder or address: the school's admins set it (it reaches the network)."""

    right = Right.MANAGE
    form = WatchedSourceForm
    list_display = ["school", "kind", "location", "enabled", "state", "checked"]
    list_filter = ["enabled", "kind"]
    list_select_related = ["school"]
    actions = ["check_now"]
    readonly_fields = ["state", "checked", "imported", "last_error"]

    @admin.display(description=_("state"))
    def state(self, obj: WatchedSource) -> str:
        if not obj.enabled:
            return gettext("off")
        if obj.failing:
            return format_html(
                '<strong style="color:#b00020">{}</strong> {}',
                gettext("failing since %(when)s:")
                % {"when": _local(obj.failing_since, obj.school)},
                obj.last_error,
            )
        return gettext("well")

    @admin.display(description=_("last checked"))
    def checked(self, obj: WatchedSource) -> str:
        return _local(obj.last_checked_at, obj.school)

    @admin.display(description=_("last imported"))
    def imported(self, obj: WatchedSource) -> str:
        return _local(obj.last_imported_at, obj.school)

    @admin.action(description=_("Check now"))
    def check_now(self, request: HttpRequest, queryset: Any) -> None:
        for source in queryset.select_related("school"):
            if not principal(request).can(Right.TIMETABLE, source.school):
                continue
            result = check_source(source)
            level = messages.ERROR if result.outcome == "failed" else messages.INFO
            messages.add_message(
                request,
                level,
                f"{source.school}: {result.outcome}"
                + (f" ({result.reason})" if result.reason else ""),
            )
