"""The "Today's changes" page (docs/staff.md) and the JSON endpoints it uses.

Who: the timetable right (``Right.TIMETABLE``: school admins and timetablers).
A school the user may not see answers 404, one they see without the right 403,
as everywhere in the staff area. The endpoints answer JSON errors only
(``{"error", "detail"}`` and any extra fields, e.g. a conflict's ``tag``), each
refusal logged once and counted in ``hallboard_staff_refusals_total{page="day"}``
(``staff.pages.tasks.json_view``, as every staff page).

The page remembers the school and date last opened (in the session); a user
with one school is never asked for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from hallboard import safejson
from hallboard.i18n import jscatalog, supported
from hallboard.schools.access import Right, for_user
from hallboard.schools.models import School
from hallboard.staff import daychanges
from hallboard.staff.pages.tasks import json_view, refusal
from hallboard.staff.refused import Refused
from hallboard.timetable.models import Weekday

#: How often the page asks whether the day changed (a 304 when not), in seconds.
POLL_SECONDS = 3
#: How often the preview panel re-reads which screens show what.
SCREENS_POLL_SECONDS = 5
SESSION_KEY = "staff_day"
#: The page's name in the refusal log line and ``hallboard_staff_refusals_total``.
PAGE = "day"
MAX_BODY = daychanges.MAX_PASTE_CHARS * 2

# As the dashboard's, plus frames from this site (the preview of a screen).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _schools(request: HttpRequest) -> Any:
    return for_user(request.user).schools(Right.TIMETABLE).order_by("name")


def _school(request: HttpRequest, slug: str) -> School:
    """The school ``slug`` if the user holds the timetable right there (else 404 / 403)."""
    who = for_user(request.user)
    school = who.schools(Right.VIEW).filter(slug=slug).first()
    if school is None:
        raise Refused(404, "not_found", _("No such school."))
    if not who.can(Right.TIMETABLE, school):
        raise Refused(
            403, "forbidden", _("Your role in this school does not include the timetable.")
        )
    return school


#: Dates the page opens (a day either side must exist too).
FIRST_DATE, LAST_DATE = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


def _date(value: str) -> dt.date:
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise Refused(400, "bad_date", _("Not a date: use YYYY-MM-DD.")) from None
    if not FIRST_DATE <= date <= LAST_DATE:
        raise Refused(400, "bad_date", _("Not a date: use YYYY-MM-DD."))
    return date


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY:
        raise Refused(413, "too_large", _("The request is too large."))
    try:  # the one parse helper: no NUL, NaN, out-of-range integers or deep nesting
        data = safejson.loads(request.body or b"{}")
    except ValueError:
        raise Refused(400, "bad_json", _("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise Refused(400, "bad_json", _("The request is not valid JSON."))
    return data


def _text(data: dict[str, Any], key: str, limit: int = 200) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(400, "bad_field", _("Field %(name)s is not valid.") % {"name": key})
    return value


def _int(data: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise Refused(400, "bad_field", _("Field %(name)s is not valid.") % {"name": key})
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**62:
        raise Refused(400, "bad_field", _("Field %(name)s is not valid.") % {"name": key})
    return value


#: Said by a write without the page's CSRF token (the page reloads to get a new one).
CSRF_DETAIL = gettext_lazy("The page's security token is missing or too old: reload the page.")


def endpoint(method: str) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """An endpoint of the page (``tasks.json_view``): the one method (else 405), signed in
    (else 401), a POST with the page's CSRF token (else 403), every refusal JSON and
    counted as the page ``day``; no caching."""
    return json_view(PAGE, method=method, sign_in=True, csrf_detail=CSRF_DETAIL)


def _remember(request: HttpRequest, school: School, date: dt.date) -> None:
    request.session[SESSION_KEY] = {
        "school": school.slug,
        "date": date.isoformat(),
        "on": daychanges.today(school).isoformat(),
    }


def _remembered(request: HttpRequest, school: School) -> dt.date | None:
    """The date last opened for ``school``, if it was opened today (else today counts)."""
    saved = request.session.get(SESSION_KEY) or {}
    if (
        saved.get("school") != school.slug
        or saved.get("on") != daychanges.today(school).isoformat()
    ):
        return None
    try:
        return dt.date.fromisoformat(saved.get("date", ""))
    except ValueError:
        return None


@require_GET
@login_required
def choose(request: HttpRequest) -> HttpResponse:
    """``/staff/day/``: the school last opened, the only one, or a list to choose from."""
    schools = list(_schools(request).select_related("organisation"))
    saved = (request.session.get(SESSION_KEY) or {}).get("school")
    chosen = next((s for s in schools if s.slug == saved), None)
    if chosen is None and len(schools) == 1:
        chosen = schools[0]
    if chosen is not None:
        return redirect("staff:day", chosen.slug)
    response = render(request, "staff/day_choose.html", {"schools": schools})
    if not schools:
        response.status_code = 403
    return response


def _date_label(date: dt.date) -> str:
    return _("%(weekday)s, %(date)s") % {
        "weekday": Weekday(date.isoweekday()).label,
        "date": formats.date_format(date, "DATE_FORMAT"),
    }


@require_GET
@login_required
def page(request: HttpRequest, slug: str, date: str | None = None) -> HttpResponse:
    """The grid of one school and date (default: the date last opened today, else today)."""
    try:
        school = _school(request, slug)
        day = _date(date) if date is not None else None
    except Refused as refused:
        if refused.status == 404:
            raise Http404(refused.detail) from None
        if refused.status == 403:
            raise PermissionDenied(refused.detail) from None
        return refusal(request, PAGE, refused)
    if day is None:
        day = _remembered(request, school) or daychanges.today(school)
        return redirect("staff:day-date", school.slug, day.isoformat())
    _remember(request, school, day)
    today = daychanges.today(school)
    one = dt.timedelta(days=1)
    base = reverse("staff:day-date", args=[school.slug, day.isoformat()])
    config = {
        "school": school.slug,
        "timezone": school.timezone,
        "date": day.isoformat(),
        "today": today.isoformat(),
        "data_url": f"{base}data",
        "change_url": f"{base}change",
        "absence_url": f"{base}absences",
        "paste_url": f"{base}paste",
        "screens_url": reverse("staff:day-screens", args=[school.slug]),
        "csrf": get_token(request),
        "poll_s": POLL_SECONDS,
        "screens_poll_s": SCREENS_POLL_SECONDS,
    }
    others = list(_schools(request).exclude(pk=school.pk).values_list("slug", "name"))
    language = supported(get_language())
    context = {
        "config": config,
        "school": school,
        "other_schools": others,
        "date_label": _date_label(day),
        "date": day,
        "is_today": day == today,
        "links": [
            (_("Previous day"), day - one),
            (_("Today"), today),
            (_("Tomorrow"), today + one),
            (_("Next day"), day + one),
        ],
        "i18n": jscatalog.page_data(default=language, languages=[language]),
    }
    response = render(request, "staff/day.html", context)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


@endpoint("GET")
def data(request: HttpRequest, slug: str, date: str) -> Any:
    """The day's grid; ``If-None-Match`` with the day's ETag (its revision) answers 304."""
    school = _school(request, slug)
    day = _date(date)
    etag = f'"day-{school.revision}-{day.isoformat()}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    board = daychanges.load(school, day)
    result = daychanges.board_json(board)
    result["date_label"] = _date_label(day)
    response = JsonResponse(result)
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response


@endpoint("POST")
def change(request: HttpRequest, slug: str, date: str) -> dict[str, Any]:
    """One action on one lesson: ``{"lesson", "action", "value", "expect", "replaces"}``."""
    school = _school(request, slug)
    day = _date(date)
    body = _json_body(request)
    lesson = _int(body, "lesson", required=True)
    assert lesson is not None
    result = daychanges.change(
        school,
        day,
        lesson_id=lesson,
        action=_text(body, "action", 16),
        value=_text(body, "value", 400),
        expect=_text(body, "expect", 80),
        replaces=_text(body, "replaces", 16) or None,
    )
    school.refresh_from_db(fields=["revision"])
    return {
        "revision": school.revision,
        "tag": daychanges.tag_of(result),
        "change": None if result is None else daychanges.describe(result),
    }


@endpoint("POST")
def absences(request: HttpRequest, slug: str, date: str) -> dict[str, Any]:
    """Mark a teacher away (``{"teacher", "first_period", "last_period"}``), or end an
    absence for the day (``{"remove": id}``)."""
    school = _school(request, slug)
    day = _date(date)
    body = _json_body(request)
    remove = _int(body, "remove")
    if remove is not None:
        daychanges.remove_absence(school, day, remove)
        absence_id = None
    else:
        absence = daychanges.add_absence(
            school,
            day,
            teacher=_text(body, "teacher", 16),
            first_period=_int(body, "first_period"),
            last_period=_int(body, "last_period"),
            reason=_text(body, "reason", 80),
        )
        absence_id = absence.pk
    school.refresh_from_db(fields=["revision"])
    return {"revision": school.revision, "absence": absence_id}


@endpoint("POST")
def paste(request: HttpRequest, slug: str, date: str) -> dict[str, Any]:
    """Pasted rows: ``{"text"}`` previews them, ``{"text", "apply": true}`` writes them all
    with one revision bump (or none of them)."""
    school = _school(request, slug)
    day = _date(date)
    body = _json_body(request)
    text = _text(body, "text", daychanges.MAX_PASTE_CHARS)
    if body.get("apply") is True:
        rows = daychanges.apply_paste(school, day, text)
        school.refresh_from_db(fields=["revision"])
        return {
            "applied": len(rows),
            "revision": school.revision,
            "rows": [r.as_json() for r in rows],
        }
    rows = daychanges.plan_paste(school, day, text)
    return {
        "applied": 0,
        "rows": [r.as_json() for r in rows],
        "errors": sum(1 for r in rows if r.errors),
    }


@endpoint("GET")
def screens(request: HttpRequest, slug: str) -> dict[str, Any]:
    """The school's screens and which revision each shows; ``?preview=<id>``: what it shows."""
    school = _school(request, slug)
    now = timezone.now()
    result: dict[str, Any] = {
        "revision": school.revision,
        "screens": daychanges.screens_json(school, now),
    }
    preview = request.GET.get("preview")
    if preview:
        if not preview.isdigit() or len(preview) > 18:
            raise Refused(400, "bad_field", _("Field %(name)s is not valid.") % {"name": "preview"})
        result["preview"] = daychanges.screen_preview(school, int(preview), now)
    return result
