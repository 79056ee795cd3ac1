"""The hallway screen in a real Chromium: rendering, push, polling, offline, alerts, commands."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hallboard.alerts.models import Alert
from hallboard.api.models import ApiKey
from hallboard.schools.models import School
from hallboard.screens import pairing
from hallboard.screens.models import Command, Screen
from hallboard.timetable.models import Announcement, Lesson, Room, Substitution
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_lesson, make_screen

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


def school_day(tenant: Tenant) -> None:
    """Lessons for every weekday and a substitution today, so any day renders content."""
    school = tenant.school
    today = timezone.now().astimezone(school.tz).date()
    for weekday in range(1, 8):
        make_lesson(school, "7a", weekday, 1)
        make_lesson(school, "7a", weekday, 2, rooms="A1")
    Substitution.objects.create(
        school=school,
        date=today,
        lesson=Lesson.objects.get(school=school, weekday=today.isoweekday(), period__number=2),
        kind=Substitution.Kind.ROOM_CHANGE,
        room=Room.objects.create(school=school, name="Library"),
        note="Moved to the library",
    )
    Announcement.objects.create(school=school, title="Welcome back")


def open_screen(page: Any, site: str, token: str) -> None:
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")


def test_first_render_shows_the_day(strict_page: Any, site: str, tenant: Tenant) -> None:
    """The screen shows school, substitutions, timetable and announcements, and goes live,
    all under its own Content-Security-Policy (nothing loaded from elsewhere)."""
    page = strict_page
    school_day(tenant)
    _, token = make_screen(tenant.school, name="Main entrance", hide_past_periods=False)
    open_screen(page, site, token)
    assert page.inner_text("#school-name") == "Alpha"
    assert "Moved to the library" in page.inner_text("#subs")
    assert "7a" in page.inner_text("#lessons")
    assert "Welcome back" in page.inner_text("#news")
    assert page.inner_text("#screen-name") == "Main entrance"
    page.wait_for_selector("#link:has-text('live')")
    assert re.match(r"As of \d\d:\d\d", page.inner_text("#asof"))
    assert page.is_hidden("#stale")


def test_an_announcement_from_the_api_appears_without_reload(
    page: Any, site: str, tenant: Tenant
) -> None:
    """An announcement created through the management API shows up by push."""
    _, token = make_screen(tenant.school)
    _, key = ApiKey.create(name="t", organisation=tenant.organisation, role="office")
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    page.evaluate("window.__sameDocument = true")
    response = Client().post(
        "/api/v1/schools/alpha/announcements",
        json.dumps({"title": "Fire drill at 11:00"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    page.wait_for_function("document.getElementById('news').innerText.includes('Fire drill')")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_with_push_refused_changes_arrive_by_polling(
    page: Any, site: str, tenant: Tenant, settings: Any
) -> None:
    """When the socket is refused, the screen still converges through polling."""
    settings.DISPLAY_WS_URL = "ws://127.0.0.1:9/ws/display/"  # nothing listens: refused
    _, token = make_screen(tenant.school)
    open_screen(page, site, token)
    Announcement.objects.create(school=tenant.school, title="Polling works")
    page.wait_for_function(
        "document.getElementById('news').innerText.includes('Polling works')", timeout=20_000
    )
    assert page.evaluate("window.hallboard.wsOpen") is False
    assert "polling" in page.inner_text("#link")


def test_unreachable_server_shows_the_cached_snapshot_with_a_stale_banner(
    page: Any, site: str, tenant: Tenant
) -> None:
    """Started while the server cannot be reached, the screen shows its last data, marked stale."""
    school_day(tenant)
    _, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.route("**/api/display/**", lambda route: route.abort())
    page.reload()
    page.wait_for_selector("#stale:not([hidden])")
    assert "Welcome back" in page.inner_text("#news")
    assert "last known" in page.inner_text("#stale")


def test_alert_covers_the_screen_until_the_all_clear(page: Any, site: str, tenant: Tenant) -> None:
    """An organisation alert overlays everything at once; the all-clear removes it."""
    _, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    alert = Alert.objects.create(
        organisation=tenant.organisation,
        kind=Alert.Kind.LOCKDOWN,
        severity=Alert.Severity.EXTREME,
        headline="Lockdown",
        instructions="Lock the doors.",
    )
    page.wait_for_selector("#alert:not([hidden])")
    assert page.inner_text("#alert-headline") == "Lockdown"
    covering = page.evaluate(
        "document.elementFromPoint(innerWidth / 2, innerHeight / 2).closest('#alert') !== null"
    )
    assert covering
    alert.cleared_at = timezone.now()
    alert.save()
    page.wait_for_selector("#alert", state="hidden")


def test_pairing_from_code_to_running_screen(page: Any, site: str, tenant: Tenant) -> None:
    """A display without a token shows a code; claiming it starts the screen."""
    screen, _ = make_screen(tenant.school, name="Library")
    page.goto(f"{site}/display/")
    page.wait_for_selector("#pairing-qr svg")
    code = page.inner_text("#pairing-code").replace(" ", "")
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    pairing.claim(code, screen)
    page.wait_for_selector("#pairing", state="hidden", timeout=20_000)
    page.wait_for_selector("body:not(.booting)")
    assert page.inner_text("#screen-name") == "Library"
    dk = page.evaluate("localStorage.getItem('hallboard.dk')")
    assert Screen.objects.get(pk=screen.pk).device_key == dk


def test_identify_and_reload_commands(page: Any, site: str, tenant: Tenant) -> None:
    """identify shows the screen's name; reload reloads; both are acknowledged."""
    screen, token = make_screen(tenant.school, name="Canteen")
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    identify = Command.objects.create(screen=screen, name="identify", payload={"seconds": 5})
    page.wait_for_selector("#overlay:not([hidden])")
    assert page.inner_text("#overlay-text") == "Canteen"

    page.evaluate("window.__beforeReload = true")
    reload = Command.objects.create(screen=screen, name="reload")
    page.wait_for_function("window.__beforeReload === undefined", timeout=20_000)
    page.wait_for_selector("body:not(.booting)")
    for command in (identify, reload):
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        while Command.objects.get(pk=command.pk).status != Command.Status.ACKNOWLEDGED:
            assert dt.datetime.now() < deadline, f"{command.name} was not acknowledged"
            page.wait_for_timeout(100)


@pytest.mark.parametrize(
    ("orientation", "size"), [("landscape", (1920, 1080)), ("portrait", (1080, 1920))]
)
def test_portrait_and_landscape(
    browser: Any, site: str, tenant: Tenant, orientation: str, size: tuple[int, int]
) -> None:
    """Each orientation lays the board out to fill the screen, with nothing overflowing it."""
    school_day(tenant)
    _, token = make_screen(tenant.school, orientation=orientation)
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        open_screen(page, site, token)
        assert page.evaluate(f"document.body.classList.contains('{orientation}')")
        board = page.evaluate("document.getElementById('board').getBoundingClientRect().toJSON()")
        assert (round(board["width"]), round(board["height"])) == size
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert page.evaluate(
            "[...document.querySelectorAll('.panel')].every(p => p.getBoundingClientRect().bottom"
            " <= innerHeight)"
        )
    finally:
        context.close()


def test_push_turned_off_for_the_school_falls_back_to_polling(
    page: Any, site: str, tenant: Tenant
) -> None:
    """Switching a school's push off closes the socket (4409); the screen keeps polling."""
    _, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    school = School.objects.get(pk=tenant.school.pk)
    school.push = School.Push.OFF
    school.save()
    page.wait_for_function("window.hallboard.wsOpen === false")
    Announcement.objects.create(school=tenant.school, title="Still current")
    page.wait_for_function(
        "document.getElementById('news').innerText.includes('Still current')", timeout=20_000
    )


def test_a_screen_bound_elsewhere_says_so(page: Any, site: str, tenant: Tenant) -> None:
    """A device refused with screen_bound explains it on screen instead of going blank."""
    screen, token = make_screen(tenant.school)
    Screen.objects.filter(pk=screen.pk).update(
        device_key="the-other-device", bound_at=timezone.now()
    )
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("#notice:not([hidden])")
    assert "bound to another device" in page.inner_text("#notice")


def test_a_german_device_refused_as_bound_explains_in_german(
    browser: Any, site: str, tenant: Tenant
) -> None:
    """A German school's screen URL opened on a second (German) device: the refusal comes
    before any snapshot names the school's language, and is explained in the device's."""
    School.objects.filter(pk=tenant.school.pk).update(language="de")
    screen, token = make_screen(tenant.school)
    Screen.objects.filter(pk=screen.pk).update(
        device_key="the-other-device", bound_at=timezone.now()
    )
    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        page.goto(f"{site}/display/?token={token}")
        page.wait_for_selector("#notice:not([hidden])")
        assert "an ein anderes Gerät gebunden" in page.inner_text("#notice")
    finally:
        context.close()


def test_a_timed_message_is_shown_and_acknowledged(page: Any, site: str, tenant: Tenant) -> None:
    """The message command shows its text over the board for its seconds."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    Command.objects.create(
        screen=screen, name="message", payload={"text": "Assembly now", "seconds": 2}
    )
    page.wait_for_selector("#overlay:not([hidden])")
    assert page.inner_text("#overlay-text") == "Assembly now"
    page.wait_for_selector("#overlay", state="hidden", timeout=10_000)


def test_a_revoked_token_sends_the_screen_back_to_pairing(
    page: Any, site: str, tenant: Tenant
) -> None:
    """When the token is revoked the socket closes with 4401 and the screen shows a code."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    Screen.objects.get(pk=screen.pk).revoke_token()
    page.wait_for_selector("#pairing-qr svg")
    assert page.evaluate("localStorage.getItem('hallboard.token')") is None


@pytest.mark.parametrize("restart", ["reload", "remote reload command"])
def test_a_screen_restarted_from_its_cache_opens_push_at_once(
    page: Any, site: str, tenant: Tenant, restart: str
) -> None:
    """Restarted with its snapshot cached, a screen hears only 304s (nothing changed) and
    still connects push at once: a command sent right after arrives by push, with no
    content change to bring the screen there."""
    screen, token = make_screen(tenant.school, name="Stairs")
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    answers: list[int] = []
    page.on(
        "response",
        lambda r: answers.append(r.status) if "/api/display/snapshot/" in r.url else None,
    )
    page.evaluate("window.__beforeRestart = true")
    if restart == "reload":
        page.reload()
    else:
        Command.objects.create(screen=screen, name="reload")
    page.wait_for_function("window.__beforeRestart === undefined", timeout=20_000)
    page.wait_for_selector("body:not(.booting)")
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while not answers:
        assert dt.datetime.now() < deadline, "the restarted screen asked for no snapshot"
        page.wait_for_timeout(50)
    assert set(answers) == {304}, "the restarted screen must start from its cache"
    Command.objects.create(screen=screen, name="identify", payload={"seconds": 30})
    page.wait_for_selector("#overlay:not([hidden])", timeout=10_000)
    assert page.inner_text("#overlay-text") == "Stairs"
    assert page.evaluate("window.hallboard.wsOpen") is True
    assert "live" in page.inner_text("#link")


def test_a_device_key_in_the_display_url_is_the_devices(
    page: Any, site: str, tenant: Tenant
) -> None:
    """A display URL with ?dk= binds the screen to that key (a kiosk's scripts can then
    ask as the same device); without it the page keeps the key it made itself."""
    screen, token = make_screen(tenant.school)
    page.goto(f"{site}/display/?token={token}&dk=lobby-pi-0001")
    page.wait_for_selector("body:not(.booting)")
    assert Screen.objects.get(pk=screen.pk).device_key == "lobby-pi-0001"
    assert page.evaluate("localStorage.getItem('hallboard.dk')") == "lobby-pi-0001"
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")
    page.wait_for_function("window.hallboard.confirmedAt > 0 && window.hallboard.dk")
    assert page.evaluate("window.hallboard.dk") == "lobby-pi-0001"
    assert page.is_hidden("#notice")  # still the bound device
