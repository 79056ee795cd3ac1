"""``/display/``: the page every hallway screen runs, all day, unattended."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

# Screens often sit on closed networks: everything the page needs is served
# from here, and nothing else may load (no CDN, no third-party scripts).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'"
)


@require_GET
def display_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "display/page.html")
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-cache"
    response["Referrer-Policy"] = "no-referrer"  # the URL carries the screen token
    return response
