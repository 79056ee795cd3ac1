"""Screens (hallway displays) and the commands sent to them."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import DEFERRED
from django.db.models.signals import m2m_changed
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hallboard.schools import revision
from hallboard.schools.models import School
from hallboard.screens import tokens
from hallboard.timetable.models import SchoolClass

#: Sent after commit when a screen's token was rotated or revoked (``screen_id``):
#: the realtime layer closes that screen's open sockets on every replica.
credentials_changed = Signal()


#: Sent after commit when a screen's device binding was reset (``screen_id``): the
#: status fast path of this process drops what it remembers of the screen at once.
binding_reset = Signal()


def _credentials_changed(screen_id: int) -> None:
    transaction.on_commit(
        lambda: credentials_changed.send(sender=Screen, screen_id=screen_id), robust=True
    )


def validate_grades(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(g, int) and 0 <= g <= 20 for g in value):
        raise ValidationError(
            _("Grades must be a list of whole numbers from 0 to 20, e.g. [5, 6].")
        )


class Screen(models.Model):
    """A hallway display of a school, identified by a hashed token and bound to one device.

    Changing what the screen shows (``DISPLAY_FIELDS`` and its classes) bumps the
    school's revision; heartbeats and binding do not.
    """

    class View(models.TextChoices):
        SCHOOL = "school", _("Whole school")
        CLASSES = "classes", _("Selected classes")
        GRADES = "grades", _("Selected grades")

    class Orientation(models.TextChoices):
        LANDSCAPE = "landscape", _("Landscape")
        PORTRAIT = "portrait", _("Portrait")

    class Mode(models.TextChoices):
        UNKNOWN = "unknown", _("Never connected")
        PUSH = "ws", _("Push (WebSocket)")
        POLL = "poll", _("Polling")

    class NextDay(models.TextChoices):
        NEVER = "never", _("Never")
        AFTER = "after", _("From a time of day on")
        ALWAYS = "always", _("Always")

    DISPLAY_FIELDS = (
        "name",
        "view",
        "grades",
        "hide_teacher_names",
        "orientation",
        "school_id",
        "next_day",
        "next_day_from",
        "large_text",
        "hide_past_periods",
    )

    school = models.ForeignKey(
        School, verbose_name=_("school"), on_delete=models.CASCADE, related_name="screens"
    )
    name = models.CharField(_("name"), max_length=80)
    location = models.CharField(_("location"), max_length=120, blank=True)
    view = models.CharField(_("view"), max_length=8, choices=View.choices, default=View.SCHOOL)
    classes = models.ManyToManyField(
        SchoolClass, verbose_name=_("classes"), blank=True, related_name="screens"
    )
    grades = models.JSONField(_("grades"), default=list, blank=True, validators=[validate_grades])
    hide_teacher_names = models.BooleanField(
        _("hide teacher names"),
        default=False,
        help_text=_("For student-facing screens: show no teacher names."),
    )
    orientation = models.CharField(
        _("orientation"), max_length=10, choices=Orientation.choices, default=Orientation.LANDSCAPE
    )
    next_day = models.CharField(
        _("show the next school day"),
        max_length=8,
        choices=NextDay.choices,
        default=NextDay.AFTER,
        help_text=_(
            "The next school day's plan beside today's: never, from a time of day on, or always. "
            "On days without school it is always shown."
        ),
    )
    next_day_from = models.TimeField(
        _("next school day from"),
        default=datetime.time(14, 0),
        help_text=_("School time from which the next school day is shown (with 'from a time')."),
    )
    large_text = models.BooleanField(
        _("large text"),
        default=False,
        help_text=_("Larger letters for screens read from further away (fewer rows a page)."),
    )
    hide_past_periods = models.BooleanField(
        _("hide past periods"),
        default=True,
        help_text=_("Periods that are over leave the changes list and the day's grid."),
    )
    allow_multi_device = models.BooleanField(
        _("allow multi device"),
        null=True,
        blank=True,
        help_text=_(
            "Empty: follow DISPLAY_ALLOW_MULTI_DEVICE. Yes: any device may show this screen."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    token_hash = models.CharField(  # noqa: DJ001 - NULL (revoked) must not collide in the unique index
        _("token hash"),
        max_length=64,
        unique=True,
        null=True,
        editable=False,
    )
    token_issued_at = models.DateTimeField(_("token issued at"), null=True, editable=False)
    device_key = models.CharField(  # noqa: DJ001 - binding is `UPDATE ... WHERE device_key IS NULL`
        _("device key"),
        max_length=128,
        null=True,
        blank=True,
        editable=False,
    )
    bound_at = models.DateTimeField(_("bound at"), null=True, blank=True, editable=False)

    last_heartbeat_at = models.DateTimeField(
        _("last heartbeat at"), null=True, blank=True, editable=False
    )
    revision_shown = models.BigIntegerField(
        _("revision shown"), null=True, blank=True, editable=False
    )
    connection_mode = models.CharField(
        _("connection mode"),
        max_length=8,
        choices=Mode.choices,
        default=Mode.UNKNOWN,
        editable=False,
    )
    client_info = models.JSONField(_("client info"), default=dict, blank=True, editable=False)
    #: The close code the gateway last refused this screen's push socket with
    #: (4403 bound elsewhere, 4409 push off, 1013 at capacity...), cleared when
    #: a socket is accepted again: the dashboard shows it as the reason.
    push_refused_code = models.PositiveSmallIntegerField(
        _("push refused code"), null=True, blank=True, editable=False
    )
    push_refused_at = models.DateTimeField(
        _("push refused at"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("screen")
        verbose_name_plural = _("screens")
        ordering = ["school", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.school})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or self._state.db or "default"
        with transaction.atomic(using=using):
            adding = self._state.adding
            loaded = getattr(self, "_loaded_display", None)
            super().save(*args, **kwargs)
            state = self._display_state()
            if adding or loaded != state:
                school_ids = {self.school_id}
                if loaded is not None:
                    school_ids.add(loaded[self.DISPLAY_FIELDS.index("school_id")])
                revision.touch(school_ids, using=using)
            self._loaded_display = state

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Screen:
        instance = super().from_db(*args, **kwargs)
        instance._loaded_display = instance._display_state()
        return instance

    def _display_state(self) -> tuple[Any, ...]:
        # Read the instance dict, not attributes: a deferred field (the status
        # path loads only a few columns) must not be fetched just to compare.
        return tuple(self.__dict__.get(f, DEFERRED) for f in self.DISPLAY_FIELDS)

    # --- token -------------------------------------------------------------
    def issue_token(self) -> str:
        """Give the screen a new token (rotating any old one) and return it, once.

        The old token stops working at once; open sockets are closed by the
        realtime layer when it sees the rotation.
        """
        token, digest = tokens.new_token()
        self.token_hash = digest
        self.token_issued_at = timezone.now()
        if self.pk is not None:
            type(self).objects.filter(pk=self.pk).update(
                token_hash=digest, token_issued_at=self.token_issued_at
            )
            _credentials_changed(self.pk)
        return token

    def revoke_token(self) -> None:
        """Make the current token invalid; the screen needs a new one to show anything."""
        self.token_hash = None
        type(self).objects.filter(pk=self.pk).update(token_hash=None)
        _credentials_changed(self.pk)

    def reset_binding(self) -> None:
        """Unbind the device: the next device key presented binds the screen again."""
        self.device_key = None
        self.bound_at = None
        type(self).objects.filter(pk=self.pk).update(device_key=None, bound_at=None)
        screen_id = self.pk
        transaction.on_commit(
            lambda: binding_reset.send(sender=Screen, screen_id=screen_id), robust=True
        )

    @property
    def multi_device_allowed(self) -> bool:
        if self.allow_multi_device is None:
            return bool(settings.DISPLAY_ALLOW_MULTI_DEVICE)
        return self.allow_multi_device


def _classes_changed(sender: Any, instance: Any, action: str, using: str, **_: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    # ``instance`` is a Screen, or a SchoolClass when changed from the reverse side:
    # both carry the school whose screens show something else now.
    revision.touch({instance.school_id}, using=using)


m2m_changed.connect(_classes_changed, sender=Screen.classes.through, dispatch_uid="screen-classes")


#: Pending commands younger than this are delivered when a screen connects (the
#: gateway, ``hallboard.realtime.gateway.db``); older ones count as expired (the API).
COMMAND_TTL = datetime.timedelta(minutes=10)


class Command(models.Model):
    """A controller command to a screen: stored at once, delivered when push is available
    (within ``COMMAND_TTL``)."""

    class Name(models.TextChoices):
        RELOAD = "reload", _("Reload the page")
        IDENTIFY = "identify", _("Show the screen's name large")
        MESSAGE = "message", _("Show a timed message")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        EXPIRED = "expired", _("Expired")

    screen = models.ForeignKey(
        Screen, verbose_name=_("screen"), on_delete=models.CASCADE, related_name="commands"
    )
    name = models.CharField(_("name"), max_length=16, choices=Name.choices)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} → {self.screen}"


class PushSettings(models.Model):
    """Run-time push flags (one row): change them in the admin or API, no restart needed.

    - ``enabled`` off: push is off for every screen (instant rollback); displays poll.
    - ``rollout_percent``: the share of screens, chosen by a stable hash of the
      screen id, that use push in schools that follow the default.
    - A school's own ``push`` setting (on/off) overrides the rollout.
    Without a row, ``DISPLAY_WS_ENABLED`` gives the default and the rollout is 100 %.
    """

    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Off: push off everywhere.")
    )
    rollout_percent = models.PositiveSmallIntegerField(
        _("rollout percent"),
        default=100,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Share of screens (stable by screen) that use push in schools on 'default'."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("push settings")
        verbose_name_plural = _("push settings")

    def __str__(self) -> str:
        if self.enabled:
            return _("push on, %(percent)s %%") % {"percent": self.rollout_percent}
        return _("push off, %(percent)s %%") % {"percent": self.rollout_percent}

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1  # a single row
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> PushSettings:
        row = cls.objects.filter(pk=1).first()
        if row is None:
            return cls(pk=1, enabled=bool(settings.DISPLAY_WS_ENABLED), rollout_percent=100)
        return row


PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a TV
PAIRING_CODE_LENGTH = 6


class PairingCode(models.Model):
    """A short code an unpaired display shows, until an admin claims it for a screen.

    The display also holds a secret (only its hash is stored here) with which it
    picks up the screen's token once the code is claimed. The token is issued at
    pick-up, exactly once, so no token is ever stored in clear.
    """

    code = models.CharField(_("code"), max_length=PAIRING_CODE_LENGTH, unique=True)
    secret_hash = models.CharField(_("secret hash"), max_length=64)
    device_key = models.CharField(_("device key"), max_length=128)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    screen = models.ForeignKey(
        Screen,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pairings",
        verbose_name=_("screen"),
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claimed by"),
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pairing code")
        verbose_name_plural = _("pairing codes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.code

    @property
    def expired(self) -> bool:
        return timezone.now() >= self.expires_at
