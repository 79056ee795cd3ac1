"""``/display/``: the page every hallway screen runs, all day, unattended.

``/display/sw.js`` is its service worker (``static/display/sw.js``, docs/kiosk.md):
it keeps the *shell* — this page and the scripts and styles it loads — so that a
screen rebooted while the server or the network is down still starts and shows
its last snapshot (kept by ``display.js`` in local storage) with the stale banner.

The worker is served from ``/display/`` so that its scope covers the page; the
shell's asset list is read from the rendered page itself, and its version is a
hash of everything in it, so that a new page, script or style makes a new worker
(browsers compare the worker script byte for byte) that replaces the cached shell.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from hallboard.i18n import jscatalog, supported
from hallboard.realtime.core import close_codes

# Screens often sit on closed networks: everything the page needs is served
# from here, and nothing else may load (no CDN, no third-party scripts).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self'; "
    "frame-ancestors 'none'"
)
# The worker fetches only this site's shell files.
WORKER_CONTENT_SECURITY_POLICY = "default-src 'self'"
WORKER_SOURCE = Path(__file__).parent / "static" / "display" / "sw.js"


def _context(language: str) -> dict[str, object]:
    """The page's context: every language's display strings, ``language`` first."""
    return {"i18n": jscatalog.page_data(default=language), "close_codes": close_codes.policy()}


@require_GET
def display_page(request: HttpRequest) -> HttpResponse:
    """The page, with every language's display strings: it speaks its school's language
    (``school.language`` of the snapshot) as soon as it knows its school, and the
    browser's (or the install's default) before, while it shows a pairing code."""
    response = render(request, "display/page.html", _context(supported(get_language())))
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-cache"
    response["Referrer-Policy"] = "no-referrer"  # the URL carries the screen token
    return response


class _Assets(HTMLParser):
    """The same-site scripts and stylesheets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = None
        if tag == "script":
            url = attributes.get("src")
        elif tag == "link" and (attributes.get("rel") or "").lower() == "stylesheet":
            url = attributes.get("href")
        if url and url.startswith("/") and not url.startswith("//") and url not in self.urls:
            self.urls.append(url)


@dataclass(frozen=True)
class Shell:
    """What the service worker keeps: the page's path, its assets, and their version."""

    page: str
    assets: tuple[str, ...]
    version: str

    def as_json(self) -> str:
        return json.dumps(
            {"version": self.version, "page": self.page, "assets": list(self.assets)},
            sort_keys=True,
        )


def _asset_bytes(url: str) -> bytes:
    """An asset's content when it is a static file found here, else its URL (a hashed
    static name changes with its content anyway)."""
    if url.startswith(settings.STATIC_URL):
        found = finders.find(url.removeprefix(settings.STATIC_URL).split("?", 1)[0])
        if isinstance(found, str):
            return Path(found).read_bytes()
    return url.encode()


def _build_shell() -> Shell:
    # With its words: a change of the catalogs is a new shell, too.
    page = render_to_string("display/page.html", _context(supported(settings.LANGUAGE_CODE)))
    parser = _Assets()
    parser.feed(page)
    digest = hashlib.sha256(page.encode())
    digest.update(WORKER_SOURCE.read_bytes())
    for url in parser.urls:
        digest.update(b"\0" + url.encode() + b"\0" + _asset_bytes(url))
    return Shell(reverse("display"), tuple(parser.urls), digest.hexdigest()[:16])


# Files do not change under a running server (a deploy restarts it); with DEBUG
# (development) the shell is worked out afresh on every request.
_cached_shell = cache(_build_shell)


def shell() -> Shell:
    return _build_shell() if settings.DEBUG else _cached_shell()


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The display's service worker, with the current shell in front of its code."""
    current = shell()
    body = f"var SHELL = {current.as_json()};\n{WORKER_SOURCE.read_text()}"
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # Browsers check for a new worker on navigation (and when the page asks); they
    # must always get the current one, never a copy from an HTTP cache.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = current.page
    response["Content-Security-Policy"] = WORKER_CONTENT_SECURITY_POLICY
    return response
