"""``hallboard.schools.access``: which schools a user or API key may read or change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from hallboard.api.models import ApiKey
from hallboard.schools.access import ROLES_WITH_RIGHT, Principal, Right, for_api_key, for_user
from hallboard.schools.models import Membership, Role
from tests.conftest import Tenant, make_user

#: The table of docs/api.md: the rights each role holds.
EXPECTED = {
    Role.ADMIN: set(Right),
    Role.OFFICE: {Right.VIEW, Right.ANNOUNCE},
    Role.TIMETABLER: {Right.VIEW, Right.TIMETABLE},
    Role.SAFETY: {Right.VIEW, Right.ALERT},
    Role.VIEWER: {Right.VIEW},
}


def test_every_role_holds_exactly_its_documented_rights() -> None:
    """The role → rights table is the documented one: admin all, others view plus their own."""
    held = {role: {r for r, roles in ROLES_WITH_RIGHT.items() if role in roles} for role in Role}
    assert held == EXPECTED


@pytest.mark.parametrize("role", list(Role))
def test_a_school_member_holds_their_roles_rights_in_that_school_only(
    tenant: Tenant, role: Role
) -> None:
    """A member holds exactly their role's rights in their school, none in another."""
    principal = for_user(make_user("m", role, school=tenant.school))
    for right in Right:
        assert principal.can(right, tenant.school) == (right in EXPECTED[role])
        assert principal.can(right, tenant.other_school.pk) is False
        expected = {tenant.school.pk} if right in EXPECTED[role] else set()
        assert principal.school_ids(right) == expected


def test_anonymous_inactive_and_absent_users_see_nothing(tenant: Tenant) -> None:
    """No user, an anonymous user, and a deactivated member hold no school or organisation."""
    inactive = make_user("gone", Role.ADMIN, school=tenant.school)
    inactive.is_active = False
    inactive.save()
    for principal in (Principal(), for_user(AnonymousUser()), for_user(inactive)):
        assert principal.school_ids() == set()
        assert not principal.organisations().exists()


def test_a_superuser_sees_every_school_and_organisation(tenant: Tenant, south: Tenant) -> None:
    """A superuser holds every right in every school and over every organisation."""
    principal = for_user(make_user("root", superuser=True))
    assert principal.is_superuser
    assert principal.school_ids(Right.MANAGE) == {
        t.pk for t in (tenant.school, tenant.other_school, south.school, south.other_school)
    }
    assert set(principal.organisations(Right.MANAGE)) == {tenant.organisation, south.organisation}


def test_a_school_role_is_no_organisation_wide_right(tenant: Tenant) -> None:
    """Admin of every school today is not admin of the organisation (which covers new schools)."""
    user = make_user("a", Role.ADMIN, school=tenant.school)
    Membership.objects.create(user=user, school=tenant.other_school, role=Role.ADMIN)
    assert for_user(user).school_ids(Right.MANAGE) == {tenant.school.pk, tenant.other_school.pk}
    assert not for_user(user).organisations(Right.MANAGE).exists()
    org_admin = make_user("o", Role.ADMIN, organisation=tenant.organisation)
    assert list(for_user(org_admin).organisations(Right.MANAGE)) == [tenant.organisation]


def test_a_school_key_holds_its_role_in_its_school_only(tenant: Tenant, south: Tenant) -> None:
    """A school-scoped API key holds its role's rights in that one school, no organisation."""
    key, _ = ApiKey.create(
        name="k", organisation=tenant.organisation, school=tenant.school, role=Role.OFFICE
    )
    principal = for_api_key(key)
    assert principal.school_ids(Right.ANNOUNCE) == {tenant.school.pk}
    assert principal.school_ids(Right.ALERT) == set()
    assert not principal.organisations(Right.VIEW).exists()
    assert principal.user_or_none is None
    assert not principal.is_superuser


def test_an_organisation_key_covers_the_organisations_schools(
    tenant: Tenant, south: Tenant
) -> None:
    """An organisation-wide key covers every school of its organisation, no other tenant's."""
    key, _ = ApiKey.create(name="k", organisation=tenant.organisation, role=Role.ADMIN)
    principal = for_api_key(key)
    assert principal.school_ids(Right.SCREENS) == {tenant.school.pk, tenant.other_school.pk}
    assert list(principal.organisations(Right.MANAGE)) == [tenant.organisation]
    assert not principal.can(Right.VIEW, south.school)


def test_a_revoked_key_holds_nothing(tenant: Tenant) -> None:
    """Once revoked, a key holds no school and no organisation."""
    key, _ = ApiKey.create(name="k", organisation=tenant.organisation, role=Role.ADMIN)
    key.revoked_at = timezone.now()
    key.save()
    principal = for_api_key(key)
    assert principal.school_ids() == set()
    assert not principal.organisations().exists()


def test_the_author_recorded_is_the_signed_in_user(tenant: Tenant) -> None:
    """``user_or_none`` is the user for a session, None for anonymous users."""
    user = make_user("v", Role.VIEWER, school=tenant.school)
    assert for_user(user).user_or_none == user
    assert for_user(AnonymousUser()).user_or_none is None
