"""``/api/v1/schools/{slug}/alerts``: emergency alerts and the all-clear.

An alert created through a school's URL covers that school, or with
``"scope": "organisation"`` every school of its organisation; either needs the
``alert`` right (admin or safety role) in the school named in the URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from hallboard.alerts.models import Alert
from hallboard.api.errors import not_found
from hallboard.api.scoping import principal, save_validated, school_for
from hallboard.schools.access import Right
from hallboard.schools.models import School

router = Router(tags=["alerts"])


class AlertIn(Schema):
    headline: str = Field(min_length=1, max_length=160)
    instructions: str = Field("", max_length=2000)
    kind: Alert.Kind = Alert.Kind.OTHER
    severity: Alert.Severity = Alert.Severity.SEVERE
    scope: Literal["school", "organisation"] = "school"
    expires_at: dt.datetime | None = None


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
    active: bool


def _out(a: Alert) -> dict[str, object]:
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
        "active": a.active,
    }


def _alerts_of(school: School) -> QuerySet[Alert]:
    return Alert.objects.filter(
        Q(school=school) | Q(school__isnull=True, organisation_id=school.organisation_id)
    )


def _get(school: School, pk: int) -> Alert:
    alert = _alerts_of(school).filter(pk=pk).first()
    if alert is None:
        raise not_found("alert")
    return alert


@router.get("/schools/{slug}/alerts", response=list[AlertOut])
def list_alerts(
    request: HttpRequest, slug: str, active: bool | None = None
) -> list[dict[str, object]]:
    school = school_for(request, slug)
    alerts = [_out(a) for a in _alerts_of(school).order_by("-starts_at")]
    return [a for a in alerts if active is None or a["active"] is active]


@router.post("/schools/{slug}/alerts", response={201: AlertOut})
def create_alert(request: HttpRequest, slug: str, payload: AlertIn) -> Status[dict[str, object]]:
    school = school_for(request, slug, Right.ALERT)
    data = payload.dict()
    scope = data.pop("scope")
    alert = Alert(
        organisation_id=school.organisation_id,
        school=school if scope == "school" else None,
        created_by=principal(request).user_or_none,
        **data,
    )
    with transaction.atomic():
        save_validated(alert, exclude=["created_by", "cleared_by"])
    return Status(201, _out(alert))


@router.get("/schools/{slug}/alerts/{pk}", response=AlertOut)
def get_alert(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    return _out(_get(school_for(request, slug), pk))


@router.post("/schools/{slug}/alerts/{pk}/clear", response=AlertOut)
def clear_alert(request: HttpRequest, slug: str, pk: int) -> dict[str, object]:
    """All-clear: the alert leaves every screen in its scope. Clearing twice changes nothing."""
    school = school_for(request, slug, Right.ALERT)
    with transaction.atomic():
        alert = _get(school, pk)
        if alert.cleared_at is None:
            alert.cleared_at = timezone.now()
            alert.cleared_by = principal(request).user_or_none
            alert.save()
    return _out(alert)
