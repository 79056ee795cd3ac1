"""Admin page for emergency alerts: trigger, and the all-clear action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from hallboard.alerts.models import Alert
from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin, principal
from hallboard.schools.models import School


@admin.register(Alert)
class AlertAdmin(SchoolScopedAdmin):
    """Alerts of a school, or of a whole organisation (school left empty).

    An organisation-wide alert is visible to members of any of its schools and
    may be triggered or cleared by anyone with the alert right in one of them.
    """

    right = Right.ALERT
    list_display = ["headline", "kind", "severity", "scope", "starts_at", "cleared_at"]
    list_filter = ["kind", "severity", "organisation"]
    readonly_fields = ["created_at", "created_by", "cleared_at", "cleared_by"]
    actions = ["all_clear"]

    @admin.display(description="Scope")
    def scope(self, obj: Alert) -> str:
        return str(obj.school) if obj.school_id else f"All of {obj.organisation}"

    def school_ids_of(self, obj: Any) -> set[int]:
        if obj.school_id:
            return {obj.school_id}
        if obj.organisation_id:
            # Organisation-wide: one school of it in the principal's set is enough.
            return set()
        return set()

    def _allowed(self, request: HttpRequest, right: Right, obj: Any) -> bool:
        if principal(request).is_superuser:
            return True
        schools = principal(request).schools(right)
        if obj.school_id:
            return schools.filter(pk=obj.school_id).exists()
        return schools.filter(organisation_id=obj.organisation_id).exists()

    def scope_filter(self, request: HttpRequest, right: Right) -> Q:
        schools = principal(request).schools(right)
        organisations = School.objects.filter(pk__in=schools).values("organisation_id")
        return Q(school__in=schools) | Q(school__isnull=True, organisation_id__in=organisations)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="All-clear: end the selected alerts on every screen")
    def all_clear(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        cleared = 0
        for alert in queryset.filter(cleared_at__isnull=True):
            if not self._allowed(request, Right.ALERT, alert):
                continue
            alert.cleared_at = timezone.now()
            alert.cleared_by = request.user  # type: ignore[assignment]  # staff only here
            alert.save()
            cleared += 1
        messages.success(request, f"All-clear sent for {cleared} alert(s).")
