"""Times in the school's zone: the one place that decides which zone a person reads and types.

Times are stored in UTC. What people type or read is in the time zone of the
school concerned (``School.timezone``):

* Admin and staff pages (and the management API with a session): the
  middleware activates the zone of the user's schools when they all share one
  (the usual case); ``hallboard.schools.admin_scoping`` activates the object's
  school's zone on its page, shows each list row in its school's zone, and
  labels a time with its zone where a page spans schools of several zones.
* The management API activates the zone of the school in the URL
  (``hallboard.api.scoping.school_for``); times go out as ISO 8601 with that
  zone's offset, and a time sent without an offset is taken as the school's
  local time (``aware``).
* The display and the staff dashboard get zone names and format times in the
  browser (``Intl.DateTimeFormat`` with ``timeZone``), never in the browser's own zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from hallboard.schools.models import School

#: Pages people read with a session, where the user's zone applies.
ZONED_PATH_PREFIXES = ("/admin/", "/staff/", "/api/v1/")


class NonexistentTime(ValueError):
    """A local time the clocks skip (the spring change): it never happens in that zone."""


def aware(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``value`` as an aware time: kept if it has an offset, else read as local time in ``tz``.

    A local time that occurs twice (the autumn change) is taken at its first
    occurrence; one that never occurs (the spring change) raises ``NonexistentTime``.
    """
    if timezone.is_aware(value):
        return value
    local = value.replace(tzinfo=tz, fold=0)
    if local.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != value:
        raise NonexistentTime(
            _("%(time)s does not exist in %(zone)s (the clocks change then).")
            % {"time": value.strftime("%Y-%m-%d %H:%M"), "zone": zone_name(tz)}
        )
    return local


def zone_name(tz: dt.tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)


def common_zone(schools: Any) -> zoneinfo.ZoneInfo | None:
    """The zone of ``schools`` (a queryset) if they all share one, else None."""
    names = list(schools.order_by().values_list("timezone", flat=True).distinct()[:2])
    if len(names) != 1:
        return None
    return zoneinfo.ZoneInfo(names[0])


def zone_of_user(user: Any) -> zoneinfo.ZoneInfo | None:
    """The zone of every school ``user`` may see, if they share one."""
    if user is None or not user.is_authenticated:
        return None
    from hallboard.schools.access import Right, for_user

    return common_zone(for_user(user).schools(Right.VIEW))


def spans_zones(tz: dt.tzinfo) -> bool:
    """True when ``tz`` is not the zone the page is in: a time in it needs its zone named."""
    return zone_name(tz) != zone_name(timezone.get_current_timezone())


def label(value: dt.datetime, tz: dt.tzinfo) -> str:
    """``value`` in ``tz`` as people read it, with its zone named where the page spans zones."""
    local = timezone.localtime(value, tz)
    text = str(formats.localize(local))
    if spans_zones(tz):
        return f"{text} {local.tzname() or zone_name(tz)}"
    return text


def of_school(school: School | None) -> dt.tzinfo:
    """A school's zone; the page's zone when there is no one school (organisation-wide rows)."""
    return school.tz if school is not None else timezone.get_current_timezone()


class SchoolTimezoneMiddleware:
    """Activate the user's zone on admin and staff pages; never let a zone outlive a request.

    Every request starts and ends in the default zone (``settings.TIME_ZONE``),
    so a zone activated by one request (here, by an admin page or by the API
    for the school in its URL) cannot leak into the next one the thread serves.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.deactivate()
        try:
            if request.path.startswith(ZONED_PATH_PREFIXES):
                zone = zone_of_user(getattr(request, "user", None))
                if zone is not None:
                    timezone.activate(zone)
            return self.get_response(request)
        finally:
            timezone.deactivate()
