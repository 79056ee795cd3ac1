"""API keys (hallboard.api.models): a secret shown once, stored as its SHA-256, scoped to an
organisation or one of its schools."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError

from hallboard.api.models import KEY_PREFIX, ApiKey, hash_key
from tests.conftest import Tenant


def test_hash_key_is_the_sha256_of_the_key() -> None:
    """The stored form of a key: its SHA-256 in hexadecimal."""
    assert hash_key("hbk_abc") == hashlib.sha256(b"hbk_abc").hexdigest()


def test_create_returns_a_fresh_secret_and_stores_only_its_hash(tenant: Tenant) -> None:
    """Each key gets its own secret with the hbk_ prefix; the row holds the hash and the first
    ten characters, which the key's name shows."""
    key, secret = ApiKey.create(name="sync", organisation=tenant.organisation, role="admin")
    _, another = ApiKey.create(name="sync 2", organisation=tenant.organisation, role="admin")
    assert secret.startswith(KEY_PREFIX)
    assert secret != another
    key.refresh_from_db()
    assert (key.key_hash, key.prefix) == (hash_key(secret), secret[:10])
    assert secret not in {key.key_hash, key.prefix}
    assert str(key) == f"sync ({secret[:10]}…)"


def test_a_key_may_not_name_a_school_of_another_organisation(tenant: Tenant, south: Tenant) -> None:
    """clean() refuses a school outside the key's organisation, and accepts its own."""
    foreign = ApiKey(name="k", organisation=tenant.organisation, school=south.school, role="admin")
    with pytest.raises(ValidationError) as refused:
        foreign.clean()
    assert list(refused.value.message_dict) == ["school"]
    ApiKey(name="k", organisation=tenant.organisation, school=tenant.school, role="admin").clean()
