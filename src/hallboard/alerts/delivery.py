"""Getting an alert onto screens, and knowing that it got there.

- ``display_payload(alert)``: the alert as a screen sees it, the one shape used
  by the snapshot, the ``hello`` and the ``alert`` push frames.
- ``top_alert(school, now)``: the alert a school's screens show (the most
  severe active one, then the newest), in one query.
- ``record_receipt(...)``: a screen acknowledged showing an alert, or its
  all-clear. The display socket and ``POST /api/display/ack/`` both store
  through it; it refuses alerts outside the screen's scope and tells the live
  dashboards after commit.
- ``reach(alert)``: the screens in the alert's scope, how many showed it and
  its all-clear, and which did not.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from hallboard.alerts.models import Alert, AlertReceipt
from hallboard.realtime import publish
from hallboard.realtime.core.validation import ACK_STATES, AckState
from hallboard.schools.models import School
from hallboard.screens.models import Screen
from hallboard.screens.status import state_of

logger = logging.getLogger("hallboard.alerts")

#: What a screen acknowledges: the one definition is the client-message validator's.
ReceiptState = AckState
RECEIPT_STATES: tuple[ReceiptState, ...] = ACK_STATES

#: Most severe first: the order in which a school's active alerts outrank each other.
SEVERITY_ORDER: tuple[str, ...] = tuple(Alert.Severity.values)


def iso(value: dt.datetime | None) -> str | None:
    """UTC, ISO 8601 with ``Z``: how every time on the display protocol is written."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def display_payload(alert: Alert) -> dict[str, Any]:
    """The alert as screens get it (snapshot ``alert``, ``hello``, ``alert`` frames)."""
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "headline": alert.headline,
        "instructions": alert.instructions,
        "scope": "school" if alert.school_id else "organisation",
        "starts_at": iso(alert.starts_at),
        "expires_at": iso(alert.expires_at),
    }


def _severity_rank() -> Case:
    return Case(
        *(When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)),
        default=Value(len(SEVERITY_ORDER)),
        output_field=IntegerField(),
    )


def top_alert(school: School, now: dt.datetime | None = None) -> Alert | None:
    """The alert ``school``'s screens show at ``now``: most severe, then newest (one query)."""
    return (
        Alert.objects.for_school(school)
        .active(now or timezone.now())
        .annotate(rank=_severity_rank())
        .order_by("rank", "-starts_at", "-pk")
        .first()
    )


def top_alerts(schools: dict[int, int], now: dt.datetime) -> dict[int, dict[str, Any] | None]:
    """``top_alert`` of many schools at once, as payloads (one query; the gateway's
    batches and the alert publisher use it). ``schools`` maps school id → organisation id."""
    if not schools:
        return {}
    active = (
        Alert.objects.active(now)
        .filter(
            Q(school_id__in=list(schools))
            | Q(school__isnull=True, organisation_id__in=set(schools.values()))
        )
        .annotate(rank=_severity_rank())
        .order_by("rank", "-starts_at", "-pk")
    )
    best: dict[int, Alert] = {}
    for alert in active:  # best first: the first alert a school meets is its top one
        if alert.school_id is not None:
            best.setdefault(alert.school_id, alert)
            continue
        for school_id, org_id in schools.items():
            if org_id == alert.organisation_id:
                best.setdefault(school_id, alert)
    return {s: (display_payload(best[s]) if s in best else None) for s in schools}


# --- acknowledgements ----------------------------------------------------------------
def record_receipt(screen_id: int, alert_id: int, state: str, via: str) -> AlertReceipt | None:
    """Store that screen ``screen_id`` showed alert ``alert_id`` (or its all-clear).

    ``state`` is ``"shown"`` or ``"cleared"``; ``via`` is ``"ws"`` or ``"http"``.
    Each timestamp is written once, by a conditional UPDATE, so repeated and
    concurrent acknowledgements change nothing. Returns None when the alert is
    not in the screen's scope (its school, or its organisation) or does not
    exist. Live dashboards of the screen's school get an ``alert_receipt``
    frame after commit when something changed.
    """
    if state not in RECEIPT_STATES:
        raise ValueError(f"state must be one of {RECEIPT_STATES}, not {state!r}")
    if via not in AlertReceipt.Via.values:
        raise ValueError(f"via must be one of {AlertReceipt.Via.values}, not {via!r}")
    screen = (
        Screen.objects.filter(pk=screen_id).values("school_id", "school__organisation_id").first()
    )
    if screen is None:
        return None
    school_id = screen["school_id"]
    in_scope = Alert.objects.filter(pk=alert_id).filter(
        Q(school_id=school_id)
        | Q(school__isnull=True, organisation_id=screen["school__organisation_id"])
    )
    if not in_scope.exists():
        return None
    now = timezone.now()
    column = "shown_at" if state == "shown" else "cleared_at"
    with transaction.atomic():
        receipt = _receipt(alert_id, screen_id, via)
        changed = AlertReceipt.objects.filter(pk=receipt.pk, **{f"{column}__isnull": True}).update(
            **{column: now}
        )
        if changed:
            setattr(receipt, column, now)
            frame = {
                "type": "alert_receipt",
                "school": school_id,
                "alert": alert_id,
                "screen": screen_id,
                "state": state,
            }
            transaction.on_commit(lambda: publish.dashboard(school_id, frame), robust=True)
    if changed:
        logger.info("screen %s acknowledged alert %s %s via %s", screen_id, alert_id, state, via)
    return receipt


def _receipt(alert_id: int, screen_id: int, via: str) -> AlertReceipt:
    """The receipt row, created if needed (two first acks at once: one creates, both use it)."""
    existing = AlertReceipt.objects.filter(alert_id=alert_id, screen_id=screen_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return AlertReceipt.objects.create(alert_id=alert_id, screen_id=screen_id, via=via)
    except IntegrityError:
        return AlertReceipt.objects.get(alert_id=alert_id, screen_id=screen_id)


# --- reach ----------------------------------------------------------------------------
def screens_in_scope(alert: Alert) -> QuerySet[Screen]:
    """Screens that can show ``alert``: those with a token in its school or organisation."""
    screens = Screen.objects.filter(token_hash__isnull=False)
    if alert.school_id is not None:
        return screens.filter(school_id=alert.school_id)
    return screens.filter(school__organisation_id=alert.organisation_id)


def _receipt_in_scope() -> Q:
    """Receipts whose screen is (still) in its alert's scope and has a token."""
    return Q(screen__token_hash__isnull=False) & (
        Q(screen__school_id=F("alert__school_id"))
        | Q(
            alert__school__isnull=True,
            screen__school__organisation_id=F("alert__organisation_id"),
        )
    )


def reach(alert: Alert, now: dt.datetime | None = None) -> dict[str, Any]:
    """Who got ``alert``: counts over its whole scope, and the screens that did not show it.

    ``not_shown`` lists screens in scope without a ``shown`` acknowledgement;
    once the alert has ended, ``not_cleared`` lists screens that showed it but
    have not acknowledged the all-clear (they may still be showing it);
    ``screens`` lists every screen in scope with its ``shown_at`` and
    ``cleared_at`` (None: not acknowledged). Each entry has the screen's id,
    name, school (slug) and status (``hallboard.screens.status``) with its reason.
    """
    now = now or timezone.now()
    screens = list(
        screens_in_scope(alert)
        .select_related("school")
        .order_by("school__name", "name", "pk")
        .only(
            "pk",
            "name",
            "last_heartbeat_at",
            "revision_shown",
            "connection_mode",
            "push_refused_code",
            "school__slug",
            "school__name",
            "school__revision",
            "school__revision_changed_at",
            "school__timezone",
        )
    )
    receipts = {
        r["screen_id"]: r
        for r in AlertReceipt.objects.filter(alert=alert).values(
            "screen_id", "shown_at", "cleared_at"
        )
    }
    rows: list[dict[str, Any]] = []
    not_shown: list[dict[str, Any]] = []
    not_cleared: list[dict[str, Any]] = []
    shown = cleared = online = 0
    ended = alert.cleared_at is not None
    for screen in screens:
        school = screen.school
        state = state_of(screen, school.revision, school.revision_changed_at, now, school.tz)
        online += state.status != "offline"
        row = {
            "id": screen.pk,
            "name": screen.name,
            "school": school.slug,
            "status": state.status,
            "status_reason": state.reason,
        }
        receipt = receipts.get(screen.pk)
        rows.append(
            {
                **row,
                "shown_at": receipt["shown_at"] if receipt else None,
                "cleared_at": receipt["cleared_at"] if receipt else None,
            }
        )
        if receipt is not None and receipt["shown_at"] is not None:
            shown += 1
            if receipt["cleared_at"] is None and ended:
                not_cleared.append(row)
        else:
            not_shown.append(row)
        if receipt is not None and receipt["cleared_at"] is not None:
            cleared += 1
    return {
        "alert": alert.pk,
        "in_scope": len(screens),
        "online": online,
        "shown": shown,
        "cleared": cleared,
        "not_shown": not_shown,
        "not_cleared": not_cleared,
        "screens": rows,
    }


def reach_counts(alerts: Iterable[Alert]) -> dict[int, dict[str, int]]:
    """``{alert id: {"in_scope", "shown", "cleared"}}`` for many alerts in two queries."""
    alerts = list(alerts)
    if not alerts:
        return {}
    organisation_ids = {a.organisation_id for a in alerts}
    per_school: dict[int, tuple[int, int]] = {}  # school id → (organisation id, screens)
    for row in (
        Screen.objects.filter(
            token_hash__isnull=False, school__organisation_id__in=organisation_ids
        )
        .values("school_id", "school__organisation_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        per_school[row["school_id"]] = (row["school__organisation_id"], row["n"])
    acked: dict[int, tuple[int, int]] = {
        row["alert_id"]: (row["shown"], row["cleared"])
        for row in AlertReceipt.objects.filter(alert__in=[a.pk for a in alerts])
        .filter(_receipt_in_scope())
        .values("alert_id")
        .annotate(
            shown=Count("pk", filter=Q(shown_at__isnull=False)),
            cleared=Count("pk", filter=Q(cleared_at__isnull=False)),
        )
        .order_by()
    }
    counts: dict[int, dict[str, int]] = {}
    for alert in alerts:
        if alert.school_id is not None:
            in_scope = per_school.get(alert.school_id, (0, 0))[1]
        else:
            in_scope = sum(n for org, n in per_school.values() if org == alert.organisation_id)
        shown, cleared = acked.get(alert.pk, (0, 0))
        counts[alert.pk] = {"in_scope": in_scope, "shown": shown, "cleared": cleared}
    return counts


def restrict(summary: dict[str, Any], school_slugs: set[str] | None) -> dict[str, Any]:
    """``summary`` (from ``reach``) listing only screens of ``school_slugs`` (None: all).

    An organisation-wide alert's sender sees the counts of the whole scope but
    the names of screens only in schools they hold the alert right in; the
    rest are counted in ``elsewhere_not_shown`` / ``elsewhere_not_cleared``.
    """
    result = dict(summary)
    for key in ("not_shown", "not_cleared", "screens"):
        rows = summary[key]
        result[key] = (
            rows if school_slugs is None else [r for r in rows if r["school"] in school_slugs]
        )
        result[f"elsewhere_{key}"] = len(rows) - len(result[key])
    return result


# --- what an alert hides --------------------------------------------------------------
def alert_shown_on(screen_id: int, at: dt.datetime) -> int | None:
    """The alert screen ``screen_id`` was showing at ``at``, or None.

    An alert covers everything on a screen, the name an ``identify`` shows and
    a ``message`` included: such a command acknowledged then was hidden behind
    the alert, not seen. "Showing" is what the screen itself acknowledged: it
    showed the alert at or before ``at`` and had not acknowledged its end by then.
    """
    return (
        AlertReceipt.objects.filter(screen_id=screen_id, shown_at__lte=at)
        .filter(Q(cleared_at__isnull=True) | Q(cleared_at__gt=at))
        .filter(Q(alert__expires_at__isnull=True) | Q(alert__expires_at__gt=at))
        .order_by("-shown_at")
        .values_list("alert_id", flat=True)
        .first()
    )
