"""What the staff pages of the emergency panel and announcements share.

- ``json_view(page)``: a JSON endpoint; CSRF is checked and refused in JSON too.
- ``Refused`` (``staff.refused``)/``refusal``: every refused JSON request of every
  staff page (Today's changes, the emergency panel and its templates,
  announcements) answers ``{"error", "detail", **extra}`` with its status, not
  cached, writes one log line and counts ``hallboard_staff_refusals_total{page,
  error}`` (``noted``: the log line and the count, for a page answering in HTML).
- ``school_with``: the school named in the URL, 404 when the user may not see
  it (its existence is not confirmed), 403 when they lack the page's right.
- ``body``: the request's JSON object, refused as ``invalid_json`` otherwise.
- ``task_links``: the task pages a user may open (the staff nav and landing page).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from hallboard import safejson
from hallboard.observability import metrics
from hallboard.schools.access import Principal, Right, for_user
from hallboard.schools.models import School
from hallboard.staff.refused import Refused

logger = logging.getLogger("hallboard.staff")

View = Callable[..., HttpResponse]

#: Bodies larger than this are refused (a page sends a few hundred bytes).
MAX_BODY = 16_384


def noted(request: HttpRequest, page: str, refused: Refused) -> None:
    """One log line and one count of ``hallboard_staff_refusals_total{page, error}``."""
    logger.info(
        "staff %s refused %s %s for user %s: %s %s",
        page,
        request.method,
        request.path,
        getattr(request.user, "pk", None),
        refused.code,
        refused.detail,
    )
    metrics.staff_refusals_total.labels(page=page, error=refused.code).inc()


def refusal(request: HttpRequest, page: str, refused: Refused) -> JsonResponse:
    """The JSON answer to ``refused`` (``noted`` first): its status and ``as_json()``,
    not cached."""
    noted(request, page, refused)
    response = JsonResponse(refused.as_json(), status=refused.status)
    response["Cache-Control"] = "no-store"
    return response


def json_view(
    page: str,
    *,
    method: str | None = None,
    sign_in: bool = False,
    csrf_detail: Promise | None = None,
) -> Callable[[Callable[..., HttpResponse | dict[str, Any]]], View]:
    """A JSON endpoint of ``page``: CSRF checked like Django does, refused in JSON (never
    Django's HTML 403 page), and ``Refused`` raised inside answered by ``refusal``.

    Checked in this order, each refused in JSON: ``method``, the one method it answers
    (else 405); with ``sign_in``, a signed-in active user (else 401); the CSRF token of
    anything but a read (else 403 ``csrf_failed``, saying ``csrf_detail`` when given).
    A view may return a dict: answered as JSON, not cached.
    """

    def wrap(view: Callable[..., HttpResponse | dict[str, Any]]) -> View:
        @functools.wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if method is not None and request.method != method:
                    raise Refused(
                        405, "method_not_allowed", _("Use %(method)s.") % {"method": method}
                    )
                if sign_in:
                    signed_in(request)
                if request.method not in ("GET", "HEAD"):
                    csrf = CsrfViewMiddleware(_no_response)
                    rejected = csrf.process_view(request, _no_response, (), {})
                    if rejected is not None:
                        detail = _("The page is out of date: reload it.")
                        if csrf_detail is not None:
                            detail = str(csrf_detail)
                        raise Refused(403, "csrf_failed", detail)
                result = view(request, *args, **kwargs)
            except Refused as refused:
                return refusal(request, page, refused)
            if isinstance(result, HttpResponse):
                return result
            response = JsonResponse(result)
            response["Cache-Control"] = "no-store"
            return response

        return csrf_exempt(inner)  # checked above, answered in JSON

    return wrap


def _no_response(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError


def signed_in(request: HttpRequest) -> Principal:
    user = request.user
    if not (user.is_authenticated and user.is_active):
        raise Refused(401, "unauthorized", _("Sign in first."))
    return for_user(user)


def school_with(who: Principal, slug: str, right: Right) -> School:
    school = who.schools(Right.VIEW).filter(slug=slug).select_related("organisation").first()
    if school is None:
        raise Refused(404, "not_found", _("No such school."))
    if not who.can(right, school):
        raise Refused(403, "forbidden", _("Your role in this school does not include this page."))
    return school


def body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY:
        raise Refused(413, "too_large", _("The request is too large."))
    try:
        data = safejson.loads(request.body or b"null")
    except ValueError as exc:
        raise Refused(400, "invalid_json", str(exc)) from exc
    if not isinstance(data, dict):
        raise Refused(400, "invalid_json", _("Send a JSON object."))
    return data


def choose(request: HttpRequest, right: Right, page: str, template: str) -> HttpResponse:
    """A task's landing URL: the page of the user's one school, or the list of their schools."""
    from hallboard.staff.views import CONTENT_SECURITY_POLICY

    schools = list(
        for_user(request.user)
        .schools(right)
        .select_related("organisation")
        .order_by("organisation__name", "name")
    )
    if len(schools) == 1:
        return redirect(page, schools[0].slug)
    response = render(request, template, {"schools": schools})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def page_school(
    request: HttpRequest, who: Principal, slug: str, right: Right
) -> School | HttpResponse:
    """The school of a task page, or the page refusing it (404 when it may not be seen)."""
    try:
        return school_with(who, slug, right)
    except Refused as refused:
        if refused.status == 404:
            raise Http404(refused.detail) from None
        return render(
            request, "staff/refused.html", {"detail": refused.detail}, status=refused.status
        )


@dataclass(frozen=True)
class TaskLink:
    key: str
    label: str
    url: str
    #: (school name, page URL) per school, for the landing page (up to ``MAX_SCHOOL_LINKS``).
    schools: tuple[tuple[str, str], ...] = ()


MAX_SCHOOL_LINKS = 30


def task_links(user: Any, *, with_schools: bool = False) -> list[TaskLink]:
    """The task pages ``user`` may open (Today's changes, the emergency panel,
    announcements; nothing else); with ``with_schools``, each with a direct link per
    school (one click from the landing page)."""
    who = for_user(user)
    links = []
    for key, label, right, chooser, page in (
        ("day", _("Today's changes"), Right.TIMETABLE, "staff:day-choose", "staff:day"),
        ("emergency", _("Emergency"), Right.ALERT, "staff:emergency", "staff:emergency-panel"),
        (
            "announcements",
            _("Announcements"),
            Right.ANNOUNCE,
            "staff:announcements",
            "staff:announcements-page",
        ),
    ):
        schools = who.schools(right).order_by("name")
        if not schools.exists():
            continue
        per_school: tuple[tuple[str, str], ...] = ()
        if with_schools:
            per_school = tuple(
                (school.name, reverse(page, args=[school.slug]))
                for school in schools[:MAX_SCHOOL_LINKS]
            )
        links.append(TaskLink(key, label, reverse(chooser), per_school))
    return links
