"""Emergency alerts: shown over everything on every screen in their scope.

Besides the alert itself: what each screen acknowledged (``AlertReceipt``), the
audit log of every trigger, update, all-clear and cancel (``AlertAuditEntry``),
and every CAP message received (``CapMessage``), so that CAP Update and Cancel
messages find the alert their ``references`` point at.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hallboard.schools.content import SchoolContent, SchoolContentQuerySet
from hallboard.schools.models import Organisation, School


class AlertQuerySet(SchoolContentQuerySet):
    def active(self, at: Any = None) -> AlertQuerySet:
        """Alerts not cleared and not expired at ``at`` (default: now)."""
        at = at or timezone.now()
        return self.filter(cleared_at__isnull=True, starts_at__lte=at).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )

    def for_school(self, school: School) -> AlertQuerySet:
        """Alerts whose scope includes ``school`` (its own, or its organisation's)."""
        return self.filter(
            models.Q(school=school)
            | models.Q(school__isnull=True, organisation_id=school.organisation_id)
        )


class Alert(SchoolContent):
    """An emergency alert for one school, or for every school of an organisation.

    Scope: ``school`` set → that school; ``school`` empty → the whole organisation.
    Cleared (all-clear) when ``cleared_at`` is set.
    """

    class Severity(models.TextChoices):
        # CAP 1.2 severities (issue: CAP import maps onto these).
        EXTREME = "extreme", _("Extreme")
        SEVERE = "severe", _("Severe")
        MODERATE = "moderate", _("Moderate")
        MINOR = "minor", _("Minor")

    class Kind(models.TextChoices):
        LOCKDOWN = "lockdown", _("Lockdown")
        EVACUATION = "evacuation", _("Evacuation")
        FIRE = "fire", _("Fire")
        SHELTER = "shelter", _("Shelter in place")
        WEATHER = "weather", _("Severe weather")
        OTHER = "other", _("Other")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    school = models.ForeignKey(
        School,
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
        help_text=_("Empty: every school of the organisation."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OTHER)
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.SEVERE
    )
    headline = models.CharField(_("headline"), max_length=160)
    instructions = models.TextField(_("instructions"), blank=True, max_length=2000)
    starts_at = models.DateTimeField(_("starts at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    cancelled = models.BooleanField(
        _("cancelled"),
        default=False,
        help_text=_("Ended by a cancel (raised in error) rather than by an all-clear."),
    )

    objects = AlertQuerySet.as_manager()  # type: ignore[misc]  # narrows the SchoolContent manager

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["organisation", "cleared_at"])]

    def __str__(self) -> str:
        return self.headline

    def clean(self) -> None:
        if (
            self.school is not None
            and self.organisation_id
            and self.school.organisation_id != self.organisation_id
        ):
            raise ValidationError(
                {"school": _("The school must belong to the alert's organisation.")}
            )
        if self.expires_at is not None and self.starts_at and self.expires_at <= self.starts_at:
            raise ValidationError({"expires_at": _("An alert must expire after it starts.")})

    @property
    def active(self) -> bool:
        now = timezone.now()
        return (
            self.cleared_at is None
            and self.starts_at <= now
            and (self.expires_at is None or self.expires_at > now)
        )

    @classmethod
    def school_ids_of(cls, queryset: models.QuerySet[Any]) -> Iterable[int]:
        scopes = set(queryset.order_by().values_list("organisation_id", "school_id").distinct())
        ids = {school_id for _, school_id in scopes if school_id is not None}
        org_ids = {org_id for org_id, school_id in scopes if school_id is None}
        if org_ids:
            ids |= set(
                School.objects.filter(organisation_id__in=org_ids).values_list("id", flat=True)
            )
        return ids

    def affected_school_ids(self) -> set[int]:
        if self.school_id is not None:
            return {self.school_id}
        return set(
            School.objects.filter(organisation_id=self.organisation_id).values_list("id", flat=True)
        )

    @property
    def scope_label(self) -> str:
        """The scope in words: the school's name, or "All schools of <organisation>"."""
        if self.school_id is not None:
            return str(self.school)
        return f"All schools of {self.organisation}"

    def reaches(self, school_id: int, organisation_id: int) -> bool:
        """Whether a screen of that school is in this alert's scope."""
        if self.school_id is not None:
            return self.school_id == school_id
        return self.organisation_id == organisation_id


class AlertReceipt(models.Model):
    """What one screen acknowledged of one alert: shown, and later cleared (all-clear).

    Written only through ``hallboard.alerts.delivery.record_receipt``; each
    timestamp is set once (the first acknowledgement wins), so repeats change nothing.
    """

    class Via(models.TextChoices):
        WS = "ws", _("Push socket")
        HTTP = "http", _("HTTP")

    alert = models.ForeignKey(
        Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="receipts"
    )
    screen = models.ForeignKey(
        "screens.Screen",
        on_delete=models.CASCADE,
        related_name="alert_receipts",
        verbose_name=_("screen"),
    )
    shown_at = models.DateTimeField(_("shown at"), null=True, blank=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    #: How the first acknowledgement arrived.
    via = models.CharField(_("via"), max_length=4, choices=Via.choices)

    class Meta:
        verbose_name = _("alert receipt")
        verbose_name_plural = _("alert receipts")
        constraints = [
            models.UniqueConstraint(fields=["alert", "screen"], name="unique_alert_receipt")
        ]

    def __str__(self) -> str:
        return f"{self.screen_id} / alert {self.alert_id}"


class AlertAuditEntry(models.Model):
    """One line of the alert audit log: who did what to which alert, when, and its reach then.

    Written by ``hallboard.alerts.service`` for every trigger, update, all-clear
    and cancel. It copies what it needs (headline, scope, actor's name) so that
    it still reads right after the alert or the user is gone; rows are never
    changed.
    """

    class Action(models.TextChoices):
        TRIGGER = "trigger", _("Triggered")
        UPDATE = "update", _("Updated")
        CLEAR = "clear", _("All-clear")
        CANCEL = "cancel", pgettext_lazy("alert action", "Cancelled")

    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin")
        API = "api", _("Management API")
        CAP = "cap", _("CAP message")
        PANEL = "panel", _("Emergency panel")

    alert = models.ForeignKey(
        Alert,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("alert"),
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="+"
    )
    school = models.ForeignKey(
        School,
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the alert covers the whole organisation."),
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor user"),
    )
    #: Who, in words: a user name, "API key <name>", and for CAP the message's sender.
    actor = models.CharField(_("actor"), max_length=200)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    headline = models.CharField(_("headline"), max_length=160)
    severity = models.CharField(_("severity"), max_length=16, choices=Alert.Severity.choices)
    scope = models.CharField(_("scope"), max_length=220, help_text=_("The alert's scope in words."))
    #: Screens with a token in the alert's scope at that moment, and of those the ones not offline.
    screens_in_scope = models.PositiveIntegerField(_("screens in scope"))
    screens_online = models.PositiveIntegerField(_("screens online"))
    #: For an all-clear or cancel: how many screens had acknowledged showing the alert.
    screens_shown = models.PositiveIntegerField(_("screens shown"), null=True, blank=True)
    #: For an update: ``{field: [before, after]}``.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("alert audit entry")
        verbose_name_plural = _("alert audit entries")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["organisation", "school", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.headline}"


class CapMessage(models.Model):
    """A CAP 1.2 message received, kept so that later Updates and Cancels resolve.

    CAP names earlier messages by ``sender,identifier,sent`` triples in
    ``<references>``. A message is stored once per scope it acted on
    (``scope_key``: ``school:<id>`` or ``org:<id>`` for an Alert, ``alert:<id>``
    for an Update or Cancel of that alert), so a repeat is recognised and
    changes nothing.
    """

    class MsgType(models.TextChoices):
        ALERT = "Alert", _("Alert")
        UPDATE = "Update", _("Update")
        CANCEL = "Cancel", pgettext_lazy("CAP message type", "Cancel")

    sender = models.CharField(_("sender"), max_length=255)
    identifier = models.CharField(_("identifier"), max_length=255)
    sent = models.DateTimeField(_("sent"))
    msg_type = models.CharField(_("msg type"), max_length=8, choices=MsgType.choices)
    scope_key = models.CharField(_("scope key"), max_length=40)
    alert = models.ForeignKey(
        Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="cap_messages"
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    received_by = models.CharField(_("received by"), max_length=200)
    xml = models.TextField(_("xml"))

    class Meta:
        verbose_name = _("CAP message")
        verbose_name_plural = _("CAP messages")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key", "sender", "identifier", "sent"], name="unique_cap_message"
            )
        ]
        indexes = [models.Index(fields=["sender", "identifier"])]

    def __str__(self) -> str:
        return f"{self.msg_type} {self.identifier} from {self.sender}"


class AlertTemplate(models.Model):
    """A ready alert behind one big button of the emergency panel.

    A school's own template (``school`` set) or a district's, offered on the
    panel of every school of its organisation (``school`` empty). The five
    built-ins (lockdown, evacuation, fire, shelter in place, severe weather)
    are created per school on first use (``hallboard.alerts.templates``), in
    the school's language from the translation catalogs; ``builtin`` names
    them, and a school admin may reword or hide them like any other.
    """

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="alert_templates",
    )
    school = models.ForeignKey(
        School,
        verbose_name=_("school"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_templates",
        help_text=_("Empty: offered to every school of the organisation."),
    )
    builtin = models.CharField(
        _("built-in"),
        max_length=16,
        blank=True,
        editable=False,
        help_text=_("Which built-in template this is (empty: the school's or district's own)."),
    )
    label = models.CharField(
        _("button label"), max_length=40, help_text=_("The words on the panel's button.")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Alert.Kind.choices)
    severity = models.CharField(
        _("severity"), max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.SEVERE
    )
    headline = models.CharField(_("headline"), max_length=160)
    instructions = models.TextField(_("instructions"), blank=True, max_length=2000)
    position = models.PositiveSmallIntegerField(
        _("position"), default=100, help_text=_("Buttons are shown in this order (lowest first).")
    )
    hidden = models.BooleanField(
        _("hidden"), default=False, help_text=_("Not offered on the emergency panel.")
    )

    class Meta:
        verbose_name = _("alert template")
        verbose_name_plural = _("alert templates")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "builtin"],
                condition=~models.Q(builtin=""),
                name="unique_builtin_alert_template",
            )
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if (
            self.school is not None
            and self.organisation_id
            and self.school.organisation_id != self.organisation_id
        ):
            raise ValidationError(
                {"school": _("The school must belong to the template's organisation.")}
            )


class AnnouncementTargets(models.Model):
    """The screens an announcement is shown on, when not on all of its school's.

    Set on the staff announcements page. Without a row the announcement is on
    every screen of its school; with one, only on ``screens`` (a screen deleted
    later simply drops out: the announcement never widens to every screen).
    It lives here, beside the alerts, because both are what the staff pages
    send to chosen screens; the announcement itself is ``timetable.Announcement``.
    """

    announcement = models.OneToOneField(
        "timetable.Announcement",
        verbose_name=_("announcement"),
        on_delete=models.CASCADE,
        related_name="targets",
    )
    screens = models.ManyToManyField(
        "screens.Screen", verbose_name=_("screens"), blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("announcement targets")
        verbose_name_plural = _("announcement targets")

    def __str__(self) -> str:
        return str(self.announcement)
