"""Who may see and change what: the one place tenant isolation is decided.

A *principal* is a signed-in user (roles per school through ``Membership``,
roles over every school of an organisation, present and future, through
``OrganisationMembership``; superusers everywhere) or a management API key
(one role over one school or a whole organisation). Every view, admin page
and API endpoint asks this module which schools a principal may read or
change for a kind of content, and filters by that; nothing takes a school
from the client on trust.

Rights by role (docs/api.md has the same table):

=============  ======================================================
right          roles
=============  ======================================================
``view``       every role
``announce``   admin, office            (announcements)
``timetable``  admin, timetabler        (bell schedule, classes, lessons, substitutions)
``alert``      admin, safety            (emergency alerts, trigger and all-clear)
``screens``    admin                    (screens, tokens, bindings, commands)
``manage``     admin                    (the school itself, members, API keys)
=============  ======================================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from hallboard.schools.models import (
    Membership,
    Organisation,
    OrganisationMembership,
    Role,
    School,
)

if TYPE_CHECKING:
    from hallboard.api.models import ApiKey


class Right(enum.StrEnum):
    VIEW = "view"
    ANNOUNCE = "announce"
    TIMETABLE = "timetable"
    ALERT = "alert"
    SCREENS = "screens"
    MANAGE = "manage"


ROLES_WITH_RIGHT: dict[Right, frozenset[str]] = {
    Right.VIEW: frozenset(Role.values),
    Right.ANNOUNCE: frozenset({Role.ADMIN, Role.OFFICE}),
    Right.TIMETABLE: frozenset({Role.ADMIN, Role.TIMETABLER}),
    Right.ALERT: frozenset({Role.ADMIN, Role.SAFETY}),
    Right.SCREENS: frozenset({Role.ADMIN}),
    Right.MANAGE: frozenset({Role.ADMIN}),
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, or an API key (exactly one is set)."""

    user: Any = None
    api_key: ApiKey | None = None

    @property
    def is_superuser(self) -> bool:
        return bool(self.user is not None and self.user.is_active and self.user.is_superuser)

    def schools(self, right: Right = Right.VIEW) -> QuerySet[School]:
        """The schools in which this principal holds ``right``."""
        roles = ROLES_WITH_RIGHT[right]
        if self.api_key is not None:
            key = self.api_key
            if key.revoked_at is not None or key.role not in roles:
                return School.objects.none()
            scope = Q(pk=key.school_id) if key.school_id else Q(organisation_id=key.organisation_id)
            return School.objects.filter(scope)
        user = self.user
        if user is None or not user.is_authenticated or not user.is_active:
            return School.objects.none()
        if user.is_superuser:
            return School.objects.all()
        # Subqueries rather than joins: no duplicate rows to remove, and a
        # school added to the organisation later is covered at once.
        in_school = Membership.objects.filter(user=user, role__in=roles).values("school_id")
        in_organisation = OrganisationMembership.objects.filter(user=user, role__in=roles).values(
            "organisation_id"
        )
        return School.objects.filter(Q(pk__in=in_school) | Q(organisation_id__in=in_organisation))

    def organisations(self, right: Right = Right.VIEW) -> QuerySet[Organisation]:
        """The organisations over which this principal holds ``right`` as a whole.

        That is more than holding it in each of their schools today: it covers
        schools added later, so it is what managing organisation-wide things
        (organisation memberships, organisation-wide API keys) needs.
        """
        roles = ROLES_WITH_RIGHT[right]
        if self.api_key is not None:
            key = self.api_key
            if key.revoked_at is not None or key.role not in roles or key.school_id:
                return Organisation.objects.none()
            return Organisation.objects.filter(pk=key.organisation_id)
        user = self.user
        if user is None or not user.is_authenticated or not user.is_active:
            return Organisation.objects.none()
        if user.is_superuser:
            return Organisation.objects.all()
        return Organisation.objects.filter(
            pk__in=OrganisationMembership.objects.filter(user=user, role__in=roles).values(
                "organisation_id"
            )
        )

    def school_ids(self, right: Right = Right.VIEW) -> set[int]:
        return set(self.schools(right).values_list("pk", flat=True))

    def can(self, right: Right, school: School | int) -> bool:
        school_id = school if isinstance(school, int) else school.pk
        return self.schools(right).filter(pk=school_id).exists()

    @property
    def user_or_none(self) -> Any:
        """The user to record as author (None for API keys)."""
        return self.user if self.user is not None and self.user.is_authenticated else None


def for_user(user: Any) -> Principal:
    return Principal(user=user)


def for_api_key(key: ApiKey) -> Principal:
    return Principal(api_key=key)
