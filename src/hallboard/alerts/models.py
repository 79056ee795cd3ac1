"""Emergency alerts: shown over everything on every screen in their scope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

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
        EXTREME = "extreme", "Extreme"
        SEVERE = "severe", "Severe"
        MODERATE = "moderate", "Moderate"
        MINOR = "minor", "Minor"

    class Kind(models.TextChoices):
        LOCKDOWN = "lockdown", "Lockdown"
        EVACUATION = "evacuation", "Evacuation"
        FIRE = "fire", "Fire"
        SHELTER = "shelter", "Shelter in place"
        WEATHER = "weather", "Severe weather"
        OTHER = "other", "Other"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="alerts")
    school = models.ForeignKey(
        School,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
        help_text="Empty: every school of the organisation.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.SEVERE)
    headline = models.CharField(max_length=160)
    instructions = models.TextField(blank=True, max_length=2000)
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = AlertQuerySet.as_manager()  # type: ignore[misc]  # narrows the SchoolContent manager

    class Meta:
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
            raise ValidationError({"school": "The school must belong to the alert's organisation."})

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
