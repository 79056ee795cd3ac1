"""The management API (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Every error has one shape, ``{"error": code, "detail": ...}`` (docs/api.md), and
every status an operation can answer is in the OpenAPI document: the ones any
operation can give (``COMMON_ERRORS``, plus 404 under a path with parameters and
413 with a request body) are added here for all of them; those only some give
(409, ...) are declared in their ``response=``. ``tests/api/test_router.py``
walks every operation with good and bad requests and fails on any status the
document does not list.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

import hallboard
from hallboard import dbhealth, safejson
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
from hallboard.api.errors import ApiError, ErrorOut
from hallboard.api.rendering import SchoolTimeRenderer
from hallboard.imports import api as imports
from hallboard.throttle import Throttled

logger = logging.getLogger("hallboard.api")

#: Statuses every operation may answer, with what they mean there.
COMMON_ERRORS = {
    400: "Malformed request: a NUL character in the URL, a body that is not JSON "
    "(or nested too deep, or holding NaN/Infinity), a multipart body that cannot be read, "
    "an invalid Idempotency-Key.",
    401: "No, unknown or revoked credentials.",
    403: "Your role lacks the right for this in this school (for an emergency alert of every "
    "school of an organisation: over the whole organisation), or a session without CSRF token.",
    422: "A value is invalid; `detail` lists `{loc, msg}` per problem.",
    429: "Too many failed authentications from your address, or too many attempts; "
    "see Retry-After.",
    503: "The database is not answering: nothing was done; see Retry-After.",
}
NOT_FOUND = "Unknown school or object, or one you may not see."
TOO_LARGE = "The request body is too large."


class SafeParser(Parser):
    """JSON bodies through ``hallboard.safejson`` (depth, NUL, finite, 64-bit limits)."""

    def parse_body(self, request: HttpRequest) -> Any:
        return safejson.loads(request.body)


class Api(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        document = super().get_openapi_schema(**kwargs)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorOut", ErrorOut.model_json_schema())
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for path, operations in document["paths"].items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                codes = dict(COMMON_ERRORS)
                if "{" in path:
                    codes[404] = NOT_FOUND
                if "requestBody" in operation:
                    codes[413] = TOO_LARGE
                for code, description in codes.items():
                    answers.setdefault(code, {"description": description, "content": error})
                for code, answer in answers.items():
                    if int(code) >= 400:
                        answer.setdefault("content", error)
        return document


api = Api(
    title="hallboard management API",
    version=hallboard.__version__,
    description=(
        "Manage announcements, substitutions, emergency alerts and screens of the schools "
        "your API key or session may see. Authenticate with `Authorization: Bearer hbk_...` "
        "or `X-API-Key: hbk_...`.\n\n"
        "Times are ISO 8601 with an offset, in the time zone of the school in the URL "
        "(`2026-11-23T22:35:00+01:00` in Berlin). A time sent without an offset is read "
        "as the school's local time; one the clocks skip (the spring change) is refused "
        "with 422. Error `detail` messages are in English.\n\n"
        "Creates accept an `Idempotency-Key` header: a retry with "
        "the same key is answered from the first answer instead of creating twice."
    ),
    urls_namespace="api-v1",
    auth=AUTH,
    renderer=SchoolTimeRenderer(),
    parser=SafeParser(),
)

for module in (schools, announcements, substitutions, calendar, alerts, screens, push, imports):
    api.add_router("", module.router)


def _error(
    request: HttpRequest, status: int, code: str, detail: object, *, log: bool = True
) -> HttpResponse:
    if log and status >= 400:
        logger.info("api %s %s → %s %s", request.method, request.path, status, code)
    response = api.create_response(request, {"error": code, "detail": detail}, status=status)
    # hallboard.api logs the one line; Django's request logger would add another.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


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


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    response = _error(request, 429, "rate_limited", exc.detail)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "No such object.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, safejson.Rejected):  # from SafeParser
        if cause.in_value:
            detail = [{"loc": ["body", *cause.loc], "msg": cause.detail}]
            return _error(request, 422, "validation_error", detail)
        return _error(request, 400, "invalid_json", cause.detail)
    if isinstance(cause, RequestDataTooBig):
        return _error(request, 413, "too_large", TOO_LARGE)
    if exc.status_code == 400:
        return _error(request, 400, "invalid_json", str(exc))
    codes = {403: "forbidden", 405: "method_not_allowed", 429: "rate_limited"}
    return _error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(MultiPartParserError)
def on_bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """A multipart body Django cannot read (no boundary, broken parts): the client's fault."""
    return _error(request, 400, "invalid_request", f"The multipart body cannot be read: {exc}")


@api.exception_handler(Exception)
def on_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database away: 503 with Retry-After. Anything else is a bug: JSON 500, logged."""
    outage = dbhealth.api_exception(exc)
    if outage is not None:
        response = _error(request, *outage, log=False)
        response["Retry-After"] = str(dbhealth.RETRY_AFTER_SECONDS)
        dbhealth.metrics.database_unavailable_total.inc()
        return response
    logger.exception("api %s %s failed", request.method, request.path)
    return _error(request, 500, "internal_error", "The server failed; this is a bug.", log=False)
