"""Authentication for the management API: API keys (hashed) or a staff session.

Every authenticator returns a ``hallboard.schools.access.Principal``; endpoints
read it from ``request.auth`` and scope every query through it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer

from hallboard import throttle
from hallboard.api.models import KEY_PREFIX, ApiKey, hash_key
from hallboard.schools.access import Principal, for_api_key, for_user

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # write last_used_at at most once a minute


def principal_for_key(secret: str | None, request: HttpRequest | None = None) -> Principal | None:
    """The principal of an API key; a wrong key counts against the caller's address
    (``hallboard.throttle``: raises ``Throttled`` once it failed too often)."""
    if not secret:
        return None
    address = throttle.request_address(request) if request is not None else None
    if address is not None:
        throttle.check(throttle.Kind.API, address)
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200 or "\x00" in secret:
        if address is not None:
            throttle.failed(throttle.Kind.API, address)
        return None
    key = (
        ApiKey.objects.select_related("organisation", "school")
        .filter(key_hash=hash_key(secret), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        if address is not None:
            throttle.failed(throttle.Kind.API, address)
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return for_api_key(key)


class BearerKey(HttpBearer):
    """``Authorization: Bearer hbk_...``"""

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return principal_for_key(token, request)


class HeaderKey(APIKeyHeader):
    """``X-API-Key: hbk_...``"""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        return principal_for_key(key, request)


class StaffSession(APIKeyCookie):
    """A signed-in user's session (the admin's); CSRF is enforced on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if user.is_authenticated and user.is_active:
            return for_user(user)
        return None


AUTH = [BearerKey(), HeaderKey(), StaffSession()]
