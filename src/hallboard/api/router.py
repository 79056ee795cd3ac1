"""The management API (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Every error has one shape, ``{"error": code, "detail": ...}`` (docs/api.md).
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import hallboard
from hallboard.api import (
    alerts,
    announcements,
    calendar,
    push,
    schools,
    screens,
    substitutions,
)
from hallboard.api.auth import AUTH
from hallboard.api.errors import ApiError
from hallboard.api.rendering import SchoolTimeRenderer
from hallboard.imports import api as imports

logger = logging.getLogger("hallboard.api")

api = NinjaAPI(
    title="hallboard management API",
    version=hallboard.__version__,
    description=(
        "Manage announcements, substitutions, emergency alerts and screens of the schools "
        "your API key or session may see. Authenticate with `Authorization: Bearer hbk_...` "
        "or `X-API-Key: hbk_...`.\n\n"
        "Times are ISO 8601 with an offset, in the time zone of the school in the URL "
        "(`2026-11-23T22:35:00+01:00` in Berlin). A time sent without an offset is read "
        "as the school's local time; one the clocks skip (the spring change) is refused "
        "with 422. Error `detail` messages are in English."
    ),
    urls_namespace="api-v1",
    auth=AUTH,
    renderer=SchoolTimeRenderer(),
)

for module in (schools, announcements, substitutions, calendar, alerts, screens, push, imports):
    api.add_router("", module.router)


def _error(request: HttpRequest, status: int, code: str, detail: object) -> HttpResponse:
    if status >= 400:
        logger.info("api %s %s → %s %s", request.method, request.path, status, code)
    return api.create_response(request, {"error": code, "detail": detail}, status=status)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status_code, exc.code, exc.detail)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors]
    return _error(request, 422, "validation_error", detail)


@api.exception_handler(AuthenticationError)
def on_unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request, 401, "unauthorized", "Send an API key (Authorization: Bearer) or sign in."
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "No such object.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {403: "forbidden", 405: "method_not_allowed", 429: "rate_limited"}
    return _error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))
