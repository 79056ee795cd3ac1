"""Errors no view answers: a NUL in a URL, and Django's own 400 and 404 on an API path.

- ``RejectNulMiddleware``: a URL (path or query) holding a NUL character is
  answered ``400`` before any view. No identifier, slug, code or query value
  of hallboard may contain one, and PostgreSQL cannot even compare text with
  one (the request would fail with a 500). One check for every URL, so no view
  has to remember it.
- ``bad_request``, ``not_found`` (``handler400``, ``handler404``): under
  ``/api/`` JSON ``{"error": ..., "detail": ...}``, never an HTML page; Django's
  pages elsewhere. (``handler500`` is ``hallboard.dbhealth.server_error``.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views import defaults

logger = logging.getLogger("hallboard.requests")

DETAIL = "The URL contains a NUL character."


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            logger.info("request refused: NUL in the URL of %s", request.path.replace("\x00", "␀"))
            response: HttpResponse
            if request.path.startswith("/api/"):
                response = JsonResponse({"error": "invalid_request", "detail": DETAIL}, status=400)
            else:
                response = HttpResponse(DETAIL, status=400, content_type="text/plain")
            response["Cache-Control"] = "no-store"
            response._has_been_logged = True  # type: ignore[attr-defined]  # logged above
            return response
        return self.get_response(request)


def _json(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400`` (e.g. a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""
    if request.path.startswith("/api/"):
        return _json(400, "invalid_request", "The request is malformed or too large.")
    return defaults.bad_request(request, exception or Exception())


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: an unknown URL."""
    if request.path.startswith("/api/"):
        return _json(404, "not_found", "No such endpoint.")
    return defaults.page_not_found(request, exception or Exception())
