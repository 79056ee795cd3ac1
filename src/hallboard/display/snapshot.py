"""The snapshot: everything a screen shows today, as one JSON document.

``build(screen, now)`` returns the *content* (stable for as long as nothing
changes) and the ETag derived from it; ``volatile_meta(...)`` adds the clock
fields, which are excluded from the ETag so that an unchanged day answers 304.
The ETag therefore changes whenever the revision, the screen's view, the
school-local date, or anything that starts or ends by time alone changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import Q

from hallboard.alerts.delivery import display_payload, iso, top_alert
from hallboard.alerts.models import Alert
from hallboard.display import watchdog
from hallboard.display.flags import push_enabled
from hallboard.realtime.core import close_codes
from hallboard.screens.models import Screen
from hallboard.timetable.calendar import SchoolCalendarView
from hallboard.timetable.day import Day, day_json, effective_day
from hallboard.timetable.models import Announcement, Period

#: 2: ``day`` and ``next`` (the effective timetable), ``meta.week_label``, screen options.
SCHEMA = 2


def etag_of(content: Any) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:40] + '"'


@lru_cache(maxsize=8192)  # a pure function of (revision, date), asked on every poll
def status_etag(revision: int, local_date: dt.date) -> str:
    return etag_of({"schema": SCHEMA, "rev": revision, "date": local_date.isoformat()})


def visible_class_ids(screen: Screen) -> list[int] | None:
    """The classes the screen's view shows, or None for the whole school."""
    if screen.view == Screen.View.CLASSES:
        return list(screen.classes.values_list("pk", flat=True))
    if screen.view == Screen.View.GRADES:
        return list(
            screen.school.classes.filter(grade__in=screen.grades or []).values_list("pk", flat=True)
        )
    return None


def build(screen: Screen, now: dt.datetime) -> tuple[dict[str, Any], str]:
    """The snapshot content for ``screen`` at ``now`` and its strong ETag."""
    school = screen.school
    tz = school.tz
    local_now = now.astimezone(tz)
    today = local_now.date()
    class_ids = visible_class_ids(screen)
    hide = screen.hide_teacher_names

    periods = [
        {
            "number": p.number,
            "label": p.label or str(p.number),
            "start": p.starts_at.strftime("%H:%M"),
            "end": p.ends_at.strftime("%H:%M"),
        }
        for p in Period.objects.filter(school=school).order_by("starts_at")
    ]

    # The day, computed once on the server (hallboard.timetable.day); the next school
    # day too when the screen asks for it, and always on a day without school.
    calendar = SchoolCalendarView.load(school.pk)
    day = effective_day(school, today, class_ids=class_ids, calendar=calendar)
    next_from = dt.datetime.combine(today, screen.next_day_from, tzinfo=tz)
    show_next = (
        not day.school_day
        or screen.next_day == Screen.NextDay.ALWAYS
        or (screen.next_day == Screen.NextDay.AFTER and now >= next_from)
    )
    next_date = calendar.next_school_day(today) if show_next else None
    next_day = (
        effective_day(school, next_date, class_ids=class_ids, calendar=calendar)
        if next_date is not None
        else None
    )

    # Announcements and alerts that are active now, plus the next moment one
    # starts or ends: the display refetches then (meta.valid_until).
    current = Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    # Those for every screen of the school, and those aimed at this one (staff announcements page).
    aimed = Q(targets__isnull=True) | Q(targets__screens=screen)
    announcements_all = list(Announcement.objects.filter(current, aimed, school=school).distinct())
    alert_times = (
        Alert.objects.for_school(school)
        .filter(cleared_at__isnull=True)
        .filter(Q(starts_at__gt=now) | Q(expires_at__gt=now))
        .values_list("starts_at", "expires_at")
    )
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    boundaries = [midnight]
    if screen.next_day == Screen.NextDay.AFTER and now < next_from:
        boundaries.append(next_from)  # the next school day appears then
    for a in announcements_all:
        boundaries += [t for t in (a.starts_at, a.ends_at) if t is not None and t > now]
    for times in alert_times:
        boundaries += [t for t in times if t is not None and t > now]

    active_announcements = sorted(
        (a for a in announcements_all if a.starts_at <= now),
        key=lambda a: (-a.priority, a.starts_at, a.pk),
    )
    # The same rule as everywhere an alert is chosen for a school (hallboard.alerts.delivery).
    alert = top_alert(school, now)

    content: dict[str, Any] = {
        "meta": {
            "schema": SCHEMA,
            "rev": school.revision,
            "date": today.isoformat(),
            "week_label": day.week_label,
            "valid_until": iso(min(boundaries)),
            "ws_enabled": push_enabled(screen),
            "ws_path": settings.DISPLAY_WS_PATH,
            "poll_min_seconds": settings.DISPLAY_POLL_MIN_SECONDS,
            "poll_max_seconds": settings.DISPLAY_POLL_MAX_SECONDS,
            "watchdog": watchdog.for_screen(screen),
            "close_codes": close_codes.policy(),
        },
        "school": {
            "slug": school.slug,
            "name": school.name,
            "timezone": school.timezone,
            "language": school.language,
        },
        "screen": {
            "id": screen.pk,
            "name": screen.name,
            "orientation": screen.orientation,
            "view": screen.view,
            "hide_teacher_names": hide,
            "next_day": screen.next_day,
            "next_day_from": screen.next_day_from.strftime("%H:%M"),
            "large_text": screen.large_text,
            "hide_past_periods": screen.hide_past_periods,
        },
        "periods": periods,
        "day": day_json(day, hide_teachers=hide),
        "next": None if next_day is None else day_json(next_day, hide_teachers=hide),
        # Schema 1's lists, kept for displays still running an older page (deprecated).
        "lessons": legacy_lessons(day, hide),
        "substitutions": legacy_substitutions(day, hide),
        "announcements": [
            {
                "id": a.pk,
                "title": a.title,
                "body": a.body,
                "priority": a.priority,
                "starts_at": iso(a.starts_at),
                "ends_at": iso(a.ends_at),
            }
            for a in active_announcements
        ],
        "alert": None if alert is None else display_payload(alert),
    }
    return content, etag_of(content)


def legacy_lessons(day: Day, hide: bool) -> list[dict[str, Any]]:
    """Schema 1's ``lessons``: what takes place, one row per class (older pages only)."""
    rows = []
    for slot in day.slots:
        if slot.now is None:
            continue
        for cls in slot.classes:
            rows.append(
                {
                    "period": slot.period.number,
                    "class": cls.name,
                    "subject": slot.now.subject,
                    "teacher": None if hide else (", ".join(slot.now.teachers) or None),
                    "room": ", ".join(slot.now.rooms) or None,
                }
            )
    return rows


def legacy_substitutions(day: Day, hide: bool) -> list[dict[str, Any]]:
    """Schema 1's ``substitutions``: one row per changed slot and class (older pages only)."""
    rows = []
    for slot in day.slots:
        change = slot.change
        if change is None:
            continue
        values = slot.now or slot.regular
        regular = slot.regular
        for cls in slot.classes:
            rows.append(
                {
                    "id": change.pk,
                    "period": slot.period.number,
                    "class": cls.name,
                    "kind": change.kind,
                    "subject": values.subject if values else None,
                    "teacher": None
                    if hide or regular is None
                    else (", ".join(regular.teachers) or None),
                    "substitute": None
                    if hide or slot.now is None or "teachers" not in slot.changed
                    else ", ".join(slot.now.teachers),
                    "room": (", ".join(values.rooms) or None) if values else None,
                    "note": change.note,
                }
            )
    return rows


def volatile_meta(now: dt.datetime, tz: dt.tzinfo) -> dict[str, str | None]:
    """Clock fields added to every answer; not part of the ETag."""
    return {"server_time": iso(now), "school_time": now.astimezone(tz).isoformat()}
