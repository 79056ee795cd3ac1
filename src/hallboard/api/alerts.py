"""``/api/v1/schools/{slug}/alerts``: emergency alerts, CAP messages, reach and audit log.

An alert created through a school's URL covers that school, or with
``"scope": "organisation"`` every school of its organisation; triggering,
updating, clearing and cancelling need the ``alert`` right (admin or safety
role) in the school named in the URL and, for an organisation-wide alert, over
the organisation as a whole (an organisation-wide key or an organisation
membership): a school's key or member gets ``403 forbidden``. Everything goes
through ``hallboard.alerts.service`` (the rule, and the audit log). CAP 1.2
messages are posted raw to ``.../alerts/cap`` (``hallboard.alerts.cap``).
"""

# No `from __future__ import annotations` here: ninja's PatchDict needs the
# annotations evaluated at import time to build its partial schema.

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Status

from hallboard.alerts import cap, delivery, service
from hallboard.alerts.models import Alert, AlertAuditEntry
from hallboard.api.errors import ApiError, ErrorOut, invalid, not_found
from hallboard.api.idempotency import idempotent
from hallboard.api.schema import PatchDict, Schema
from hallboard.api.scoping import (
    SCHOOL_TIME,
    SCHOOL_TIME_EXAMPLE,
    in_school_zone,
    is_id,
    principal,
    school_for,
    validation_error,
)
from hallboard.schools.access import Right
from hallboard.schools.models import School

router = Router(tags=["alerts"])


class AlertIn(Schema):
    headline: str = Field(min_length=1, max_length=160)
    instructions: str = Field("", max_length=2000)
    kind: Alert.Kind = Alert.Kind.OTHER
    severity: Alert.Severity = Alert.Severity.SEVERE
    scope: Literal["school", "organisation"] = Field(
        "school",
        description="`organisation`: every school of the organisation. Needs the alert right "
        "over the whole organisation (an organisation-wide key or organisation role); a "
        "school's key or member gets 403 `forbidden`.",
    )
    starts_at: dt.datetime | None = Field(
        None, description=f"Default: now. {SCHOOL_TIME}", examples=[SCHOOL_TIME_EXAMPLE]
    )
    expires_at: dt.datetime | None = Field(
        None, description=SCHOOL_TIME, examples=["2026-11-23T23:30:00+01:00"]
    )


class AlertChange(Schema):
    """What an update may change (send only what changes)."""

    headline: str = Field(min_length=1, max_length=160)
    instructions: str = Field("", max_length=2000)
    kind: Alert.Kind = Alert.Kind.OTHER
    severity: Alert.Severity = Alert.Severity.SEVERE
    starts_at: dt.datetime = Field(description=SCHOOL_TIME, examples=[SCHOOL_TIME_EXAMPLE])
    expires_at: dt.datetime | None = Field(
        None, description=SCHOOL_TIME, examples=["2026-11-23T23:30:00+01:00"]
    )


class ReachCounts(Schema):
    in_scope: int = Field(description="Screens with a token in the alert's scope.")
    shown: int = Field(description="Of those, screens that acknowledged showing it.")
    cleared: int = Field(description="Of those, screens that acknowledged its end.")


class AlertOut(Schema):
    id: int
    headline: str
    instructions: str
    kind: str
    severity: str
    scope: str
    starts_at: dt.datetime
    expires_at: dt.datetime | None
    created_at: dt.datetime
    cleared_at: dt.datetime | None
    cancelled: bool
    active: bool
    reach: ReachCounts


class ReachScreen(Schema):
    id: int
    name: str
    school: str
    status: Literal["online", "stale", "offline"]
    status_reason: str


class ReachOut(Schema):
    alert: int
    in_scope: int
    online: int = Field(description="Screens in scope not offline now.")
    shown: int
    cleared: int
    not_shown: list[ReachScreen]
    not_cleared: list[ReachScreen] = Field(
        description="After the end: screens that showed it but did not acknowledge the end."
    )
    elsewhere_not_shown: int = Field(
        description="Screens not listed because they are in schools where you lack the "
        "alert right (organisation-wide alerts)."
    )
    elsewhere_not_cleared: int


class AuditOut(Schema):
    id: int
    alert: int | None
    action: str
    at: dt.datetime
    actor: str
    source: str
    headline: str
    severity: str
    scope: str
    screens_in_scope: int
    screens_online: int
    screens_shown: int | None
    changes: dict[str, Any]
    note: str


class CapOut(Schema):
    action: Literal["triggered", "updated", "cleared", "duplicate"]
    identifier: str
    sender: str
    sent: dt.datetime
    msg_type: str
    alerts: list[AlertOut]


def _out(a: Alert, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": a.pk,
        "headline": a.headline,
        "instructions": a.instructions,
        "kind": a.kind,
        "severity": a.severity,
        "scope": "school" if a.school_id else "organisation",
        "starts_at": a.starts_at,
        "expires_at": a.expires_at,
        "created_at": a.created_at,
        "cleared_at": a.cleared_at,
        "cancelled": a.cancelled,
        "active": a.active,
        "reach": counts if counts is not None else delivery.reach_counts([a])[a.pk],
    }


def _alerts_of(school: School) -> QuerySet[Alert]:
    return Alert.objects.for_school(school)


def _get(school: School, pk: int) -> Alert:
    alert = _alerts_of(school).filter(pk=pk).first() if is_id(pk) else None
    if alert is None:
        raise not_found("alert")
    return alert


def _actor(request: HttpRequest) -> service.Actor:
    return service.Actor(principal(request), AlertAuditEntry.Source.API)


@contextmanager
def _refusals() -> Iterator[None]:
    """The service's refusals as API errors."""
    try:
        yield
    except service.NotAllowed as exc:  # the service's words: e.g. an organisation-wide alert
        raise ApiError(403, "forbidden", str(exc)) from None
    except service.AlertEnded as exc:
        raise ApiError(409, "alert_ended", str(exc)) from None
    except ValidationError as exc:
        raise validation_error(exc) from None


@router.get("/schools/{slug}/alerts", response=list[AlertOut])
def list_alerts(
    request: HttpRequest, slug: str, active: bool | None = None
) -> list[dict[str, object]]:
    school = school_for(request, slug)
    alerts = list(_alerts_of(school).order_by("-starts_at", "-pk"))
    if active is not None:
        alerts = [a for a in alerts if a.active is active]
    counts = delivery.reach_counts(alerts)
    return [_out(a, counts[a.pk]) for a in alerts]


@router.post("/schools/{slug}/alerts", response={201: AlertOut, 409: ErrorOut})
@idempotent
def create_alert(request: HttpRequest, slug: str, payload: AlertIn) -> Status[dict[str, object]]:
    school = school_for(request, slug, Right.ALERT)
    data = in_school_zone(payload.dict(), school)
    scope = data.pop("scope")
    if data["starts_at"] is None:
        data.pop("starts_at")  # the model's default: now
    alert = Alert(
        organisation_id=school.organisation_id,
        school=school if scope == "school" else None,
        **data,
    )
    with _refusals():
        service.trigger(_actor(request), alert, via_school=school)
    return Status(201, _out(alert))


@router.post(
    "/schools/{slug}/alerts/cap",
    response={200: CapOut, 201: CapOut, (409, 413): ErrorOut},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One CAP 1.2 <alert> document (urn:oasis:names:tc:emergency:cap:1.2).",
            "content": {"application/cap+xml": {"schema": {"type": "string"}}},
        }
    },
)
def receive_cap(
    request: HttpRequest, slug: str, scope: Literal["school", "organisation"] = "school"
) -> Status[dict[str, object]]:
    """A CAP 1.2 message: Alert triggers, Update updates, Cancel clears (docs/api.md).

    ``?scope=organisation``, and an Update or Cancel of an alert of every school, need the
    alert right over the whole organisation: else 403 ``forbidden``.
    """
    school = school_for(request, slug, Right.ALERT)
    length = request.headers.get("Content-Length") or "0"
    if length.isdigit() and int(length) > cap.MAX_BYTES:
        raise ApiError(413, "too_large", f"A CAP message may be at most {cap.MAX_BYTES} bytes.")
    try:
        with _refusals():
            result = cap.receive(principal(request), school, scope, request.body)
    except cap.CapError as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    document = result.document
    counts = delivery.reach_counts(result.alerts)
    body = {
        "action": result.action,
        "identifier": document.identifier,
        "sender": document.sender,
        "sent": document.sent,
        "msg_type": document.msg_type,
        "alerts": [_out(a, counts[a.pk]) for a in result.alerts],
    }
    return Status(201 if result.action == "triggered" else 200, body)


@router.get("/schools/{slug}/alerts/audit", response=list[AuditOut])
def audit_log(
    request: HttpRequest,
    slug: str,
    alert: int | None = None,
    limit: int = 100,
) -> list[dict[str, object]]:
    """Who triggered, updated, cleared or cancelled which alert of this school, newest first."""
    school = school_for(request, slug)
    if not 1 <= limit <= 1000:
        raise ApiError(
            422, "validation_error", [{"loc": ["query", "limit"], "msg": "From 1 to 1000."}]
        )
    entries = AlertAuditEntry.objects.filter(
        Q(school=school) | Q(school__isnull=True, organisation_id=school.organisation_id)
    )
    if alert is not None:
        entries = entries.filter(alert_id=alert) if is_id(alert) else entries.none()
    return [
        {
            "id": e.pk,
            "alert": e.alert_id,
            "action": e.action,
            "at": e.at,
            "actor": e.actor,
            "source": e.source,
            "headline": e.headline,
            "severity": e.severity,
            "scope": e.scope,
            "screens_in_scope": e.screens_in_scope,
            "screens_online": e.screens_online,
            "screens_shown": e.screens_shown,
            "changes": e.changes,
            "note": e.note,
        }
        for e in entries.order_by("-at", "-pk")[:limit]
    ]


@router.get("/schools/{slug}/alerts/{pk}", response=AlertOut)
def get_alert(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    return _out(_get(school_for(request, slug), pk))


@router.patch("/schools/{slug}/alerts/{pk}", response={200: AlertOut, 409: ErrorOut})
def update_alert(
    request: HttpRequest, slug: str, pk: int, payload: PatchDict[AlertChange]
) -> dict[str, object]:
    """Change what screens show of an active alert; every change is in the audit log."""
    school = school_for(request, slug, Right.ALERT)
    changes = in_school_zone(dict(payload), school)
    for name in ("headline", "kind", "severity", "starts_at", "instructions"):
        if name in changes and changes[name] is None:
            raise invalid(name, "May not be null.")
    with _refusals():
        alert = service.update(_actor(request), _get(school, pk), changes, via_school=school)
    return _out(alert)


@router.get("/schools/{slug}/alerts/{pk}/reach", response=ReachOut)
def alert_reach(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    """Which screens in the alert's scope showed it (and its end), and which did not."""
    school = school_for(request, slug, Right.ALERT)
    alert = _get(school, pk)
    mine = set(principal(request).schools(Right.ALERT).values_list("slug", flat=True))
    return delivery.restrict(delivery.reach(alert), mine)


def _end(request: HttpRequest, slug: str, pk: int, how: Any) -> dict[str, object]:
    school = school_for(request, slug, Right.ALERT)
    with _refusals():
        alert = how(_actor(request), _get(school, pk), via_school=school)
    return _out(alert)


@router.post("/schools/{slug}/alerts/{pk}/clear", response={200: AlertOut, 409: ErrorOut})
def clear_alert(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    """All-clear: the alert leaves every screen in its scope. Clearing twice changes nothing."""
    return _end(request, slug, pk, service.clear)


@router.post("/schools/{slug}/alerts/{pk}/cancel", response={200: AlertOut, 409: ErrorOut})
def cancel_alert(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    """Cancel an alert raised in error: it leaves every screen like an all-clear."""
    return _end(request, slug, pk, service.cancel)
