"""Organisations (districts), schools, and who may do what in which school."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

from hallboard.i18n import LANGUAGES, supported


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin).")


def default_language() -> str:
    """New schools speak the install's default language (``HALLBOARD_LANGUAGE``)."""
    return supported(settings.LANGUAGE_CODE)


class Organisation(models.Model):
    """A district or trust: one install may serve many."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class School(models.Model):
    """A school, the unit of tenancy: every piece of content belongs to one.

    ``revision`` is the truth every screen converges to: it is incremented in the
    same transaction as every change of anything the school's screens show
    (see ``hallboard.schools.revision``). Never write it directly.
    """

    class Push(models.TextChoices):
        DEFAULT = "default", "Follow the global setting"
        ON = "on", "Push on"
        OFF = "off", "Push off (polling only)"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="schools")
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    #: The language of the school's screens (staff pages speak each user's own).
    language = models.CharField(max_length=8, choices=LANGUAGES, default=default_language)
    revision = models.BigIntegerField(default=1, editable=False)
    #: When ``revision`` last changed (set by the same UPDATE that bumps it).
    revision_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    push = models.CharField(max_length=8, choices=Push.choices, default=Push.DEFAULT)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, never writing ``revision`` back; a change of an existing school bumps it.

        ``revision`` is only ever changed by ``UPDATE ... SET revision = revision + 1``
        (``hallboard.schools.revision``): writing back the value this instance
        loaded would undo bumps made since.
        """
        from hallboard.schools import revision

        using = kwargs.get("using") or self._state.db or "default"
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        fields = kwargs.pop("update_fields", None)
        if fields is None:
            fields = [f.attname for f in self._meta.concrete_fields if not f.primary_key]
        fields = [f for f in fields if f not in ("revision", "revision_changed_at")]
        with transaction.atomic(using=using):
            super().save(*args, update_fields=fields, **kwargs)
            revision.touch({self.pk}, using=using)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    """What a member may do in a school (docs/api.md lists each role's rights)."""

    ADMIN = "admin", "Admin"  # everything, including screens and members
    OFFICE = "office", "Office"  # announcements
    TIMETABLER = "timetabler", "Timetabler"  # timetable and substitutions
    SAFETY = "safety", "Safety officer"  # emergency alerts
    VIEWER = "viewer", "Viewer"  # read only


class Membership(models.Model):
    """A user's role in one school. A user may hold several roles in several schools.

    For a role over every school of a district, see ``OrganisationMembership``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "school", "role"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} of {self.school}"


class OrganisationMembership(models.Model):
    """A user's role over every school of an organisation, present and future.

    For district staff (an IT team looking after all schools' screens, a
    district safety officer): the role applies to each school of the
    organisation exactly as a ``Membership`` in that school would, including
    schools added later. ``hallboard.schools.access`` is where it is honoured.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organisation_memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="unique_organisation_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} of every school of {self.organisation}"
