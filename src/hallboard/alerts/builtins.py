"""The built-in alert templates, and the templates a school's emergency panel offers.

``templates_for(school)`` creates the five built-ins for a school the first
time its panel (or the admin) asks, with their words taken from the
translation catalogs in the school's language; afterwards they are the
school's own rows, which its admins may reword, reorder or hide. The panel
offers the school's templates, then its district's (organisation-wide ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from hallboard.alerts.models import Alert, AlertTemplate
from hallboard.schools.models import School


@dataclass(frozen=True)
class Builtin:
    key: str
    kind: str
    severity: str
    label: Promise
    headline: Promise
    instructions: Promise


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "lockdown",
        Alert.Kind.LOCKDOWN,
        Alert.Severity.EXTREME,
        pgettext_lazy("alert template label", "Lockdown"),
        pgettext_lazy("alert template headline", "Lockdown"),
        pgettext_lazy(
            "alert template instructions",
            "Lock the doors. Stay away from doors and windows and keep quiet. "
            "Wait for the all-clear.",
        ),
    ),
    Builtin(
        "evacuation",
        Alert.Kind.EVACUATION,
        Alert.Severity.EXTREME,
        pgettext_lazy("alert template label", "Evacuation"),
        pgettext_lazy("alert template headline", "Evacuate the building"),
        pgettext_lazy(
            "alert template instructions",
            "Leave the building by the nearest exit and go to your assembly point. "
            "Do not use the lifts.",
        ),
    ),
    Builtin(
        "fire",
        Alert.Kind.FIRE,
        Alert.Severity.EXTREME,
        pgettext_lazy("alert template label", "Fire"),
        pgettext_lazy("alert template headline", "Fire alarm"),
        pgettext_lazy(
            "alert template instructions",
            "Leave the building at once by the nearest exit. Do not use the lifts. "
            "Go to your assembly point.",
        ),
    ),
    Builtin(
        "shelter",
        Alert.Kind.SHELTER,
        Alert.Severity.SEVERE,
        pgettext_lazy("alert template label", "Shelter in place"),
        pgettext_lazy("alert template headline", "Shelter in place"),
        pgettext_lazy(
            "alert template instructions",
            "Stay inside. Close the windows and doors and keep away from them. "
            "Wait for further instructions.",
        ),
    ),
    Builtin(
        "weather",
        Alert.Kind.WEATHER,
        Alert.Severity.SEVERE,
        pgettext_lazy("alert template label", "Severe weather"),
        pgettext_lazy("alert template headline", "Severe weather warning"),
        pgettext_lazy(
            "alert template instructions",
            "Stay inside the building and away from the windows. Wait for the all-clear.",
        ),
    ),
)


def seed(school: School) -> int:
    """Create the built-ins ``school`` lacks, in its language; returns how many were made."""
    have = set(
        AlertTemplate.objects.filter(school=school)
        .exclude(builtin="")
        .values_list("builtin", flat=True)
    )
    made = 0
    with translation.override(school.language):
        for position, builtin in enumerate(BUILTINS, start=1):
            if builtin.key in have:
                continue
            try:
                with transaction.atomic():
                    AlertTemplate.objects.create(
                        organisation_id=school.organisation_id,
                        school=school,
                        builtin=builtin.key,
                        label=str(builtin.label),
                        kind=builtin.kind,
                        severity=builtin.severity,
                        headline=str(builtin.headline),
                        instructions=str(builtin.instructions),
                        position=position * 10,
                    )
            except IntegrityError:  # made at the same moment by another request
                continue
            made += 1
    return made


def templates_for(school: School, *, include_hidden: bool = False) -> QuerySet[AlertTemplate]:
    """The templates ``school``'s panel offers: its own (built-ins first created), then its
    district's."""
    seed(school)
    templates = AlertTemplate.objects.filter(
        Q(school=school) | Q(school__isnull=True, organisation_id=school.organisation_id)
    )
    if not include_hidden:
        templates = templates.filter(hidden=False)
    # The school's own first, then the district's; each by position.
    district = Case(When(school__isnull=True, then=Value(1)), default=Value(0))
    return templates.annotate(district=district).order_by("district", "position", "pk")
