"""The admin, scoped by school: a member sees and changes only what their roles allow.

Every ModelAdmin of a school's data inherits ``SchoolScopedAdmin`` and names
the ``right`` that changing it needs (``hallboard.schools.access``). The mixin
filters the change list, the object pages and every foreign-key choice to the
user's schools, checks the right on the object being saved (not only on what
the form offered), and refuses objects that mix schools.

Members log in with their own user; saving a ``Membership`` marks the user as
staff so the admin lets them in. Django's per-model permissions are not used
for members: roles decide. Superusers see and change everything.

Times are typed and read in the school's zone (``hallboard.schools.zones``):
an object's page is in its school's zone (named above the form and beside
every date-time field), a new object's times are read in the zone of the
school chosen for it, and a list shows each row's times in its school's zone,
naming the zone where the page spans several.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from hallboard.schools import zones
from hallboard.schools.access import Principal, Right, for_user
from hallboard.schools.models import Organisation, School


def principal(request: HttpRequest) -> Principal:
    return for_user(request.user)


class SchoolScopedAdmin(admin.ModelAdmin):
    """Base for admin pages of rows that belong to a school."""

    #: The right needed to add, change or delete rows of this model.
    right: Right = Right.MANAGE
    #: Lookup path from the model to its school.
    school_path = "school"
    #: Names the zone the page's times are in, above the form.
    change_form_template = "admin/hallboard/zoned_change_form.html"

    # --- which school an object belongs to ---------------------------------
    def school_ids_of(self, obj: Any) -> set[int]:
        target = obj
        for part in self.school_path.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return set()
        return {target.pk}

    def _is_superuser(self, request: HttpRequest) -> bool:
        return principal(request).is_superuser

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        if self._is_superuser(request):
            return True
        ids = self.school_ids_of(obj)
        return bool(ids) and ids <= principal(request).school_ids(right)

    def scope_filter(self, request: HttpRequest, right: Right) -> Q:
        return Q(**{f"{self.school_path}__in": principal(request).schools(right)})

    # --- queryset and permissions -----------------------------------------
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)
        if self._is_superuser(request):
            return queryset
        return queryset.filter(self.scope_filter(request, Right.VIEW)).distinct()

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return self._is_superuser(request) or principal(request).schools(Right.VIEW).exists()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return self._allowed(request, Right.VIEW, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._is_superuser(request) or principal(request).schools(self.right).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_add_permission(request)
        return self._allowed(request, self.right, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    # --- choices in forms ---------------------------------------------------
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self._choices(db_field.related_model, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self._choices(db_field.related_model, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _choices(self, model: Any, request: HttpRequest, queryset: Any) -> Any:
        queryset = queryset if queryset is not None else model._default_manager.all()
        if self._is_superuser(request):
            return queryset
        schools = principal(request).schools(self.right)
        if model is School:
            return queryset.filter(pk__in=schools)
        if any(f.name == "school" for f in model._meta.get_fields()):
            return queryset.filter(school__in=schools)
        if model is Organisation:
            return queryset.filter(schools__in=schools).distinct()
        return queryset

    # --- time zones ------------------------------------------------------------
    def school_of(self, obj: Any) -> School | None:
        """The school whose zone ``obj``'s times are in (None: no one school)."""
        target = obj
        for part in self.school_path.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return None
        return target if isinstance(target, School) else None

    def form_school(self, request: HttpRequest, obj: Any) -> School | None:
        """The school an object's page is about: its own, or the one chosen for a new one."""
        if obj is not None:
            return self.school_of(obj)
        chosen = request.POST.get("school") or request.GET.get("school")
        if chosen and str(chosen).isdigit():
            return self._choices(School, request, None).filter(pk=int(chosen)).first()
        return None

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        school = self.form_school(request, obj)
        zone = school.tz if school is not None else timezone.get_current_timezone()
        # Without one school, the user's own zone: fixed only when all their schools share it.
        fixed = school is not None or zones.zone_of_user(request.user) is not None
        context = {
            **(extra_context or {}),
            "zone_name": zones.zone_name(zone),
            "zone_school": school,
            "zone_fixed": fixed,
        }
        with timezone.override(zone):
            response = super().changeform_view(request, object_id, form_url, context)
            render = getattr(response, "render", None)
            if render is not None:  # a TemplateResponse renders its times now, in the zone
                render()
        return response

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and field is not None:
            zone = zones.zone_name(timezone.get_current_timezone())
            note = _("Time zone: %(zone)s.") % {"zone": zone}
            field.help_text = f"{field.help_text} {note}".strip() if field.help_text else note
        return field

    def get_list_display(self, request: HttpRequest) -> Any:
        return [self._zoned(name) for name in super().get_list_display(request)]

    def _zoned(self, name: Any) -> Any:
        """A date-time column shown in each row's school's zone (named where zones differ)."""
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        if not isinstance(field, models.DateTimeField):
            return name
        columns: dict[str, Callable[[Any], str]] = self.__dict__.setdefault("_zoned_columns", {})
        if name not in columns:
            columns[name] = self._zoned_column(name, field)
        return columns[name]

    def _zoned_column(self, name: str, field: models.DateTimeField[Any, Any]) -> Any:
        admin_self = self

        @admin.display(description=field.verbose_name, ordering=name)
        def column(obj: Any) -> str:
            value: dt.datetime | None = getattr(obj, name)
            if value is None:
                return str(admin_self.get_empty_value_display())
            return zones.label(value, zones.of_school(admin_self.school_of(obj)))

        column.__name__ = name
        return column

    # --- saving ---------------------------------------------------------------
    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        admin_self = self

        class ScopedForm(form):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean()
                admin_self.check_same_school(self.instance, data)
                admin_self.times_in_school_zone(self, data)
                return data

        return ScopedForm

    def times_in_school_zone(self, form: forms.ModelForm[Any], data: dict[str, Any]) -> None:
        """Times typed were read in the page's zone; read them again in the school's, if another.

        (A new object's page may not know its school until the form is sent.)
        """
        school = data.get("school", getattr(form.instance, "school", None))
        if not isinstance(school, School):
            return
        page_zone = timezone.get_current_timezone()
        if zones.zone_name(page_zone) == school.timezone:
            return
        for name, value in list(data.items()):
            if isinstance(value, dt.datetime) and timezone.is_aware(value):
                wall_clock = timezone.localtime(value, page_zone).replace(tzinfo=None)
                try:
                    data[name] = zones.aware(wall_clock, school.tz)
                except zones.NonexistentTime as exc:
                    form.add_error(name, str(exc))

    def check_same_school(self, instance: Any, data: dict[str, Any]) -> None:
        """Refuse a row that points at another school's periods, classes, teachers..."""
        school = data.get("school", getattr(instance, "school", None))
        if not isinstance(school, School):
            return
        for name, value in data.items():
            # A foreign key is one row; a many-to-many field (a lesson's classes,
            # teachers, rooms) is a queryset of them: every one must be this school's.
            if isinstance(value, models.Model):
                related = [value]
            elif isinstance(value, models.QuerySet | list | tuple):
                related = [v for v in value if isinstance(v, models.Model)]
            else:
                continue
            if any(getattr(r, "school_id", school.pk) != school.pk for r in related):
                raise ValidationError({name: _("This belongs to another school.")})

    def save_model(self, request: HttpRequest, obj: Any, form: forms.Form, change: bool) -> None:
        if not self._allowed(request, self.right, obj):
            raise PermissionDenied(_("Your role does not allow this change in that school."))
        super().save_model(request, obj, form, change)
