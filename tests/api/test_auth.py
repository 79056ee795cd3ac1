"""``hallboard.api.auth``: API keys (hashed, throttled) and staff sessions become principals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone

from hallboard import throttle
from hallboard.api import auth
from hallboard.api.models import ApiKey
from hallboard.schools.models import Role
from tests.conftest import Tenant, make_user, sample


@pytest.fixture(autouse=True)
def _strict_rate(settings: Any) -> None:
    settings.AUTH_FAILURE_RATE = "3/minute"


def _request(address: str = "198.51.100.7") -> Any:
    return RequestFactory().get("/api/v1/schools", REMOTE_ADDR=address)


def _key(tenant: Tenant, **fields: Any) -> tuple[ApiKey, str]:
    return ApiKey.create(name="k", organisation=tenant.organisation, role=Role.ADMIN, **fields)


def test_a_valid_key_is_its_principal(tenant: Tenant) -> None:
    """The secret of a live key gives that key's principal."""
    key, secret = _key(tenant, school=tenant.school)
    principal = auth.principal_for_key(secret, _request())
    assert principal is not None
    assert principal.api_key == key
    assert principal.school_ids() == {tenant.school.pk}


@pytest.mark.parametrize("secret", ["hbk_not-a-key", "no-prefix", "hbk_" + "x" * 300, "hbk_a\x00b"])
def test_wrong_malformed_long_or_nul_keys_are_refused_and_counted(
    tenant: Tenant, secret: str
) -> None:
    """An unknown key, one without the prefix, an overlong one or one with a NUL is refused,
    and counted as a failed authentication."""
    before = sample("hallboard_auth_failures_total", kind="api")
    assert auth.principal_for_key(secret, _request()) is None
    assert sample("hallboard_auth_failures_total", kind="api") == before + 1


def test_no_key_is_no_principal_and_no_failure(db: None) -> None:
    """No secret at all is simply unauthenticated: not counted against the address."""
    before = sample("hallboard_auth_failures_total", kind="api")
    assert auth.principal_for_key(None, _request()) is None
    assert auth.principal_for_key("", _request()) is None
    assert sample("hallboard_auth_failures_total", kind="api") == before


def test_a_revoked_key_is_refused(tenant: Tenant) -> None:
    """A revoked key no longer authenticates."""
    key, secret = _key(tenant)
    key.revoked_at = timezone.now()
    key.save()
    assert auth.principal_for_key(secret, _request()) is None


def test_an_address_that_failed_too_often_is_throttled_even_with_a_good_key(
    tenant: Tenant,
) -> None:
    """After the allowed failures, the address gets ``Throttled``, a good key too;
    another address is unaffected."""
    _, secret = _key(tenant)
    for n in range(3):
        auth.principal_for_key(f"hbk_wrong{n}", _request())
    with pytest.raises(throttle.Throttled) as caught:
        auth.principal_for_key(secret, _request())
    assert caught.value.retry_after >= 1
    assert auth.principal_for_key(secret, _request("198.51.100.99")) is not None


def test_without_a_request_nothing_is_throttled(tenant: Tenant) -> None:
    """Called without a request (no address), failures are not counted against anyone."""
    _, secret = _key(tenant)
    for n in range(5):
        assert auth.principal_for_key(f"hbk_wrong{n}") is None
    assert auth.principal_for_key(secret) is not None


def test_last_use_is_written_at_most_once_a_minute(tenant: Tenant) -> None:
    """A key's ``last_used_at`` is set on use, kept within a minute, renewed after that."""
    key, secret = _key(tenant)
    auth.principal_for_key(secret, _request())
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    auth.principal_for_key(secret, _request())
    key.refresh_from_db()
    assert key.last_used_at == first
    stale = timezone.now() - auth.LAST_USED_RESOLUTION - dt.timedelta(seconds=5)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    auth.principal_for_key(secret, _request())
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.last_used_at > stale


def test_bearer_and_header_authenticators_take_the_key(tenant: Tenant) -> None:
    """``Authorization: Bearer`` and ``X-API-Key`` both authenticate with the key."""
    key, secret = _key(tenant)
    by_bearer = auth.BearerKey().authenticate(_request(), secret)
    by_header = auth.HeaderKey().authenticate(_request(), secret)
    assert by_bearer is not None
    assert by_header is not None
    assert by_bearer.api_key == by_header.api_key == key
    assert auth.HeaderKey().authenticate(_request(), None) is None


def test_a_staff_session_is_its_users_principal(tenant: Tenant) -> None:
    """A signed-in active user is their principal; anonymous or deactivated users are not."""
    request = _request()
    request.user = make_user("v", Role.VIEWER, school=tenant.school)
    principal = auth.StaffSession().authenticate(request, "session-id")
    assert principal is not None
    assert principal.user == request.user
    request.user.is_active = False
    assert auth.StaffSession().authenticate(request, "session-id") is None
    request.user = AnonymousUser()
    assert auth.StaffSession().authenticate(request, "session-id") is None


def test_the_api_tries_bearer_header_and_session_in_that_order() -> None:
    """``AUTH`` lists the ways in: bearer key, ``X-API-Key`` header, staff session."""
    assert [type(a) for a in auth.AUTH] == [auth.BearerKey, auth.HeaderKey, auth.StaffSession]
