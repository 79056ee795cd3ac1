"""The display protocol's error answers: ``{"error": code, "detail": ...}``.

Every refusal is logged (never with the token) and counted by error code in
``hallboard_display_refusals_total``, so an operator can see why screens are
refused without asking anyone to read a browser console.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse

from hallboard.observability import metrics

logger = logging.getLogger("hallboard.display")


def error(status: int, code: str, detail: str, *, retry_after: int | None = None) -> JsonResponse:
    metrics.display_refusals_total.labels(error=code).inc()
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def missing_device_key() -> JsonResponse:
    return error(
        400,
        "missing_device_key",
        "Send the display's device key as the dk query parameter or the X-Device-Key header.",
    )


def invalid_device_key() -> JsonResponse:
    return error(
        400,
        "invalid_device_key",
        "A device key is 8 to 128 characters of letters, digits, '-' and '_'.",
    )


def invalid_token(detail: str = "The screen token is unknown or was revoked.") -> JsonResponse:
    return error(401, "invalid_token", detail)


def screen_bound() -> JsonResponse:
    return error(
        403,
        "screen_bound",
        "This screen is bound to another device. An admin can reset the binding.",
    )


def rate_limited(retry_after: int) -> JsonResponse:
    return error(
        429,
        "rate_limited",
        f"Too many requests for this screen and device; retry in {retry_after} s.",
        retry_after=retry_after,
    )


def invalid_body(detail: str) -> JsonResponse:
    return error(400, "invalid_body", detail)


def unknown_alert() -> JsonResponse:
    return error(
        404, "unknown_alert", "No such alert for this screen (not in its school or organisation)."
    )
