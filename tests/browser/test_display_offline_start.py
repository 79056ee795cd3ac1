"""A screen that reboots while the server is down, in Chromium with a persistent profile:
the service worker (``/display/sw.js``) brings back the page, local storage the data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from pytest_django.live_server_helper import LiveServer

from hallboard.display import page as display_page
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, GatewayThread, needs_chromium
from tests.browser.test_display_page import school_day
from tests.conftest import Tenant, make_screen

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def playwright(django_db_setup: Any) -> Iterator[Any]:
    """Playwright for this module's own browsers (persistent profiles, started and
    stopped inside the tests); see ``browser`` in conftest.py for the unsafe flag."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as driver:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield driver


class Site:
    """A web server and a gateway of its own, which a test can really stop: their
    listening sockets are closed, so the browser's connections are refused."""

    def __init__(self, settings: Any) -> None:
        self.gateway = GatewayThread()
        settings.GATEWAY_PORT = self.gateway.port
        settings.DISPLAY_POLL_MIN_SECONDS = 1
        settings.DISPLAY_POLL_MAX_SECONDS = 3
        settings.DISPLAY_RATE_LIMIT = "10000/second"
        self.server = LiveServer("127.0.0.1:0")
        self.url = self.server.url
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.stop()
            self.gateway.stop()


@pytest.fixture
def own_site(settings: Any) -> Iterator[Site]:
    site = Site(settings)
    yield site
    site.stop()


def start_browser(playwright: Any, profile: Path) -> Any:
    """Chromium on a profile directory that outlives it, like a kiosk's; under the
    display's real Content-Security-Policy."""
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        viewport={"width": 1920, "height": 1080},
    )


def first_page(context: Any) -> Any:
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(15_000)
    return page


def wait_for(page: Any, expression: str, what: str, seconds: float = 15) -> Any:
    """Poll a JavaScript expression (``page.wait_for_function`` needs eval, which the
    page's policy forbids) until it is truthy; its value."""
    for _ in range(int(seconds * 10)):
        try:
            value = page.evaluate(expression)
        except PlaywrightError:  # the page is navigating: ask again
            value = None
        if value:
            return value
        page.wait_for_timeout(100)
    pytest.fail(f"timed out waiting for {what}")


SHELL_CACHED = """async () => {
  const keys = (await caches.keys()).filter(k => k.startsWith('hallboard-shell-'));
  if (keys.length !== 1) return null;
  const cache = await caches.open(keys[0]);
  return {name: keys[0], urls: (await cache.keys()).map(r => new URL(r.url).pathname).sort()};
}"""


def test_a_screen_rebooted_while_the_server_is_down_shows_its_last_data(
    playwright: Any, own_site: Site, tenant: Tenant, tmp_path: Path
) -> None:
    """Loaded once, the screen keeps its shell; rebooted (browser restarted) while the
    server is stopped, it still starts, from the service worker, and shows its last
    data with the stale banner."""
    school_day(tenant)
    # past periods stay on the screen, so the test does not depend on the hour it runs at
    _, token = make_screen(tenant.school, name="Main entrance", hide_past_periods=False)
    url = f"{own_site.url}/display/?token={token}&dk=lobby-pi-0001"
    profile = tmp_path / "kiosk-profile"

    context = start_browser(playwright, profile)
    page = first_page(context)
    page.goto(url)
    page.wait_for_selector("body:not(.booting)")
    page.wait_for_selector("#link:has-text('live')")
    wait_for(page, "navigator.serviceWorker.controller !== null", "the worker to take over")
    cached = wait_for(page, SHELL_CACHED, "the shell in the cache")
    assert cached["urls"] == sorted(
        [
            "/display/",
            "/static/display/day.js",
            "/static/display/display.css",
            "/static/display/display.js",
            "/static/hallboard/i18n.js",
        ]
    )
    assert cached["name"] == f"hallboard-shell-{display_page.shell().version}"
    context.close()

    own_site.stop()

    context = start_browser(playwright, profile)
    try:
        page = first_page(context)
        response = page.goto(url)  # without the worker: net::ERR_CONNECTION_REFUSED
        assert response is not None
        assert response.from_service_worker
        page.wait_for_selector("#stale:not([hidden])")
        assert "last known information" in page.inner_text("#stale")
        assert "Welcome back" in page.inner_text("#news")
        assert "Moved to the library" in page.inner_text("#subs")
        assert page.inner_text("#screen-name") == "Main entrance"
        assert "polling" in page.inner_text("#link")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "offline-start.png"))
    finally:
        context.close()


def test_a_new_version_of_the_shell_replaces_the_cached_one(
    playwright: Any,
    own_site: Site,
    tenant: Tenant,
    tmp_path: Path,
    monkeypatch: Any,
    settings: Any,
) -> None:
    """When the server has a new page, script or style, the worker script differs, the
    browser installs the new worker, only the new version's shell stays cached, and the
    page reloads itself to run the new version."""
    settings.DISPLAY_WATCHDOG_CHECK_SECONDS = 1
    _, token = make_screen(tenant.school)
    context = start_browser(playwright, tmp_path / "kiosk-profile")
    try:
        page = first_page(context)
        page.goto(f"{own_site.url}/display/?token={token}")
        page.wait_for_selector("body:not(.booting)")
        old = wait_for(page, SHELL_CACHED, "the shell in the cache")["name"]
        wait_for(page, "window.hallboard.kiosk.shell === 'active'", "the worker to take over")
        page.wait_for_timeout(2000)
        assert page.evaluate("localStorage.getItem('hallboard.reload')") is None, (
            "the first install is no update"
        )
        page.evaluate("window.__sameDocument = true")

        current = display_page.shell()
        newer = display_page.Shell(current.page, current.assets, "0123456789abcdef")
        monkeypatch.setattr(display_page, "shell", lambda: newer)
        page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
        wait_for(
            page,
            f"({SHELL_CACHED})().then(c => c && c.name === 'hallboard-shell-{newer.version}')",
            "the new version's shell to replace the old one",
        )
        assert old != f"hallboard-shell-{newer.version}"
        wait_for(
            page,
            "window.__sameDocument === undefined && window.hallboard !== undefined"
            " && JSON.parse(localStorage.getItem('hallboard.reload') || '{}').reason === 'update'",
            "the page to reload itself for the new version",
        )
    finally:
        context.close()
