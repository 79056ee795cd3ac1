"""The admin, scoped by school: a member sees and changes only what their roles allow.

Every ModelAdmin of a school's data inherits ``SchoolScopedAdmin`` and names
the ``right`` that changing it needs (``hallboard.schools.access``). The mixin
filters the change list, the object pages and every foreign-key choice to the
user's schools, checks the right on the object being saved (not only on what
the form offered), and refuses objects that mix schools.

Members log in with their own user; saving a ``Membership`` marks the user as
staff so the admin lets them in. Django's per-model permissions are not used
for members: roles decide. Superusers see and change everything.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.http import HttpRequest

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
                return data

        return ScopedForm

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
                raise ValidationError({name: "This belongs to another school."})

    def save_model(self, request: HttpRequest, obj: Any, form: forms.Form, change: bool) -> None:
        if not self._allowed(request, self.right, obj):
            raise PermissionDenied("Your role does not allow this change in that school.")
        super().save_model(request, obj, form, change)
