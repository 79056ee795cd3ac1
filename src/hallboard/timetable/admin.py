"""Admin pages for the timetable and calendar: the timetabler's and the office's daily work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import School
from hallboard.timetable.calendar_import import (
    MAX_ICAL_BYTES,
    CalendarImportError,
    ImportResult,
    fetch_url,
    import_ical,
    import_public_holidays,
)
from hallboard.timetable.models import (
    Announcement,
    Closure,
    Lesson,
    Period,
    Room,
    SchoolCalendar,
    SchoolClass,
    Subject,
    Substitution,
    Teacher,
    TeacherAbsence,
    Term,
    WeekLabel,
)


class TimetableAdmin(SchoolScopedAdmin):
    right = Right.TIMETABLE
    list_filter = ["school"]


@admin.register(Period)
class PeriodAdmin(TimetableAdmin):
    list_display = ["school", "number", "label", "starts_at", "ends_at"]


@admin.register(SchoolClass)
class SchoolClassAdmin(TimetableAdmin):
    list_display = ["name", "grade", "school"]
    search_fields = ["name"]


@admin.register(Room)
class RoomAdmin(TimetableAdmin):
    list_display = ["name", "school"]
    search_fields = ["name"]


@admin.register(Subject)
class SubjectAdmin(TimetableAdmin):
    list_display = ["code", "name", "school"]
    search_fields = ["code", "name"]


@admin.register(Teacher)
class TeacherAdmin(TimetableAdmin):
    list_display = ["code", "name", "school"]
    search_fields = ["code", "name"]


def _names(objects: Any, attr: str) -> str:
    return ", ".join(sorted(getattr(o, attr) for o in objects.all()))


@admin.register(Lesson)
class LessonAdmin(TimetableAdmin):
    list_display = [
        "weekday",
        "period",
        "class_names",
        "group",
        "subject",
        "teacher_codes",
        "room_names",
        "weeks",
        "valid_from",
        "valid_to",
        "source",
    ]
    list_filter = ["school", "weekday", "weeks", "source"]
    list_select_related = ["period", "subject", "school"]
    search_fields = ["classes__name", "subject__code", "teachers__code", "group", "external_id"]
    filter_horizontal = ["classes", "teachers", "rooms"]
    fieldsets = [
        (None, {"fields": ["school", "weekday", "period", "classes", "group", "subject"]}),
        (_("Who and where"), {"fields": ["teachers", "rooms"]}),
        (_("When"), {"fields": ["weeks", "valid_from", "valid_to"]}),
        (_("Origin"), {"fields": ["source", "external_id"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("classes", "teachers", "rooms")

    @admin.display(description=_("classes"))
    def class_names(self, obj: Lesson) -> str:
        return _names(obj.classes, "name")

    @admin.display(description=_("teachers"))
    def teacher_codes(self, obj: Lesson) -> str:
        return _names(obj.teachers, "code")

    @admin.display(description=_("rooms"))
    def room_names(self, obj: Lesson) -> str:
        return _names(obj.rooms, "name")


class SubstitutionForm(forms.ModelForm):
    class Meta:
        model = Substitution
        fields = [
            "school",
            "date",
            "kind",
            "lesson",
            "note",
            "period",
            "classes",
            "group",
            "subject",
            "teacher",
            "substitute_teacher",
            "room",
            "target_date",
            "target_period",
            "source",
            "external_id",
        ]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if not data.get("lesson") and not data.get("classes"):
            raise ValidationError({"classes": _("Name the classes, or the regular lesson.")})
        return data


@admin.register(Substitution)
class SubstitutionAdmin(TimetableAdmin):
    form = SubstitutionForm
    list_display = [
        "date",
        "period",
        "kind",
        "class_names",
        "lesson",
        "substitute_teacher",
        "room",
        "note",
        "source",
    ]
    list_filter = ["school", "kind", "date", "source"]
    date_hierarchy = "date"
    ordering = ["-date", "period__number"]
    list_select_related = ["period", "substitute_teacher", "room", "lesson__subject"]
    autocomplete_fields = ["lesson"]
    filter_horizontal = ["classes"]
    fieldsets = [
        (None, {"fields": ["school", "date", "kind", "lesson", "note"]}),
        (
            _("What changes (empty: as in the lesson)"),
            {
                "fields": [
                    "period",
                    "classes",
                    "group",
                    "subject",
                    "teacher",
                    "substitute_teacher",
                    "room",
                ]
            },
        ),
        (_("Moved or swapped to"), {"fields": ["target_date", "target_period"]}),
        (_("Origin"), {"fields": ["source", "external_id"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("classes", "lesson__classes")

    @admin.display(description=_("classes"))
    def class_names(self, obj: Substitution) -> str:
        own = _names(obj.classes, "name")
        if own or obj.lesson is None:
            return own
        return _names(obj.lesson.classes, "name")


@admin.register(TeacherAbsence)
class TeacherAbsenceAdmin(TimetableAdmin):
    list_display = ["teacher", "starts_on", "first_period", "ends_on", "last_period", "reason"]
    list_filter = ["school", "starts_on"]
    list_select_related = ["teacher", "first_period", "last_period"]
    search_fields = ["teacher__code", "teacher__name", "reason"]


@admin.register(SchoolCalendar)
class SchoolCalendarAdmin(TimetableAdmin):
    list_display = ["school", "week_cycle", "anchor", "region"]


@admin.register(Term)
class TermAdmin(TimetableAdmin):
    list_display = ["name", "starts_on", "ends_on", "school"]


class IcalForm(forms.Form):
    school = forms.ModelChoiceField(queryset=School.objects.none(), label=_("school"))
    file = forms.FileField(label=_("calendar file (.ics)"), required=False)
    url = forms.URLField(
        label=_("or its address"), required=False, max_length=2000, assume_scheme="https"
    )
    kind = forms.ChoiceField(choices=Closure.Kind.choices, label=_("kind"))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if bool(data.get("file")) == bool(data.get("url")):
            raise ValidationError(_("Choose a file or give an address (one of the two)."))
        upload = data.get("file")
        if upload is not None and upload.size > MAX_ICAL_BYTES:
            raise ValidationError(_("The calendar is larger than 2 MiB."))
        return data


class HolidaysForm(forms.Form):
    school = forms.ModelChoiceField(queryset=School.objects.none(), label=_("school"))
    region = forms.CharField(
        max_length=10, label=_("region"), help_text=_("e.g. DE-BE, DE-BY, GB-ENG, FR")
    )
    years = forms.CharField(max_length=60, label=_("years"), help_text=_("e.g. 2026 2027"))

    def clean_years(self) -> list[int]:
        try:
            return [int(y) for y in self.cleaned_data["years"].replace(",", " ").split()]
        except ValueError as exc:
            raise ValidationError(_("Years as numbers, e.g. 2026 2027.")) from exc


@admin.register(Closure)
class ClosureAdmin(TimetableAdmin):
    list_display = ["name", "kind", "starts_on", "ends_on", "source", "school"]
    list_filter = ["school", "kind", "source"]
    search_fields = ["name"]
    date_hierarchy = "starts_on"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="timetable_closure_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Holidays from an iCal file or feed, or a region's public holidays."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        schools = School.objects.all()
        if not principal(request).is_superuser:
            schools = principal(request).schools(self.right)
        posted = request.POST if request.method == "POST" else None
        ical_form = IcalForm(posted if "ical" in request.POST else None, request.FILES or None)
        holidays_form = HolidaysForm(posted if "holidays" in request.POST else None)
        for form in (ical_form, holidays_form):
            field = form.fields["school"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = schools
        result: ImportResult | None = None
        try:
            if "ical" in request.POST and ical_form.is_valid():
                data = ical_form.cleaned_data
                raw = data["file"].read() if data["file"] else fetch_url(data["url"])
                result = import_ical(data["school"], raw, kind=data["kind"])
            elif "holidays" in request.POST and holidays_form.is_valid():
                data = holidays_form.cleaned_data
                language = getattr(data["school"], "language", None) or None
                result = import_public_holidays(
                    data["school"], data["region"], data["years"], language
                )
        except CalendarImportError as exc:
            form = ical_form if "ical" in request.POST else holidays_form
            form.add_error(None, str(exc))
        if result is not None:
            messages.success(
                request,
                gettext("%(created)s added, %(updated)s updated, %(deleted)s removed.")
                % {"created": result.created, "updated": result.updated, "deleted": result.deleted},
            )
            return redirect("admin:timetable_closure_changelist")
        context = {
            **self.admin_site.each_context(request),
            "ical_form": ical_form,
            "holidays_form": holidays_form,
            "title": gettext("Import holidays"),
        }
        return TemplateResponse(request, "admin/timetable/closure/import.html", context)


@admin.register(WeekLabel)
class WeekLabelAdmin(TimetableAdmin):
    list_display = ["__str__", "week", "label", "school"]


@admin.register(Announcement)
class AnnouncementAdmin(SchoolScopedAdmin):
    right = Right.ANNOUNCE
    list_display = ["title", "school", "priority", "starts_at", "ends_at"]
    list_filter = ["school", "priority"]
    search_fields = ["title", "body"]
