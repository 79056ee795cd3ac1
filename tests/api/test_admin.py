"""The admin page for management API keys (hallboard.api.admin): the key is shown once, at
creation; school admins manage their school's keys, organisation-wide keys are for superusers."""

from __future__ import annotations

import re

from hallboard.api.models import ApiKey, hash_key
from tests.conftest import Tenant, make_user, signed_in

ADD = "/admin/api/apikey/add/"


def test_a_new_key_is_shown_once_and_stored_hashed(tenant: Tenant) -> None:
    """Saving the add form shows the secret in the success message; the database holds its
    SHA-256 and its first ten characters, never the secret."""
    client = signed_in(make_user("ada", "admin", school=tenant.school))
    response = client.post(
        ADD,
        {
            "name": "MIS sync",
            "organisation": tenant.organisation.pk,
            "school": tenant.school.pk,
            "role": "timetabler",
        },
        follow=True,
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"])
    secret = re.fullmatch(r"API key “MIS sync” \(shown only once\): (hbk_\S+)", message)
    assert secret is not None, message
    key = ApiKey.objects.get()
    assert (key.key_hash, key.prefix) == (hash_key(secret[1]), secret[1][:10])
    assert (key.school, key.role) == (tenant.school, "timetabler")
    assert secret[1] not in client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()


def test_revoking_reaches_only_the_keys_the_admin_may_manage(tenant: Tenant) -> None:
    """A school admin's revoke action revokes their school's key; an organisation-wide key and
    another school's key in the same selection stay valid, and the message counts one."""
    own, _ = ApiKey.create(
        name="own", organisation=tenant.organisation, school=tenant.school, role="admin"
    )
    other, _ = ApiKey.create(
        name="other", organisation=tenant.organisation, school=tenant.other_school, role="admin"
    )
    district, _ = ApiKey.create(name="district", organisation=tenant.organisation, role="admin")
    client = signed_in(make_user("ada", "admin", school=tenant.school))
    response = client.post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [own.pk, other.pk, district.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["Revoked 1 key."]
    revoked = {k.name for k in ApiKey.objects.all() if k.revoked_at is not None}
    assert revoked == {"own"}


def test_organisation_wide_keys_are_changed_by_superusers_only(tenant: Tenant) -> None:
    """A school admin does not even see an organisation-wide key (its change page sends them
    back to the admin's index); a superuser opens it."""
    district, _ = ApiKey.create(name="district", organisation=tenant.organisation, role="admin")
    page = f"/admin/api/apikey/{district.pk}/change/"
    school_admin = signed_in(make_user("ada", "admin", school=tenant.school))
    refused = school_admin.get(page)
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")
    assert signed_in(make_user("root", superuser=True)).get(page).status_code == 200
