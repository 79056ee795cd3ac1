"""The one place emergency alerts are triggered, updated, cleared and cancelled.

The admin, the management API and CAP messages all come through here, so the
rules hold whatever the door:

- **Who.** Only principals holding the ``alert`` right (admin and safety
  roles; ``hallboard.schools.access``), over the alert's scope: for a school's
  alert, the right in that school; for an organisation-wide alert (``school``
  empty), the right over the organisation as a whole
  (``Principal.organisations``: an organisation membership with the right, an
  organisation-wide API key, a superuser). The right in one, or even in every,
  school of the organisation is not enough: a school's safety officer alerts
  their school, never the district. This holds for triggering, updating, the
  all-clear and cancelling alike, through every door (admin, API, CAP, panel;
  ``may_act`` and ``organisation_scope_allowed`` are the rule). Through a
  school's URL (API, CAP, panel) the alert must also be in that school's scope
  (its own, or its organisation's).
- **What.** *Trigger* saves a new alert. *Update* changes what screens show
  (kind, severity, headline, instructions, start, expiry) of an alert that has
  not ended. *Clear* is the all-clear: the danger is over. *Cancel* ends an
  alert raised in error. Both end it on every screen the same way; ending an
  ended alert changes nothing.
- **Audit.** Every trigger, update, all-clear and cancel writes one
  ``AlertAuditEntry`` in the same transaction: who (user, "API key <name>",
  and the CAP sender), when, the scope, how many screens were in scope and
  online at that moment, and for an all-clear or cancel how many had shown the
  alert.

Bad input is Django's ``ValidationError`` (field by field); a principal without
the right gets ``NotAllowed``; a change to an ended alert ``AlertEnded``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from hallboard.alerts import delivery
from hallboard.alerts.models import Alert, AlertAuditEntry
from hallboard.schools.access import Principal, Right
from hallboard.schools.models import Organisation, School

logger = logging.getLogger("hallboard.alerts")

Action = AlertAuditEntry.Action
Source = AlertAuditEntry.Source

#: What an update may change. Moving an alert to another scope is a new alert.
UPDATABLE = ("kind", "severity", "headline", "instructions", "starts_at", "expires_at")


class AlertServiceError(Exception):
    """A refused alert operation; ``code`` is the API's error code."""

    code = "error"


class NotAllowed(AlertServiceError):
    code = "forbidden"


class AlertEnded(AlertServiceError):
    code = "alert_ended"


@dataclass(frozen=True)
class Actor:
    """Who acts, through which door; ``cap_sender`` for CAP messages."""

    principal: Principal
    source: str
    cap_sender: str = ""

    @property
    def user(self) -> Any:
        return self.principal.user_or_none

    @property
    def label(self) -> str:
        """Who, in words, as the audit log shows it."""
        key = self.principal.api_key
        if key is not None:
            who = f"API key {key.name}"
        elif self.user is not None:
            who = str(self.user.get_username())
        else:
            who = "unknown"
        if self.cap_sender:
            return f"CAP sender {self.cap_sender} via {who}"
        return who


def organisations_to_alert(principal: Principal) -> QuerySet[Organisation]:
    """The organisations whose every school ``principal`` may alert at once."""
    return principal.organisations(Right.ALERT)


def organisation_scope_allowed(principal: Principal, organisation: Organisation | int) -> bool:
    """Whether ``principal`` may trigger, change or end an alert of every school of
    ``organisation`` (the right over the organisation as a whole; see the module docstring)."""
    pk = organisation if isinstance(organisation, int) else organisation.pk
    return organisations_to_alert(principal).filter(pk=pk).exists()


def may_act(principal: Principal, alert: Alert, via_school: School | None = None) -> bool:
    """Whether ``principal`` may trigger, change or end ``alert`` (see the module docstring)."""
    if via_school is not None and not alert.reaches(via_school.pk, via_school.organisation_id):
        return False
    if alert.school_id is None:
        return organisation_scope_allowed(principal, alert.organisation_id)
    return principal.can(Right.ALERT, alert.school_id)


def check(actor: Actor, alert: Alert, via_school: School | None = None) -> None:
    """Raise ``NotAllowed`` unless ``actor`` may trigger, change or end ``alert``."""
    if may_act(actor.principal, alert, via_school):
        return
    logger.info(
        "alert refused: %s lacks the alert right for %r (%s)",
        actor.label,
        alert.headline,
        alert.scope_label,
    )
    if alert.school_id is None:
        raise NotAllowed(
            "Only a role over the whole organisation (an organisation membership or an "
            "organisation-wide API key with the alert right) may trigger, change or end an "
            "alert of every school of the organisation."
        )
    raise NotAllowed("Your role does not include the alert right for this alert's scope.")


def _validate(alert: Alert) -> None:
    alert.full_clean(exclude=["created_by", "cleared_by"], validate_unique=False)


def _jsonable(value: Any) -> Any:
    return delivery.iso(value) if isinstance(value, dt.datetime) else value


def _audit(
    actor: Actor,
    alert: Alert,
    action: str,
    *,
    changes: dict[str, Any] | None = None,
    note: str = "",
) -> AlertAuditEntry:
    summary = delivery.reach(alert)
    ended = action in (Action.CLEAR, Action.CANCEL)
    entry = AlertAuditEntry.objects.create(
        alert=alert,
        organisation_id=alert.organisation_id,
        school_id=alert.school_id,
        action=action,
        at=timezone.now(),
        actor_user=actor.user,
        actor=actor.label[:200],
        source=actor.source,
        headline=alert.headline,
        severity=alert.severity,
        scope=alert.scope_label[:220],
        screens_in_scope=summary["in_scope"],
        screens_online=summary["online"],
        screens_shown=summary["shown"] if ended else None,
        changes=changes or {},
        note=note[:300],
    )
    logger.info(
        "alert %s %s by %s (%s): %s; %s screens in scope, %s online",
        alert.pk,
        action,
        entry.actor,
        actor.source,
        entry.scope,
        entry.screens_in_scope,
        entry.screens_online,
    )
    return entry


def trigger(
    actor: Actor, alert: Alert, *, via_school: School | None = None, note: str = ""
) -> Alert:
    """Save the new (unsaved) ``alert`` and put it on every screen in its scope."""
    if alert.pk is not None:
        raise ValueError("trigger() takes a new alert; use update() for an existing one")
    check(actor, alert, via_school)
    alert.created_by = actor.user
    _validate(alert)
    with transaction.atomic():
        alert.save()
        _audit(
            actor,
            alert,
            Action.TRIGGER,
            changes={f: _jsonable(getattr(alert, f)) for f in UPDATABLE},
            note=note,
        )
    return alert


def _locked(alert: Alert | int) -> Alert:
    pk = alert if isinstance(alert, int) else alert.pk
    # Lock only the alert row (PostgreSQL refuses FOR UPDATE on the nullable side of a join).
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("school", "organisation")
        .get(pk=pk)
    )


def update(
    actor: Actor,
    alert: Alert | int,
    changes: dict[str, Any],
    *,
    via_school: School | None = None,
    note: str = "",
) -> Alert:
    """Change what screens show of an alert that has not ended; unchanged values are ignored."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}; updatable: {UPDATABLE}")
    with transaction.atomic():
        current = _locked(alert)
        check(actor, current, via_school)
        if current.cleared_at is not None:
            raise AlertEnded("This alert has ended; trigger a new one.")
        diff = {
            field: [_jsonable(getattr(current, field)), _jsonable(value)]
            for field, value in changes.items()
            if getattr(current, field) != value
        }
        if not diff:
            return current
        for field in diff:
            setattr(current, field, changes[field])
        _validate(current)
        current.save()
        _audit(actor, current, Action.UPDATE, changes=diff, note=note)
    return current


def _end(
    actor: Actor,
    alert: Alert | int,
    action: str,
    via_school: School | None,
    note: str,
) -> Alert:
    with transaction.atomic():
        current = _locked(alert)
        check(actor, current, via_school)
        if current.cleared_at is not None:  # ending twice changes nothing
            return current
        current.cleared_at = timezone.now()
        current.cleared_by = actor.user
        current.cancelled = action == Action.CANCEL
        current.save()
        _audit(actor, current, action, note=note)
    return current


def clear(
    actor: Actor, alert: Alert | int, *, via_school: School | None = None, note: str = ""
) -> Alert:
    """The all-clear: the alert leaves every screen in its scope. Idempotent."""
    return _end(actor, alert, Action.CLEAR, via_school, note)


def cancel(
    actor: Actor, alert: Alert | int, *, via_school: School | None = None, note: str = ""
) -> Alert:
    """End an alert raised in error; screens drop it like an all-clear. Idempotent."""
    return _end(actor, alert, Action.CANCEL, via_school, note)
