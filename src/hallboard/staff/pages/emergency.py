"""The emergency panel: trigger an alert from a template, follow its reach, give the all-clear.

``/staff/emergency/<school>/`` for members with the ``alert`` right (admin and
safety roles) in that school; organisation roles (an ``OrganisationMembership``
with the right) may also alert every school of the organisation at once, and
only they may end an organisation-wide alert. That rule is the service's
(``hallboard.alerts.service.organisation_scope_allowed``, the same for the
admin, the API and CAP); the panel asks it only to offer the choice and to
refuse in the user's language before the service would. Everything goes
through ``hallboard.alerts.service`` (rights, validation, audit log).

The page is a shell: ``state`` (JSON) gives the active alerts that reach the
school with their reach (``hallboard.alerts.delivery.reach``), and the page
re-reads it every ``POLL_S`` seconds while an alert is on (``EMERGENCY_POLL_S``
otherwise). Sending takes a deliberate hold on the send button (``HOLD_MS``);
the server does not trust the page for anything but the words.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hallboard.alerts import builtins, delivery, service
from hallboard.alerts.models import Alert, AlertAuditEntry, AlertTemplate
from hallboard.alerts.service import organisation_scope_allowed
from hallboard.i18n import jscatalog, supported
from hallboard.schools.access import Principal, Right, for_user
from hallboard.schools.models import School
from hallboard.staff.pages import tasks
from hallboard.staff.pages.tasks import Refused, body, json_view, school_with, signed_in
from hallboard.staff.views import CONTENT_SECURITY_POLICY

PAGE = "emergency"
#: How often the page re-reads the state while an alert is on, and otherwise.
POLL_S = 2
IDLE_POLL_S = 15
#: How long the send and all-clear buttons must be held down.
HOLD_MS = 1200


def _template_json(t: AlertTemplate) -> dict[str, Any]:
    return {
        "id": t.pk,
        "label": t.label,
        "kind": t.kind,
        "severity": t.severity,
        "headline": t.headline,
        "instructions": t.instructions,
        "district": t.school_id is None,
    }


def _alert_json(alert: Alert, who: Principal, school: School, org_ok: bool) -> dict[str, Any]:
    mine = (
        None if who.is_superuser else set(who.schools(Right.ALERT).values_list("slug", flat=True))
    )
    summary = delivery.restrict(delivery.reach(alert), mine)
    screens = [
        {
            "id": row["id"],
            "name": row["name"],
            "school": row["school"],
            "status": row["status"],
            "status_reason": row["status_reason"],
            "shown": row["shown_at"] is not None,
            "shown_at": delivery.iso(row["shown_at"]),
        }
        for row in summary["screens"]
    ]
    organisation_wide = alert.school_id is None
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": alert.get_kind_display(),
        "severity": alert.severity,
        "headline": alert.headline,
        "instructions": alert.instructions,
        "scope": "organisation" if organisation_wide else "school",
        "scope_label": (
            _("All schools of %(organisation)s") % {"organisation": alert.organisation.name}
            if organisation_wide
            else alert.school.name  # type: ignore[union-attr]
        ),
        "starts_at": delivery.iso(alert.starts_at),
        "by": alert.created_by.get_username() if alert.created_by else "",
        "can_clear": org_ok or not organisation_wide,
        "reach": {
            "in_scope": summary["in_scope"],
            "online": summary["online"],
            "shown": summary["shown"],
            "screens": screens,
            "elsewhere": summary["elsewhere_screens"],
        },
    }


def _state(who: Principal, school: School) -> dict[str, Any]:
    org_ok = organisation_scope_allowed(who, school.organisation_id)
    alerts = (
        Alert.objects.for_school(school)
        .active()
        .select_related("school", "organisation", "created_by")
        .order_by("-starts_at", "-pk")
    )
    return {"alerts": [_alert_json(a, who, school, org_ok) for a in alerts]}


def _actor(who: Principal) -> service.Actor:
    return service.Actor(who, AlertAuditEntry.Source.PANEL)


@require_GET
@login_required
def choose(request: HttpRequest) -> HttpResponse:
    """``/staff/emergency/``: the panel of the user's one school, or the list of them."""
    return tasks.choose(
        request, Right.ALERT, "staff:emergency-panel", "staff/emergency_choose.html"
    )


@require_GET
@login_required
def panel(request: HttpRequest, slug: str) -> HttpResponse:
    who = for_user(request.user)
    school = tasks.page_school(request, who, slug, Right.ALERT)
    if not isinstance(school, School):
        return school
    org_ok = organisation_scope_allowed(who, school.organisation_id)
    base = reverse("staff:emergency-panel", args=[school.slug])
    config = {
        "school": {
            "slug": school.slug,
            "name": school.name,
            "timezone": school.timezone,
        },
        "organisation": (
            {"name": school.organisation.name, "schools": school.organisation.schools.count()}
            if org_ok
            else None
        ),
        "templates": [_template_json(t) for t in builtins.templates_for(school)],
        "state": _state(who, school),
        "state_url": f"{base}state",
        "trigger_url": f"{base}trigger",
        "clear_url": f"{base}alerts/{{id}}/clear",
        "csrf": get_token(request),
        "poll_s": POLL_S,
        "idle_poll_s": IDLE_POLL_S,
        "hold_ms": HOLD_MS,
    }
    language = supported(get_language())
    context = {
        "school": school,
        "config": config,
        "may_edit_templates": who.can(Right.MANAGE, school),
        "templates_edit": reverse("staff:emergency-templates", args=[school.slug]),
        "i18n": jscatalog.page_data(default=language, languages=[language]),
    }
    response = render(request, "staff/emergency.html", context)
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@json_view(PAGE)
def state(request: HttpRequest, slug: str) -> JsonResponse:
    """The active alerts reaching the school, each with its reach (JSON)."""
    if request.method != "GET":
        raise Refused(405, "method_not_allowed", _("Use GET."))
    who = signed_in(request)
    school = school_with(who, slug, Right.ALERT)
    return JsonResponse(_state(who, school))


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise Refused(400, "invalid", _("%(field)s must be text.") % {"field": key})
    value = value.strip()
    if required and not value:
        raise Refused(400, "invalid", _("The headline may not be empty."))
    if len(value) > limit:
        raise Refused(
            400,
            "invalid",
            _("%(field)s may have at most %(limit)s characters.") % {"field": key, "limit": limit},
        )
    return value


@never_cache
@json_view(PAGE)
def trigger(request: HttpRequest, slug: str) -> JsonResponse:
    """Trigger an alert from one of the school's templates, with the words as edited.

    Body: ``{"template": id, "headline": str, "instructions": str, "scope":
    "school" | "organisation"}``. 201 with the new alert (as ``state`` shows it).
    """
    if request.method != "POST":
        raise Refused(405, "method_not_allowed", _("Use POST."))
    who = signed_in(request)
    school = school_with(who, slug, Right.ALERT)
    data = body(request)
    template_id = data.get("template")
    if not isinstance(template_id, int) or isinstance(template_id, bool):
        raise Refused(400, "invalid", _("Choose a template."))
    template = builtins.templates_for(school).filter(pk=template_id).first()
    if template is None:
        raise Refused(404, "unknown_template", _("No such template for this school."))
    scope = data.get("scope", "school")
    if scope not in ("school", "organisation"):
        raise Refused(400, "invalid", _("The scope is this school or the organisation."))
    if scope == "organisation" and not organisation_scope_allowed(who, school.organisation_id):
        raise Refused(
            403,
            "forbidden",
            _("Only an organisation role may alert every school of the organisation."),
        )
    alert = Alert(
        organisation_id=school.organisation_id,
        school=school if scope == "school" else None,
        kind=template.kind,
        severity=template.severity,
        headline=_text(data, "headline", 160, required=True),
        instructions=_text(data, "instructions", 2000, required=False),
    )
    try:
        service.trigger(_actor(who), alert, via_school=school, note=f"template {template.pk}")
    except service.NotAllowed as exc:
        raise Refused(403, "forbidden", str(exc)) from exc
    except ValidationError as exc:
        raise Refused(400, "invalid", "; ".join(exc.messages)) from exc
    alert = Alert.objects.select_related("school", "organisation", "created_by").get(pk=alert.pk)
    org_ok = organisation_scope_allowed(who, school.organisation_id)
    return JsonResponse(_alert_json(alert, who, school, org_ok), status=201)


@never_cache
@json_view(PAGE)
def clear(request: HttpRequest, slug: str, pk: int) -> JsonResponse:
    """The all-clear for an active alert that reaches the school."""
    if request.method != "POST":
        raise Refused(405, "method_not_allowed", _("Use POST."))
    who = signed_in(request)
    school = school_with(who, slug, Right.ALERT)
    alert = Alert.objects.for_school(school).filter(pk=pk).first()
    if alert is None:
        raise Refused(404, "not_found", _("No such alert for this school."))
    if alert.school_id is None and not organisation_scope_allowed(who, school.organisation_id):
        raise Refused(
            403,
            "forbidden",
            _("Only an organisation role may end an alert of every school."),
        )
    try:
        service.clear(_actor(who), alert, via_school=school)
    except service.NotAllowed as exc:
        raise Refused(403, "forbidden", str(exc)) from exc
    return JsonResponse(_state(who, school))
