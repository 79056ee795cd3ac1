"""``/display/``: the page every hallway screen runs, all day, unattended."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from hallboard.i18n import jscatalog, supported

# Screens often sit on closed networks: everything the page needs is served
# from here, and nothing else may load (no CDN, no third-party scripts).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'"
)


@require_GET
def display_page(request: HttpRequest) -> HttpResponse:
    """The page, with every language's display strings: it speaks its school's language
    (``school.language`` of the snapshot) as soon as it knows its school, and the
    browser's (or the install's default) before, while it shows a pairing code."""
    i18n = jscatalog.page_data(default=supported(get_language()))
    response = render(request, "display/page.html", {"i18n": i18n})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-cache"
    response["Referrer-Policy"] = "no-referrer"  # the URL carries the screen token
    return response
