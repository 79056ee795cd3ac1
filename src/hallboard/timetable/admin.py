"""Admin pages for the timetable and calendar: the timetabler's and the office's daily work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
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
        lesson, school, date = data.get("lesson"), data.get("school"), data.get("date")
        if (
            lesson is not None
            and school is not None
            and date is not None
            and (lesson.school_id != school.pk or lesson.weekday != date.isoweekday())
        ):
            raise ValidationError(
                {"lesson": _("Choose a lesson of this school on this date's weekday.")}
            )
        return data


class LessonChoiceField(forms.ModelChoiceField):
    """A regular lesson as a timetabler finds it: period, subject, classes, teachers."""

    def label_from_instance(self, obj: Any) -> str:
        classes = _names(obj.classes, "name")
        teachers = _names(obj.teachers, "code")
        group = f" ({obj.group})" if obj.group else ""
        who = f" · {teachers}" if teachers else ""
        return f"{obj.period.number}. {obj.subject.code}{group} {classes}{who}".strip()


def lessons_on(queryset: Any, school_id: int | None, day: dt.date | None) -> Any:
    """The lessons of ``school_id`` on ``day``'s weekday and valid then (none until both
    are known): what a substitution on that day can replace."""
    if school_id is None or day is None:
        return queryset.none()
    return (
        queryset.filter(school_id=school_id, weekday=day.isoweekday())
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .select_related("period", "subject")
        .prefetch_related("classes", "teachers")
        .order_by("period__number", "subject__code", "pk")
    )


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
    filter_horizontal = ["classes"]

    class Media:
        js = ["timetable/substitution_admin.js"]  # school or date chosen: offer their lessons

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

    def _school_and_day(self, request: HttpRequest, obj: Any) -> tuple[int | None, Any]:
        """The school and date the form is about: as posted, else asked for (?school=&date=),
        else the object's, else the user's one school today (in its zone)."""
        source = request.POST if request.method == "POST" else request.GET
        school = source.get("school") or (obj.school_id if obj is not None else None)
        raw_date = source.get("date") or (obj.date if obj is not None else None)
        school_id = int(school) if school is not None and str(school).isdigit() else None
        if school_id is None:
            only = list(principal(request).schools(self.right)[:2])
            school_id = only[0].pk if len(only) == 1 else None
        try:
            day = forms.DateField().to_python(raw_date) if raw_date else None
        except ValidationError:
            day = None
        if day is None and school_id is not None:
            school_obj = School.objects.filter(pk=school_id).first()
            if school_obj is not None:
                day = timezone.localdate(timezone.now(), school_obj.tz)
        return school_id, day

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        school_id, day = self._school_and_day(request, None)
        if school_id is not None:
            initial.setdefault("school", school_id)
        if day is not None:
            initial.setdefault("date", day)
        return initial

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        school_id, day = self._school_and_day(request, obj)
        schools = principal(request).schools(self.right)
        if school_id is not None and not (
            principal(request).is_superuser or schools.filter(pk=school_id).exists()
        ):
            school_id = None  # another school's lessons are never offered

        class LimitedForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                field = self.fields.get("lesson")
                if field is None:
                    return
                choice = LessonChoiceField(
                    queryset=lessons_on(Lesson.objects.all(), school_id, day),
                    required=False,
                    label=field.label,
                    widget=field.widget,
                    help_text=_("The lessons of the chosen school on the chosen date's weekday."),
                )
                self.fields["lesson"] = choice

        LimitedForm.__name__ = form.__name__
        return LimitedForm

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
