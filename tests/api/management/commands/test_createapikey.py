"""``hallboard createapikey``: a management API key for an organisation or one of its schools,
printed once and stored only hashed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.api.models import KEY_PREFIX, ApiKey, hash_key
from tests.conftest import Tenant


def createapikey(*args: str) -> str:
    out = io.StringIO()
    call_command("createapikey", *args, stdout=out)
    return out.getvalue().strip()


def test_an_organisation_key_is_printed_once_and_stored_hashed(tenant: Tenant) -> None:
    """Without --school the key covers every school of the organisation; what is printed is
    the secret, and only its hash and first characters are stored."""
    secret = createapikey("--org", "north", "--role", "viewer", "--name", "MIS sync")
    assert secret.startswith(KEY_PREFIX)
    key = ApiKey.objects.get()
    assert (key.name, key.organisation, key.school, key.role) == (
        "MIS sync",
        tenant.organisation,
        None,
        "viewer",
    )
    assert (key.key_hash, key.prefix) == (hash_key(secret), secret[:10])


def test_a_school_key_covers_that_school_only(tenant: Tenant) -> None:
    """--school limits the key to that school of the organisation."""
    createapikey("--org", "north", "--school", "beta", "--role", "admin", "--name", "Beta")
    assert ApiKey.objects.get().school == tenant.other_school


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--org", "nowhere"), "No organisation with slug 'nowhere'."),
        (("--org", "north", "--school", "gamma"), "No school 'gamma' in 'north'."),
    ],
)
def test_an_unknown_organisation_or_a_school_of_another_is_refused(
    south: Tenant, args: tuple[str, ...], error: str
) -> None:
    """An unknown organisation, or a school that is not the organisation's (gamma belongs to
    south), ends in an error naming it, and no key is made."""
    with pytest.raises(CommandError) as refused:
        createapikey(*args, "--role", "admin", "--name", "k")
    assert str(refused.value) == error
    assert not ApiKey.objects.exists()
