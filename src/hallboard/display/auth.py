"""Who is asking: a screen token plus the display's device key.

Both come as query parameters (``?token=...&dk=...``, what a display URL
carries) or as headers (``Authorization: Bearer <token>``, ``X-Device-Key``).
Order of checks: token present (401), device key present and well-formed
(400), failed authentications from this address (429, ``hallboard.throttle``),
rate limit (429, before touching the database), token known (401, counted as
a failure of this address), device binding (403).
"""

from __future__ import annotations

import logging
import re

from django.http import HttpRequest, JsonResponse

from hallboard import throttle
from hallboard.display import errors
from hallboard.display.ratelimit import limiter
from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token

logger = logging.getLogger("hallboard.display")

DEVICE_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")
MAX_TOKEN_LENGTH = 256


def credentials(request: HttpRequest) -> tuple[str, str]:
    token = request.GET.get("token", "")
    if not token:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    device_key = request.GET.get("dk", "") or request.headers.get("X-Device-Key", "")
    return token, device_key.strip()


def authenticate(request: HttpRequest, *fields: str) -> Screen | JsonResponse:
    """The screen the request may act for, or the error answer to send.

    ``fields`` limits the columns loaded (the status path loads only what it needs).
    """
    token, device_key = credentials(request)
    if not token or len(token) > MAX_TOKEN_LENGTH:
        logger.info("display refused: no token path=%s", request.path)
        return errors.invalid_token("Send the screen token as ?token= or Authorization: Bearer.")
    if not device_key:
        logger.info("display refused: no device key path=%s", request.path)
        return errors.missing_device_key()
    if not DEVICE_KEY.fullmatch(device_key):
        logger.info("display refused: malformed device key path=%s", request.path)
        return errors.invalid_device_key()

    address = throttle.request_address(request)
    try:
        throttle.check(throttle.Kind.DISPLAY, address)
    except throttle.Throttled as exc:
        return errors.error(429, "rate_limited", exc.detail, retry_after=exc.retry_after)

    digest = hash_token(token)
    retry_after = limiter().hit("display", digest[:32], device_key)
    if retry_after is not None:
        logger.info("display rate limited token=%s… dk=%s", digest[:8], device_key[:12])
        return errors.rate_limited(retry_after)

    queryset = Screen.objects.select_related("school")
    if fields:
        queryset = queryset.only(*fields)
    # The digest is looked up through the unique index; a token that hashes to
    # no row is unknown or revoked. (Equality on a SHA-256 of a 192-bit secret
    # leaks nothing useful through timing.)
    screen = queryset.filter(token_hash=digest).first()
    if screen is None:
        logger.info("display refused: unknown or revoked token hash=%s…", digest[:8])
        throttle.failed(throttle.Kind.DISPLAY, address)
        return errors.invalid_token()

    binding = bind_device(screen, device_key)
    if binding is Binding.REFUSED:
        logger.info("display refused: screen %s bound to another device", screen.pk)
        return errors.screen_bound()
    if binding is Binding.BOUND_NOW:
        logger.info("screen %s bound to device %s…", screen.pk, device_key[:12])
    return screen
