"""Admin page for the display's kiosk settings: nightly reloads per school or screen."""

from __future__ import annotations

from django.contrib import admin

from hallboard.display.models import ReloadSchedule
from hallboard.schools.access import Right
from hallboard.schools.admin_scoping import SchoolScopedAdmin


@admin.register(ReloadSchedule)
class ReloadScheduleAdmin(SchoolScopedAdmin):
    right = Right.SCREENS
    list_display = ["school", "screen", "reload_at", "jitter_minutes"]
    list_filter = ["school"]
    fields = ["school", "screen", "reload_at", "jitter_minutes"]
