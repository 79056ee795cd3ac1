"""Kiosk settings of the display page that schools and screens choose themselves."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hallboard.schools.content import SchoolContent
from hallboard.schools.models import School
from hallboard.screens.models import Screen

MAX_JITTER_MINUTES = 240


class ReloadSchedule(SchoolContent):
    """When screens reload their page at night (docs/kiosk.md, "Watchdog").

    A row without a screen holds for every screen of its school; a row with a
    screen holds for that screen alone. Without either, ``DISPLAY_RELOAD_AT``
    and ``DISPLAY_RELOAD_JITTER_MINUTES`` hold. Screens learn a change with the
    next snapshot (a change bumps the school's revision).
    """

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="reload_schedules")
    screen = models.OneToOneField(
        Screen,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reload_schedule",
        verbose_name=_("screen"),
        help_text=_("Empty: every screen of the school that has no schedule of its own."),
    )
    reload_at = models.TimeField(
        _("reload at"),
        null=True,
        blank=True,
        help_text=_("School-local time, e.g. 03:00. Empty: no nightly reload."),
    )
    jitter_minutes = models.PositiveSmallIntegerField(
        _("jitter (minutes)"),
        default=30,
        validators=[MaxValueValidator(MAX_JITTER_MINUTES)],
        help_text=_(
            "Each screen reloads at its own moment within this many minutes after the time, "
            "so that a school's screens do not all reload at once."
        ),
    )

    class Meta:
        verbose_name = _("nightly reload")
        verbose_name_plural = _("nightly reloads")
        ordering = ["school", "screen"]
        constraints = [
            models.UniqueConstraint(
                fields=["school"],
                condition=Q(screen__isnull=True),
                name="one_reload_schedule_per_school",
            ),
            models.CheckConstraint(
                condition=Q(jitter_minutes__lte=MAX_JITTER_MINUTES),
                name="reload_jitter_within_bound",
            ),
        ]

    def __str__(self) -> str:
        at = self.reload_at.strftime("%H:%M") if self.reload_at else "—"
        return f"{self.screen or self.school}: {at}"

    def clean(self) -> None:
        if self.screen is not None and self.school_id != self.screen.school_id:
            raise ValidationError({"screen": _("This screen belongs to another school.")})
        if (
            self.screen_id is None
            and self.school_id is not None
            and ReloadSchedule.objects.filter(school_id=self.school_id, screen__isnull=True)
            .exclude(pk=self.pk)
            .exists()
        ):
            raise ValidationError(
                {"screen": _("This school has a schedule for all its screens already.")}
            )
