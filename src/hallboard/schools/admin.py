"""Admin pages for organisations, schools and memberships (per school and per organisation)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import Membership, Organisation, OrganisationMembership, School

admin.site.site_header = "hallboard"
admin.site.site_title = "hallboard"
admin.site.index_title = gettext_lazy("School displays")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Districts: managed by superusers (operators) only."""

    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_module_permission(self, request: HttpRequest) -> bool:
        return principal(request).is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return principal(request).is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return principal(request).is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return principal(request).is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return principal(request).is_superuser


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    """School admins change their school's name, time zone, language and push setting;
    operators add schools."""

    right = Right.MANAGE
    list_display = ["name", "slug", "organisation", "timezone", "language", "push", "revision"]
    list_filter = ["organisation", "language", "push"]
    search_fields = ["name", "slug"]
    readonly_fields = ["revision"]

    def school_ids_of(self, obj: Any) -> set[int]:
        return {obj.pk} if obj.pk else set()

    def school_of(self, obj: Any) -> School | None:
        return obj if isinstance(obj, School) and obj.pk else None

    def scope_filter(self, request: HttpRequest, right: Right) -> Q:
        return Q(pk__in=principal(request).schools(right))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if principal(request).is_superuser:
            return ["revision"]
        return ["revision", "organisation", "slug"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return principal(request).is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return principal(request).is_superuser


@admin.register(Membership)
class MembershipAdmin(SchoolScopedAdmin):
    """Who holds which role in which school; school admins manage their own school's members."""

    right = Right.MANAGE
    list_display = ["user", "school", "role"]
    list_filter = ["role", "school"]
    search_fields = ["user__username", "user__email"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _mark_staff(obj.user)


def _mark_staff(user: Any) -> None:
    if not user.is_staff:  # a member signs in to the admin
        user.is_staff = True
        user.save(update_fields=["is_staff"])


@admin.register(OrganisationMembership)
class OrganisationMembershipAdmin(admin.ModelAdmin):
    """Roles over every school of an organisation, present and future.

    Managed by operators (superusers) and by the admins of that organisation
    (an organisation membership with the admin role): holding the manage right
    in each of today's schools is not enough, since the role also covers
    schools added later.
    """

    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    search_fields = ["user__username", "user__email", "organisation__name"]

    def _organisations(self, request: HttpRequest) -> QuerySet[Organisation]:
        return principal(request).organisations(Right.MANAGE)

    def _allowed(self, request: HttpRequest, obj: Any) -> bool:
        if principal(request).is_superuser:
            return True
        return self._organisations(request).filter(pk=obj.organisation_id).exists()

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganisationMembership]:
        queryset = super().get_queryset(request).select_related("user", "organisation")
        if principal(request).is_superuser:
            return queryset
        return queryset.filter(organisation__in=self._organisations(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return principal(request).is_superuser or self._organisations(request).exists()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return self._allowed(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return self._allowed(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organisation" and not principal(request).is_superuser:
            kwargs["queryset"] = self._organisations(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Checked on the object saved, not only on the choices the form offered.
        if not self._allowed(request, obj):
            raise PermissionDenied(_("You do not manage this organisation."))
        super().save_model(request, obj, form, change)
        _mark_staff(obj.user)
