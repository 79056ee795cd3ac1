"""The display page's watchdog settings (``meta.watchdog`` of the snapshot; docs/kiosk.md).

One place decides what a screen's page is told: the bounds over which it
reloads itself, how often it measures and keeps a trend point, and when it
reloads at night — the screen's own schedule, else its school's, else the
install's default (``DISPLAY_RELOAD_AT``). The page applies them in the
school's time zone.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import F, Q

from hallboard.display.models import ReloadSchedule
from hallboard.screens.models import Screen


def nightly_reload(screen: Screen) -> tuple[str | None, int]:
    """(school-local "HH:MM" or None for never, jitter in minutes) for ``screen``."""
    schedule = (
        ReloadSchedule.objects.filter(school_id=screen.school_id)
        .filter(Q(screen_id=screen.pk) | Q(screen__isnull=True))
        .order_by(F("screen_id").asc(nulls_last=True))
        .only("reload_at", "jitter_minutes")
        .first()
    )
    if schedule is None:
        return settings.DISPLAY_RELOAD_AT or None, settings.DISPLAY_RELOAD_JITTER_MINUTES
    at = schedule.reload_at.strftime("%H:%M") if schedule.reload_at else None
    return at, schedule.jitter_minutes


def for_screen(screen: Screen) -> dict[str, Any]:
    """The snapshot's ``meta.watchdog`` for ``screen``."""
    at, jitter = nightly_reload(screen)
    return {
        "check_seconds": settings.DISPLAY_WATCHDOG_CHECK_SECONDS,
        "trend_seconds": settings.DISPLAY_WATCHDOG_TREND_SECONDS,
        "max_heap_mb": settings.DISPLAY_WATCHDOG_MAX_HEAP_MB,
        "max_dom_nodes": settings.DISPLAY_WATCHDOG_MAX_DOM_NODES,
        "max_uptime_hours": settings.DISPLAY_WATCHDOG_MAX_UPTIME_HOURS,
        "nightly_reload_at": at,
        "nightly_jitter_minutes": jitter,
    }
