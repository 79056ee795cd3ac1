"""Staff pages: the live screens dashboard per school and per organisation, and its tickets.

Rights come from ``hallboard.schools.access`` like everywhere else: a page
lists only schools in which the user holds the screens right. A school or
organisation the user may not see answers 404 (its existence is not
confirmed); one they see but without the screens right, 403.

The pages are a shell: the rows come from the management API (session auth)
and are kept current by the staff socket (``dashboard.js``), so the status of
a screen is computed in one place, ``hallboard.screens.status``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hallboard.display.views import ws_url
from hallboard.i18n import jscatalog, supported
from hallboard.realtime.gateway import staff as staff_socket
from hallboard.schools.access import Right, for_user
from hallboard.schools.models import Organisation, School
from hallboard.staff import tickets
from hallboard.staff.pages.tasks import task_links

#: The page re-reads every row this often, so purely time-based changes
#: (online → offline when heartbeats stop) show even when no frame arrives.
REFRESH_SECONDS = 30

# Everything the page needs is served from here; nothing else may load.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def staff_ws_url(request: HttpRequest) -> str:
    """Where the page opens the staff socket: STAFF_WS_URL, else beside the display socket."""
    if settings.STAFF_WS_URL:
        return str(settings.STAFF_WS_URL)
    display = urllib.parse.urlsplit(ws_url(request))
    return urllib.parse.urlunsplit((display.scheme, display.netloc, staff_socket.PATH, "", ""))


def _error(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _school_json(school: School) -> dict[str, Any]:
    return {
        "id": school.pk,
        "slug": school.slug,
        "name": school.name,
        "timezone": school.timezone,
        "revision": school.revision,
        "admin_url": f"{reverse('admin:screens_screen_changelist')}?school__id__exact={school.pk}",
    }


def _page(
    request: HttpRequest,
    *,
    title: str,
    scope: str,
    schools: QuerySet[School],
    list_url: str,
    ticket_query: str,
    organisation: Organisation | None = None,
) -> HttpResponse:
    rows = [_school_json(s) for s in schools]
    zones = sorted({row["timezone"] for row in rows})
    config = {
        "scope": scope,
        "title": title,
        "user": request.user.pk,
        "schools": rows,
        # The page's zone when every school shares one; else each time names its zone.
        "timezone": zones[0] if len(zones) == 1 else None,
        "list_url": list_url,
        "ticket_url": f"{reverse('staff:ws-ticket')}?{ticket_query}",
        "api": "/api/v1/",
        "csrf": get_token(request),
        "refresh_s": REFRESH_SECONDS,
        "add_url": reverse("admin:screens_screen_add"),
        "pair_url": reverse("admin:screens_screen_pair"),
    }
    language = supported(get_language())
    context = {
        "config": config,
        "title": title,
        "organisation": organisation,
        "scope": scope,
        "zones": zones,
        "i18n": jscatalog.page_data(default=language, languages=[language]),
    }
    response = render(request, "staff/dashboard.html", context)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The dashboards the user may open: one per school, one per organisation."""
    schools = list(
        for_user(request.user)
        .schools(Right.SCREENS)
        .select_related("organisation")
        .order_by("organisation__name", "name")
    )
    tasks = task_links(request.user, with_schools=True)
    if len(schools) == 1:  # the task pages are in the nav
        return redirect("staff:school", schools[0].slug)
    if not schools and for_user(request.user).schools(Right.TIMETABLE).exists():
        return redirect("staff:day-choose")  # a timetabler's page is Today's changes
    if not schools and len(tasks) == 1:  # e.g. a safety officer: straight to the panel
        return redirect(tasks[0].url)
    organisations: dict[int, tuple[Organisation, list[School]]] = {}
    for school in schools:
        organisations.setdefault(school.organisation_id, (school.organisation, []))[1].append(
            school
        )
    response = render(
        request,
        "staff/index.html",
        {"organisations": list(organisations.values()), "tasks": tasks},
    )
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@require_GET
@login_required
def school_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    who = for_user(request.user)
    school = who.schools(Right.VIEW).filter(slug=slug).first()
    if school is None:
        raise Http404(_("No such school."))
    if not who.can(Right.SCREENS, school):
        raise PermissionDenied(_("Your role in this school does not include the screens."))
    return _page(
        request,
        title=school.name,
        scope="school",
        schools=School.objects.filter(pk=school.pk),
        list_url=f"/api/v1/schools/{school.slug}/screens",
        ticket_query=urllib.parse.urlencode({"school": school.slug}),
        organisation=school.organisation,
    )


@require_GET
@login_required
def organisation_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    who = for_user(request.user)
    organisation = Organisation.objects.filter(
        slug=slug, pk__in=who.schools(Right.VIEW).values("organisation_id")
    ).first()
    if organisation is None:
        raise Http404(_("No such organisation."))
    schools = who.schools(Right.SCREENS).filter(organisation=organisation).order_by("name")
    if not schools.exists():
        raise PermissionDenied(_("You hold the screens right in no school of this organisation."))
    return _page(
        request,
        title=organisation.name,
        scope="organisation",
        schools=schools,
        list_url=f"/api/v1/organisations/{organisation.slug}/screens",
        ticket_query=urllib.parse.urlencode({"organisation": organisation.slug}),
        organisation=organisation,
    )


@require_GET
@never_cache
def ws_ticket(request: HttpRequest) -> JsonResponse:
    """A ticket for the staff socket (``hallboard.staff.tickets``), with the URL to open.

    ``?school=<slug>`` or ``?organisation=<slug>`` narrow it to what a page
    shows; without either it covers every school with the screens right.
    """
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return _error(401, "unauthorized", "Sign in to the admin first.")
    schools = for_user(user).schools(Right.SCREENS)
    if "school" in request.GET:
        schools = schools.filter(slug=request.GET["school"])
    if "organisation" in request.GET:
        schools = schools.filter(organisation__slug=request.GET["organisation"])
    school_ids = list(schools.values_list("pk", flat=True))
    if not school_ids:
        return _error(403, "forbidden", "You hold the screens right in none of these schools.")
    ticket = tickets.issue(user, within=school_ids, origin=tickets.origin_of(request))
    if len(ticket) > tickets.MAX_LENGTH:
        return _error(
            400,
            "too_many_schools",
            "Ask for a ticket for one school or organisation (?school= or ?organisation=).",
        )
    url = f"{staff_ws_url(request)}?{urllib.parse.urlencode({'ticket': ticket})}"
    response = JsonResponse({"url": url, "expires_in": tickets.MAX_AGE})
    response["Cache-Control"] = "no-store"
    return response
