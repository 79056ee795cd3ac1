"""The announcements page: quick add, and the active and upcoming announcements of a school.

``/staff/announcements/<school>/`` for members with the ``announce`` right
(admin and office roles). Start and end are typed and shown in the school's
time zone; a new announcement defaults to now until the end of the school's
day, normal priority, every screen. Targets: every screen of the school, or
chosen ones (``hallboard.alerts.models.AnnouncementTargets``). Each save is one
transaction that bumps the school's revision, so the screens show it at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hallboard.alerts.delivery import iso
from hallboard.alerts.models import AnnouncementTargets
from hallboard.i18n import jscatalog, supported
from hallboard.schools import zones
from hallboard.schools.access import Right, for_user
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.staff.pages import tasks
from hallboard.staff.pages.tasks import Refused, body, json_view, school_with, signed_in
from hallboard.staff.views import CONTENT_SECURITY_POLICY
from hallboard.timetable.models import Announcement

PAGE = "announcements"
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and takes


def _local(value: dt.datetime | None, school: School) -> str | None:
    return None if value is None else timezone.localtime(value, school.tz).strftime(LOCAL_FORMAT)


def defaults(school: School, now: dt.datetime) -> dict[str, str]:
    """A new announcement's start and end: now until the end of the school's day."""
    local = timezone.localtime(now, school.tz)
    end = local.replace(hour=23, minute=59, second=0, microsecond=0)
    return {"starts_at": local.strftime(LOCAL_FORMAT), "ends_at": end.strftime(LOCAL_FORMAT)}


def _json(
    a: Announcement, school: School, names: dict[int, str], now: dt.datetime
) -> dict[str, Any]:
    targets = getattr(a, "targets", None)
    screens = None if targets is None else sorted(s.pk for s in targets.screens.all())
    return {
        "id": a.pk,
        "title": a.title,
        "body": a.body,
        "priority": a.priority,
        "priority_label": a.get_priority_display(),
        "starts_at": iso(a.starts_at),
        "ends_at": iso(a.ends_at),
        "starts_local": _local(a.starts_at, school),
        "ends_local": _local(a.ends_at, school),
        "active": a.starts_at <= now,
        "screens": screens,
        "screen_names": None if screens is None else [names.get(s, str(s)) for s in screens],
    }


def _listing(school: School) -> dict[str, Any]:
    now = timezone.now()
    names = dict(Screen.objects.filter(school=school).values_list("pk", "name"))
    rows = (
        Announcement.objects.filter(school=school)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("targets")
        .prefetch_related("targets__screens")
        .order_by("starts_at", "pk")
    )
    return {
        "announcements": [_json(a, school, names, now) for a in rows],
        "defaults": defaults(school, now),
    }


@require_GET
@login_required
def choose(request: HttpRequest) -> HttpResponse:
    """``/staff/announcements/``: the page of the user's one school, or the list of them."""
    return tasks.choose(
        request, Right.ANNOUNCE, "staff:announcements-page", "staff/announcements_choose.html"
    )


@require_GET
@login_required
def page(request: HttpRequest, slug: str) -> HttpResponse:
    who = for_user(request.user)
    school = tasks.page_school(request, who, slug, Right.ANNOUNCE)
    if not isinstance(school, School):
        return school
    base = reverse("staff:announcements-page", args=[school.slug])
    screens = list(
        Screen.objects.filter(school=school).order_by("name", "pk").values("id", "name", "location")
    )
    config = {
        "school": {"slug": school.slug, "name": school.name, "timezone": school.timezone},
        "screens": screens,
        "state": _listing(school),
        "list_url": f"{base}list",
        "save_url": f"{base}save",
        "end_url": f"{base}{{id}}/end",
        "csrf": get_token(request),
        "priorities": [
            {"value": value, "label": str(label)} for value, label in Announcement.Priority.choices
        ],
    }
    language = supported(get_language())
    context = {
        "school": school,
        "config": config,
        "zone": school.timezone,
        "i18n": jscatalog.page_data(default=language, languages=[language]),
    }
    response = render(request, "staff/announcements.html", context)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@json_view(PAGE)
def listing(request: HttpRequest, slug: str) -> JsonResponse:
    """The school's active and upcoming announcements (JSON)."""
    if request.method != "GET":
        raise Refused(405, "method_not_allowed", _("Use GET."))
    school = school_with(signed_in(request), slug, Right.ANNOUNCE)
    return JsonResponse(_listing(school))


def _when(data: dict[str, Any], key: str, school: School, *, required: bool) -> dt.datetime | None:
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise Refused(400, "invalid", _("Give a start time."))
        return None
    if not isinstance(value, str):
        raise Refused(400, "invalid", _("Times are written like 2026-09-14T07:45."))
    try:
        local = dt.datetime.strptime(value, LOCAL_FORMAT)
    except ValueError as exc:
        raise Refused(400, "invalid", _("Times are written like 2026-09-14T07:45.")) from exc
    try:
        return zones.aware(local, school.tz)
    except zones.NonexistentTime as exc:
        raise Refused(400, "invalid", str(exc)) from exc


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise Refused(400, "invalid", _("%(field)s must be text.") % {"field": key})
    value = value.strip()
    if len(value) > limit:
        raise Refused(
            400,
            "invalid",
            _("%(field)s may have at most %(limit)s characters.") % {"field": key, "limit": limit},
        )
    return value


@never_cache
@json_view(PAGE)
def save(request: HttpRequest, slug: str) -> JsonResponse:
    """Add an announcement, or change one (``id``): title, body, start and end in school
    time, priority, and ``screens`` (a list of screen ids, or null for every screen)."""
    if request.method != "POST":
        raise Refused(405, "method_not_allowed", _("Use POST."))
    school = school_with(signed_in(request), slug, Right.ANNOUNCE)
    data = body(request)
    pk = data.get("id")
    if pk is not None and (not isinstance(pk, int) or isinstance(pk, bool)):
        raise Refused(400, "invalid", _("Unknown announcement."))
    title = _text(data, "title", 120)
    if not title:
        raise Refused(400, "invalid", _("The title may not be empty."))
    priority = data.get("priority", Announcement.Priority.NORMAL)
    if priority not in Announcement.Priority.values or isinstance(priority, bool):
        raise Refused(400, "invalid", _("Unknown priority."))
    screen_ids = data.get("screens")
    screens: list[Screen] | None = None
    if screen_ids is not None:
        if not isinstance(screen_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in screen_ids
        ):
            raise Refused(400, "invalid", _("Screens are a list of screen ids."))
        if not screen_ids:
            raise Refused(400, "invalid", _("Choose at least one screen, or every screen."))
        screens = list(Screen.objects.filter(school=school, pk__in=screen_ids))
        if len(screens) != len(set(screen_ids)):
            raise Refused(400, "unknown_screen", _("A chosen screen is not one of this school."))
    with transaction.atomic():
        if pk is None:
            announcement = Announcement(school=school)
        else:
            found = Announcement.objects.select_for_update().filter(school=school, pk=pk).first()
            if found is None:
                raise Refused(404, "not_found", _("No such announcement in this school."))
            announcement = found
        announcement.title = title
        announcement.body = _text(data, "body", 2000)
        announcement.starts_at = _when(data, "starts_at", school, required=True)  # type: ignore[assignment]
        announcement.ends_at = _when(data, "ends_at", school, required=False)
        announcement.priority = priority
        try:
            announcement.full_clean()
        except ValidationError as exc:
            raise Refused(400, "invalid", "; ".join(exc.messages)) from exc
        if screens is None:
            AnnouncementTargets.objects.filter(announcement_id=announcement.pk).delete()
        announcement.save()  # bumps the school's revision, in this transaction
        if screens is not None:
            targets, _created = AnnouncementTargets.objects.get_or_create(announcement=announcement)
            targets.screens.set(screens)
    return JsonResponse(_listing(school), status=201 if pk is None else 200)


@never_cache
@json_view(PAGE)
def end_now(request: HttpRequest, slug: str, pk: int) -> JsonResponse:
    """End an active announcement now; an upcoming one is removed (it never showed)."""
    if request.method != "POST":
        raise Refused(405, "method_not_allowed", _("Use POST."))
    school = school_with(signed_in(request), slug, Right.ANNOUNCE)
    with transaction.atomic():
        announcement = Announcement.objects.select_for_update().filter(school=school, pk=pk).first()
        if announcement is None:
            raise Refused(404, "not_found", _("No such announcement in this school."))
        now = timezone.now()
        if announcement.starts_at > now:
            announcement.delete()
        elif announcement.ends_at is None or announcement.ends_at > now:
            announcement.ends_at = now
            announcement.save()
    return JsonResponse(_listing(school))
