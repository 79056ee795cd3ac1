"""Who is asking: a screen token plus the display's device key.

Both come as query parameters (``?token=...&dk=...``, what a display URL
carries) or as headers (``Authorization: Bearer <token>``, ``X-Device-Key``),
read by ``hallboard.display.credentials`` (the last of a repeated parameter).
Order of checks: token present (401), device key present and well-formed
(400), failed authentications from this address (429, ``hallboard.throttle``),
rate limit (429, before touching the database), token known (401, counted as
a failure of this address), device binding (403).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse

from hallboard import throttle
from hallboard.display import errors
from hallboard.display.credentials import DEVICE_KEY, MAX_TOKEN_LENGTH, Credentials, Problem, read
from hallboard.display.ratelimit import limiter
from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Screen
from hallboard.screens.tokens import hash_token

__all__ = ["DEVICE_KEY", "MAX_TOKEN_LENGTH", "authenticate", "credentials", "limited"]

logger = logging.getLogger("hallboard.display")


def credentials(request: HttpRequest) -> Credentials:
    """The request's credentials (``hallboard.display.credentials``: the last of repeated
    query parameters, as ``QueryDict.get``; the same rules as the status fast path)."""
    return read(
        request.GET.dict(),
        request.headers.get("Authorization", ""),
        request.headers.get("X-Device-Key", ""),
    )


def shape_refusal(found: Credentials, path: str) -> JsonResponse | None:
    """The answer to credentials of the wrong shape (before any lookup), or None."""
    problem = found.problem
    if problem is Problem.NO_TOKEN:
        logger.info("display refused: no token path=%s", path)
        return errors.invalid_token("Send the screen token as ?token= or Authorization: Bearer.")
    if problem is Problem.NO_DEVICE_KEY:
        logger.info("display refused: no device key path=%s", path)
        return errors.missing_device_key()
    if problem is Problem.BAD_DEVICE_KEY:
        logger.info("display refused: malformed device key path=%s", path)
        return errors.invalid_device_key()
    return None


def limited(address: str, digest: str, device_key: str) -> JsonResponse | None:
    """The 429 answer when ``address`` failed too often (``hallboard.throttle``) or this
    token and device are over the rate limit (the hit is counted); None: go on.

    The Django views and the status fast path both ask here, in this order."""
    try:
        throttle.check(throttle.Kind.DISPLAY, address)
    except throttle.Throttled as exc:
        return errors.error(429, "rate_limited", exc.detail, retry_after=exc.retry_after)
    retry_after = limiter().hit("display", digest[:32], device_key)
    if retry_after is not None:
        logger.info("display rate limited token=%s… dk=%s", digest[:8], device_key[:12])
        return errors.rate_limited(retry_after)
    return None


def authenticate(request: HttpRequest, *fields: str) -> Screen | JsonResponse:
    """The screen the request may act for, or the error answer to send.

    ``fields`` limits the columns loaded (the status path loads only what it needs).
    """
    found = credentials(request)
    refusal = shape_refusal(found, request.path)
    if refusal is not None:
        return refusal
    address = throttle.request_address(request)
    digest = hash_token(found.token)
    refusal = limited(address, digest, found.device_key)
    if refusal is not None:
        return refusal
    device_key = found.device_key

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
