"""Admin pages for organisations, schools and memberships."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest

from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import Membership, Organisation, School

admin.site.site_header = "hallboard"
admin.site.site_title = "hallboard"
admin.site.index_title = "School displays"


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
    """School admins change their school's name, time zone and push setting; operators add."""

    right = Right.MANAGE
    list_display = ["name", "slug", "organisation", "timezone", "push", "revision"]
    list_filter = ["organisation", "push"]
    search_fields = ["name", "slug"]
    readonly_fields = ["revision"]

    def school_ids_of(self, obj: Any) -> set[int]:
        return {obj.pk} if obj.pk else set()

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
        if not obj.user.is_staff:  # a member signs in to the admin
            obj.user.is_staff = True
            obj.user.save(update_fields=["is_staff"])
