"""The display page's watchdog in a real Chromium: what its heartbeats report, and when it
reloads itself (a bound passed, the nightly time in the school's zone, never during an
alert). Time is Playwright's clock, so a night passes in a second."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from hallboard.alerts.models import Alert
from hallboard.display.models import ReloadSchedule
from hallboard.realtime.core.validation import MAX_CLIENT_INFO_BYTES
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_screen

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quick_watchdog(settings: Any) -> None:
    """A check every second, a trend point every second, no nightly reload by default."""
    settings.DISPLAY_WATCHDOG_CHECK_SECONDS = 1
    settings.DISPLAY_WATCHDOG_TREND_SECONDS = 1
    settings.DISPLAY_RELOAD_AT = ""


def open_screen(page: Any, site: str, token: str) -> None:
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")
    page.evaluate("window.__sameDocument = true")


def reloaded(page: Any) -> bool:
    """Whether the page was loaded again since ``open_screen`` (and has started)."""
    try:
        return bool(
            page.evaluate("window.__sameDocument === undefined && window.hallboard !== undefined")
        )
    except PlaywrightError:  # navigating right now
        return False


def wait_until(page: Any, condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"timed out waiting for {what}")


def settle(page: Any) -> None:
    """Wait until the reloaded page is live again, so that no socket is still connecting
    when the test's gateway shuts down."""
    page.wait_for_selector("#link:has-text('live')")


def last_reload(page: Any) -> Any:
    return page.evaluate("JSON.parse(localStorage.getItem('hallboard.reload'))")


def berlin(hour: int, minute: int) -> dt.datetime:
    """Today (in Berlin) at hour:minute, Berlin time: the test schools' zone."""
    zone = ZoneInfo("Europe/Berlin")
    today = timezone.now().astimezone(zone).date()
    return dt.datetime.combine(today, dt.time(hour, minute), tzinfo=zone)


def test_heartbeats_carry_uptime_heap_dom_nodes_and_their_trend(
    page: Any, site: str, tenant: Tenant, quick_watchdog: None
) -> None:
    """The health of a heartbeat has the page's DOM size and JS heap, whether its offline
    shell and persistent storage are in place, and a trend of the figures kept so far."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.kiosk.watchdog.trend?.dom_nodes.length >= 3")
    Announcement.objects.create(school=tenant.school, title="News")  # a heartbeat at once

    def reported() -> bool:
        info = Screen.objects.get(pk=screen.pk).client_info or {}
        return len(info.get("health", {}).get("trend", {}).get("dom_nodes", [])) >= 3

    wait_until(page, reported, "a heartbeat with a trend")
    info = Screen.objects.get(pk=screen.pk).client_info
    health = info["health"]
    assert info["uptime_s"] >= 0
    assert health["dom_nodes"] > 50
    assert health["js_heap_mb"] >= 1  # Chromium exposes performance.memory
    assert health["offline_shell"] in {"active", "registering"}
    assert isinstance(health["storage_persisted"], bool)
    trend = health["trend"]
    assert trend["every_s"] == 1
    assert len(trend["heap_mb"]) == len(trend["dom_nodes"]) == len(trend["uptime_h"])
    assert all(n > 50 for n in trend["dom_nodes"])
    assert dt.datetime.fromisoformat(trend["at"]) <= timezone.now()
    assert "last_reload" not in health  # this page never reloaded itself


def test_a_page_over_its_dom_bound_reloads_itself_once(
    page: Any, site: str, tenant: Tenant, settings: Any, quick_watchdog: None
) -> None:
    """Over a bound for several checks, the page reloads itself and says why in its next
    heartbeat; still over it after the reload, it does not reload again within the hour."""
    settings.DISPLAY_WATCHDOG_MAX_DOM_NODES = 10  # any page has more
    screen, token = make_screen(tenant.school)
    page.clock.install()
    open_screen(page, site, token)
    assert not reloaded(page)
    page.clock.fast_forward("00:30")  # older than ten checks
    wait_until(page, lambda: reloaded(page), "the page to reload itself")
    page.wait_for_selector("body:not(.booting)")
    assert last_reload(page)["reason"] == "dom_nodes"
    page.evaluate("window.__sameDocument = true")
    Announcement.objects.create(school=tenant.school, title="News")  # a heartbeat at once

    def reported() -> bool:
        health = (Screen.objects.get(pk=screen.pk).client_info or {}).get("health", {})
        return health.get("last_reload", {}).get("reason") == "dom_nodes"

    wait_until(page, reported, "a heartbeat saying why the page reloaded")
    page.clock.fast_forward("00:30")
    page.wait_for_timeout(3000)
    assert not reloaded(page), "a bound reloads at most once an hour"
    settle(page)


def test_the_nightly_reload_comes_at_the_schools_time(
    page: Any, site: str, tenant: Tenant, settings: Any, quick_watchdog: None
) -> None:
    """With a school schedule of 03:00 (school time), a page running since before 03:00
    reloads itself just after it; the install's default (off here) does not apply."""
    ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(3, 0), jitter_minutes=0)
    _, token = make_screen(tenant.school)
    page.clock.install(time=berlin(2, 58))
    open_screen(page, site, token)
    page.wait_for_timeout(2000)
    assert not reloaded(page)
    assert page.evaluate("window.hallboard.snap.meta.watchdog.nightly_reload_at") == "03:00"
    page.clock.fast_forward("03:00")
    wait_until(page, lambda: reloaded(page), "the nightly reload")
    page.wait_for_selector("body:not(.booting)")
    assert last_reload(page)["reason"] == "nightly"
    settle(page)


def test_the_nightly_reload_waits_while_an_alert_is_on_screen(
    page: Any, site: str, tenant: Tenant, quick_watchdog: None
) -> None:
    """A screen showing an alert at the nightly time keeps it; it reloads once the alert
    has ended."""
    screen, token = make_screen(tenant.school)
    ReloadSchedule.objects.create(
        school=tenant.school, screen=screen, reload_at=dt.time(3, 0), jitter_minutes=0
    )
    alert = Alert.objects.create(
        organisation=tenant.organisation,
        school=tenant.school,
        kind=Alert.Kind.EVACUATION,
        severity=Alert.Severity.EXTREME,
        headline="Evacuate",
    )
    page.clock.install(time=berlin(2, 58))
    open_screen(page, site, token)
    page.wait_for_selector("#alert:not([hidden])")
    page.clock.fast_forward("03:00")
    page.wait_for_timeout(4000)
    assert not reloaded(page), "no reload while an alert is on screen"
    assert page.is_visible("#alert")
    alert.cleared_at = timezone.now()
    alert.save()
    wait_until(page, lambda: reloaded(page), "the nightly reload after the all-clear")
    assert last_reload(page)["reason"] == "nightly"
    settle(page)


def test_each_screen_has_its_own_moment_within_the_jitter(
    page: Any, site: str, tenant: Tenant, quick_watchdog: None
) -> None:
    """The nightly moment lies within the jitter after the time, and stays the same for
    a device across reloads."""
    ReloadSchedule.objects.create(school=tenant.school, reload_at=dt.time(3, 0), jitter_minutes=90)
    _, token = make_screen(tenant.school)
    page.clock.install(time=berlin(12, 0))
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.kiosk.watchdog.nightlyAt !== null")
    moment = page.evaluate("window.hallboard.kiosk.watchdog.nightlyAt")
    at = dt.datetime.fromtimestamp(moment / 1000, tz=dt.UTC)
    assert berlin(3, 0) <= at < berlin(4, 30)
    page.reload()
    page.wait_for_function("window.hallboard.kiosk.watchdog.nightlyAt !== null")
    assert page.evaluate("window.hallboard.kiosk.watchdog.nightlyAt") == moment
    settle(page)


def test_a_full_trend_of_large_figures_still_fits_a_heartbeat(
    page: Any, site: str, tenant: Tenant, quick_watchdog: None
) -> None:
    """The trend is bounded (48 points): even with every figure at its largest, the
    heartbeat stays within the server's size limits and is stored whole."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.evaluate(
        """localStorage.setItem('hallboard.trend', JSON.stringify({
             every_s: 1, at: 1, heap_mb: Array(60).fill(99999),
             dom_nodes: Array(60).fill(9999999), uptime_h: Array(60).fill(99999.9)}))"""
    )
    page.reload()
    page.wait_for_selector("body:not(.booting)")
    # A check has kept the latest point and cut the rest.
    page.wait_for_function("window.hallboard.kiosk.watchdog.trend.dom_nodes.length === 48")
    Announcement.objects.create(school=tenant.school, title="News")  # a heartbeat at once

    def reported() -> bool:
        health = (Screen.objects.get(pk=screen.pk).client_info or {}).get("health", {})
        return len(health.get("trend", {}).get("dom_nodes", [])) == 48

    wait_until(page, reported, "a heartbeat with all 48 points")
    info = Screen.objects.get(pk=screen.pk).client_info
    assert len(json.dumps(info)) <= MAX_CLIENT_INFO_BYTES  # the HTTP heartbeat takes it too
    trend = info["health"]["trend"]
    assert trend["dom_nodes"][0] == 9999999
    assert trend["dom_nodes"][-1] < 9999999  # the point this page measured
    settle(page)


def test_a_trend_too_large_for_a_heartbeat_gives_way_and_the_heartbeat_still_arrives(
    page: Any, site: str, tenant: Tenant, quick_watchdog: None
) -> None:
    """Should the stored trend ever be too large (figures of absurd size), the heartbeat
    goes without it instead of being refused, which would report the screen offline."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    # Stored before the reloaded page's scripts run: set from the running page instead,
    # its own sampler (every second here) could overwrite it before the reload.
    page.add_init_script(
        """localStorage.setItem('hallboard.trend', JSON.stringify({
             every_s: 1, at: 1, heap_mb: Array(48).fill(1.2345678901234567e+300),
             dom_nodes: Array(48).fill(1.2345678901234567e+300),
             uptime_h: Array(48).fill(1.2345678901234567e+300)}))"""
    )
    page.reload()
    page.wait_for_selector("body:not(.booting)")
    page.wait_for_function("window.hallboard.kiosk.watchdog.trend.dom_nodes.length === 48")
    # The reloaded page's socket is open before the heartbeat, so that it goes over it (on a
    # loaded machine the socket may open only after the first heartbeat otherwise).
    page.wait_for_function("window.hallboard.wsOpen === true")
    Screen.objects.filter(pk=screen.pk).update(client_info={})
    Announcement.objects.create(school=tenant.school, title="News")  # a heartbeat at once

    def reported() -> bool:
        return "dom_nodes" in (Screen.objects.get(pk=screen.pk).client_info or {}).get("health", {})

    wait_until(page, reported, "a heartbeat")
    health = Screen.objects.get(pk=screen.pk).client_info["health"]
    assert "trend" not in health
    assert page.evaluate("window.hallboard.wsOpen") is True  # the socket was not closed for it
