"""Who may read the metrics, and which schools' series they see.

Neither ``/metrics`` nor ``/api/display/ws-metrics/`` is public:

- ``Authorization: Bearer <METRICS_TOKEN>`` (a scraper): everything. The
  token is compared in constant time; with ``METRICS_TOKEN`` empty this way
  in is closed.
- A signed-in staff session: a superuser sees everything; other staff see the
  process figures (they hold no tenant data) and the per-school series
  (``hallboard_screens``, the alerts counted) of the schools they may view
  (``hallboard.schools.access``).
- Anyone else: 401 ``{"error": "unauthorized", ...}``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from hallboard.schools.access import Right, for_user


@dataclass(frozen=True)
class Viewer:
    #: The schools whose series this viewer sees; None: every school.
    school_ids: frozenset[int] | None
    how: str  # "token", "superuser" or "staff"


def token_matches(authorization: str) -> bool:
    """Whether an ``Authorization`` header value carries the metrics token.

    Also for processes that answer scrapes without Django's request object
    (a gateway serving ``/metrics`` on its own port).
    """
    expected = str(settings.METRICS_TOKEN or "")
    scheme, _, value = authorization.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), expected.encode())


def bearer_token_ok(request: HttpRequest) -> bool:
    return token_matches(request.headers.get("Authorization", ""))


def viewer(request: HttpRequest) -> Viewer | None:
    """Who is asking, or None when they may not see the metrics."""
    if bearer_token_ok(request):
        return Viewer(None, "token")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return None
    if user.is_superuser:
        return Viewer(None, "superuser")
    return Viewer(frozenset(for_user(user).school_ids(Right.VIEW)), "staff")


def unauthorized() -> JsonResponse:
    response = JsonResponse(
        {
            "error": "unauthorized",
            "detail": "Sign in as staff, or send Authorization: Bearer <METRICS_TOKEN>.",
        },
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="hallboard metrics"'
    response["Cache-Control"] = "no-store"
    return response
