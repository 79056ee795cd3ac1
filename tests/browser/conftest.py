"""Browser tests: Debian's Chromium driven by Playwright, against a live server and gateway."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.gateway.server import Gateway, GatewayOptions

CHROMIUM = os.environ.get("HALLBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: Applied by every browser test module (a conftest's pytestmark is not).
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


class GatewayThread:
    """The push gateway on its own event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gateway = Gateway(
            MemoryBroker(), GatewayOptions(port=0, coalesce_window=0.2, drain_interval=0.01)
        )
        self._run(self.gateway.start())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    @property
    def port(self) -> int:
        return self.gateway.port

    def stop(self) -> None:
        self._run(self.gateway.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def gateway_thread(settings: Any) -> Iterator[GatewayThread]:
    gw = GatewayThread()
    settings.GATEWAY_PORT = gw.port
    yield gw
    gw.stop()


@pytest.fixture
def site(live_server: Any, gateway_thread: GatewayThread, settings: Any) -> str:
    """The live site's base URL, with quick polling so tests see polling work."""
    settings.DISPLAY_POLL_MIN_SECONDS = 1
    settings.DISPLAY_POLL_MAX_SECONDS = 3
    settings.DISPLAY_RATE_LIMIT = "10000/second"
    settings.PUBLIC_URL = live_server.url
    return str(live_server.url)


@pytest.fixture(scope="module")
def browser(django_db_setup: Any) -> Iterator[Any]:
    """One Chromium per module, closed before other modules' asyncio tests run (its
    event loop must not outlive the browser tests).

    Playwright's sync API keeps an event loop in the test's thread, so Django
    would refuse ORM calls there; the tests' own ORM use is synchronous and safe
    (Django docs, "Async safety"), hence DJANGO_ALLOW_ASYNC_UNSAFE while it runs.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A 1920x1080 page. Its context bypasses the page's Content-Security-Policy only so
    that Playwright's own predicates can run; ``strict_page`` keeps the policy."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def strict_page(browser: Any) -> Iterator[Any]:
    """A page under the display's real Content-Security-Policy."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
