"""Admin pages for screens (tokens shown once, binding reset) and their commands."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin
from hallboard.screens.models import Command, PushSettings, Screen


def _show_token_once(request: HttpRequest, screen: Screen, token: str) -> None:
    url = f"{settings.PUBLIC_URL}/display/?token={token}"
    messages.success(
        request,
        format_html(
            "Screen “{}”: copy its display URL now, it is shown only once: "
            '<a href="{}"><code>{}</code></a>',
            screen.name,
            url,
            url,
        ),
    )


@admin.register(Screen)
class ScreenAdmin(SchoolScopedAdmin):
    right = Right.SCREENS
    list_display = [
        "name",
        "school",
        "location",
        "view",
        "orientation",
        "device",
        "last_heartbeat_at",
        "revisions",
        "connection_mode",
    ]
    list_filter = ["school", "view", "orientation", "connection_mode"]
    search_fields = ["name", "location"]
    filter_horizontal = ["classes"]
    readonly_fields = [
        "device",
        "bound_at",
        "token_issued_at",
        "last_heartbeat_at",
        "revision_shown",
        "connection_mode",
        "client_info",
    ]
    actions = ["rotate_token", "revoke_token", "reset_binding"]

    @admin.display(description="Device")
    def device(self, obj: Screen) -> str:
        return f"{obj.device_key[:8]}…" if obj.device_key else "not bound"

    @admin.display(description="Shown / current revision")
    def revisions(self, obj: Screen) -> str:
        shown = "-" if obj.revision_shown is None else obj.revision_shown
        return f"{shown} / {obj.school.revision}"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _show_token_once(request, obj, obj.issue_token())

    @admin.action(description="Rotate token (shows the new display URL once)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                _show_token_once(request, screen, screen.issue_token())

    @admin.action(description="Revoke token (the screen stops showing data)")
    def revoke_token(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                screen.revoke_token()
        messages.success(request, "Tokens revoked.")

    @admin.action(description="Reset device binding (next device to connect binds)")
    def reset_binding(self, request: HttpRequest, queryset: QuerySet[Screen]) -> None:
        for screen in queryset:
            if self._allowed(request, Right.SCREENS, screen):
                screen.reset_binding()
        messages.success(request, "Bindings reset.")


@admin.register(Command)
class CommandAdmin(SchoolScopedAdmin):
    """Commands sent to screens, with delivery state (read-only)."""

    right = Right.SCREENS
    school_path = "screen__school"
    list_display = ["name", "screen", "status", "created_at", "delivered_at", "acknowledged_at"]
    list_filter = ["status", "name"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PushSettings)
class PushSettingsAdmin(admin.ModelAdmin):
    """The install-wide push switch and rollout: operators (superusers) only."""

    list_display = ["__str__", "enabled", "rollout_percent", "updated_at"]

    def _operator(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._operator(request) and not PushSettings.objects.exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
