"""Organisation memberships: a role over every school of one organisation, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from hallboard.api.models import ApiKey
from hallboard.schools.access import Right, for_api_key, for_user
from hallboard.schools.models import Membership, OrganisationMembership
from hallboard.screens.models import Screen
from tests.conftest import ApiClient, Tenant, make_school, make_screen, make_user, signed_in


@pytest.fixture
def org_admin(tenant: Tenant, south: Tenant) -> Any:
    return make_user("district-it", "admin", organisation=tenant.organisation)


def slugs(queryset: Any) -> set[str]:
    return set(queryset.values_list("slug", flat=True))


def test_an_organisation_role_covers_every_school_of_that_organisation_only(
    tenant: Tenant, south: Tenant, org_admin: Any
) -> None:
    """An organisation admin holds every right in alpha and beta, and none in gamma or delta."""
    who = for_user(org_admin)
    for right in Right:
        assert slugs(who.schools(right)) == {"alpha", "beta"}, right
    assert not who.can(Right.VIEW, south.school)
    assert who.school_ids(Right.SCREENS) == {tenant.school.pk, tenant.other_school.pk}


def test_a_school_added_later_is_covered_at_once(tenant: Tenant, org_admin: Any) -> None:
    """The role covers future schools of the organisation, with no new membership."""
    later = make_school(tenant.organisation, "epsilon")
    assert for_user(org_admin).can(Right.SCREENS, later)


@pytest.mark.parametrize(
    ("role", "rights"),
    [
        ("office", {Right.VIEW, Right.ANNOUNCE}),
        ("timetabler", {Right.VIEW, Right.TIMETABLE}),
        ("safety", {Right.VIEW, Right.ALERT}),
        ("viewer", {Right.VIEW}),
    ],
)
def test_an_organisation_role_grants_what_the_role_grants_in_a_school(
    tenant: Tenant, role: str, rights: set[Right]
) -> None:
    """The role table applies unchanged: a district safety officer may alert, not manage screens."""
    who = for_user(make_user(f"district-{role}", role, organisation=tenant.organisation))
    for right in Right:
        assert bool(who.schools(right).exists()) == (right in rights), (role, right)


def test_school_and_organisation_roles_combine_without_duplicates(tenant: Tenant) -> None:
    """A user with both kinds of membership gets each school once."""
    user = make_user("both", "viewer", organisation=tenant.organisation)
    Membership.objects.create(user=user, school=tenant.school, role="admin")
    who = for_user(user)
    assert list(who.schools(Right.VIEW).order_by("slug").values_list("slug", flat=True)) == [
        "alpha",
        "beta",
    ]
    assert slugs(who.schools(Right.SCREENS)) == {"alpha"}


def test_organisation_wide_rights_need_an_organisation_role(
    tenant: Tenant, south: Tenant, org_admin: Any
) -> None:
    """Being admin of each school today is not being admin of the organisation."""
    school_admin = make_user("every-school", "admin", school=tenant.school)
    Membership.objects.create(user=school_admin, school=tenant.other_school, role="admin")
    assert not for_user(school_admin).organisations(Right.MANAGE).exists()
    assert slugs(for_user(org_admin).organisations(Right.MANAGE)) == {"north"}
    root = make_user("root", superuser=True)
    assert slugs(for_user(root).organisations(Right.MANAGE)) == {"north", "south"}
    org_key, _ = ApiKey.create(name="k", organisation=tenant.organisation, role="admin")
    school_key, _ = ApiKey.create(
        name="s", organisation=tenant.organisation, school=tenant.school, role="admin"
    )
    assert slugs(for_api_key(org_key).organisations(Right.MANAGE)) == {"north"}
    assert not for_api_key(school_key).organisations(Right.MANAGE).exists()


def test_an_inactive_user_holds_nothing(tenant: Tenant, org_admin: Any) -> None:
    """Deactivating the user removes every organisation-wide right."""
    org_admin.is_active = False
    org_admin.save()
    assert not for_user(org_admin).schools(Right.VIEW).exists()
    assert not for_user(org_admin).organisations(Right.VIEW).exists()


def test_the_api_honours_organisation_roles(tenant: Tenant, south: Tenant, org_admin: Any) -> None:
    """Signed in, the organisation admin lists north's schools and gets 404 for south's."""
    gamma_screen, _ = make_screen(south.school)
    client = ApiClient(client=signed_in(org_admin))
    assert {s["slug"] for s in client.get("schools").json()} == {"alpha", "beta"}
    assert client.get("schools/beta/screens").status_code == 200
    assert client.get("schools/gamma/screens").status_code == 404
    assert client.get(f"schools/gamma/screens/{gamma_screen.pk}").status_code == 404
    assert client.get("organisations/south/screens").status_code == 404


def test_the_admin_honours_organisation_roles(
    tenant: Tenant, south: Tenant, org_admin: Any
) -> None:
    """The organisation admin's screen list has north's screens; south's cannot be opened."""
    mine = [make_screen(s, name=f"{s.slug} hall")[0] for s in (tenant.school, tenant.other_school)]
    theirs, _ = make_screen(south.school, name="gamma hall")
    client = signed_in(org_admin)
    listed = {s.pk for s in client.get("/admin/screens/screen/").context["cl"].result_list}
    assert listed == {s.pk for s in mine}
    assert client.get(f"/admin/screens/screen/{theirs.pk}/change/").status_code in (302, 403, 404)
    client.post(f"/admin/screens/screen/{theirs.pk}/delete/", {"post": "yes"})
    assert Screen.objects.filter(pk=theirs.pk).exists()


MEMBERSHIPS = "/admin/schools/organisationmembership/"


def test_organisation_admins_manage_their_organisations_memberships_only(
    tenant: Tenant, south: Tenant, org_admin: Any
) -> None:
    """North's admin lists and adds north's organisation memberships, never south's."""
    southern = make_user("south-it", "admin", organisation=south.organisation)
    newcomer = make_user("newcomer")
    newcomer.is_staff = False
    newcomer.save()
    client = signed_in(org_admin)
    listed = client.get(MEMBERSHIPS).context["cl"].result_list
    assert {m.organisation.slug for m in listed} == {"north"}
    form = client.get(f"{MEMBERSHIPS}add/").context["adminform"].form
    assert slugs(form.fields["organisation"].queryset) == {"north"}

    client.post(
        f"{MEMBERSHIPS}add/",
        {"user": newcomer.pk, "organisation": tenant.organisation.pk, "role": "safety"},
    )
    assert OrganisationMembership.objects.filter(
        user=newcomer, organisation=tenant.organisation, role="safety"
    ).exists()
    newcomer.refresh_from_db()
    assert newcomer.is_staff  # may now sign in

    refused = client.post(
        f"{MEMBERSHIPS}add/",
        {"user": newcomer.pk, "organisation": south.organisation.pk, "role": "admin"},
    )
    assert refused.status_code == 200  # south is not a valid choice
    assert not OrganisationMembership.objects.filter(
        user=newcomer, organisation=south.organisation
    ).exists()
    theirs = OrganisationMembership.objects.get(user=southern)
    assert client.get(f"{MEMBERSHIPS}{theirs.pk}/change/").status_code in (302, 403, 404)
    client.post(f"{MEMBERSHIPS}{theirs.pk}/delete/", {"post": "yes"})
    assert OrganisationMembership.objects.filter(pk=theirs.pk).exists()


def test_school_admins_cannot_grant_organisation_roles(tenant: Tenant) -> None:
    """A school admin may not give anyone a role over the whole organisation."""
    client = signed_in(make_user("alpha-admin", "admin", school=tenant.school))
    assert client.get(MEMBERSHIPS).status_code == 403
    newcomer = make_user("newcomer")
    client.post(
        f"{MEMBERSHIPS}add/",
        {"user": newcomer.pk, "organisation": tenant.organisation.pk, "role": "admin"},
    )
    assert not OrganisationMembership.objects.exists()


def test_operators_manage_every_organisations_memberships(tenant: Tenant, south: Tenant) -> None:
    """A superuser adds an organisation membership anywhere."""
    client = signed_in(make_user("root", superuser=True))
    newcomer = make_user("newcomer")
    response = client.post(
        f"{MEMBERSHIPS}add/",
        {"user": newcomer.pk, "organisation": south.organisation.pk, "role": "viewer"},
    )
    assert response.status_code == 302
    assert OrganisationMembership.objects.filter(user=newcomer, role="viewer").exists()
