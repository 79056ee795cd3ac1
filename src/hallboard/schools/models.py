"""Organisations (districts), schools, and who may do what in which school."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hallboard.i18n import LANGUAGES, supported


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)r is not an IANA time zone name (e.g. Europe/Berlin)."),
            params={"value": value},
        )


def default_language() -> str:
    """New schools speak the install's default language (``HALLBOARD_LANGUAGE``)."""
    return supported(settings.LANGUAGE_CODE)


class Organisation(models.Model):
    """A district or trust: one install may serve many."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
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
        DEFAULT = "default", _("Follow the global setting")
        ON = "on", _("Push on")
        OFF = "off", _("Push off (polling only)")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="schools",
    )
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(
        _("timezone"), max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    #: The language of the school's screens (staff pages speak each user's own).
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=LANGUAGES,
        default=default_language,
        # Rows written without it (older code during a rolling upgrade) get English.
        db_default="en",
    )
    revision = models.BigIntegerField(_("revision"), default=1, editable=False)
    #: When ``revision`` last changed (set by the same UPDATE that bumps it).
    revision_changed_at = models.DateTimeField(
        _("revision changed at"), null=True, blank=True, editable=False
    )
    push = models.CharField(_("push"), max_length=8, choices=Push.choices, default=Push.DEFAULT)

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
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

    ADMIN = "admin", pgettext_lazy("role", "Admin")  # everything, including screens and members
    OFFICE = "office", _("Office")  # announcements
    TIMETABLER = "timetabler", _("Timetabler")  # timetable and substitutions
    SAFETY = "safety", _("Safety officer")  # emergency alerts
    VIEWER = "viewer", _("Viewer")  # read only


class Membership(models.Model):
    """A user's role in one school. A user may hold several roles in several schools.

    For a role over every school of a district, see ``OrganisationMembership``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    school = models.ForeignKey(
        School, verbose_name=_("school"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "school", "role"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return _("%(user)s is %(role)s of %(school)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "school": self.school,
        }


class OrganisationMembership(models.Model):
    """A user's role over every school of an organisation, present and future.

    For district staff (an IT team looking after all schools' screens, a
    district safety officer): the role applies to each school of the
    organisation exactly as a ``Membership`` in that school would, including
    schools added later. ``hallboard.schools.access`` is where it is honoured.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="organisation_memberships",
        verbose_name=_("user"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)

    class Meta:
        verbose_name = _("organisation membership")
        verbose_name_plural = _("organisation memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="unique_organisation_membership"
            )
        ]

    def __str__(self) -> str:
        return _("%(user)s is %(role)s of every school of %(organisation)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "organisation": self.organisation,
        }
