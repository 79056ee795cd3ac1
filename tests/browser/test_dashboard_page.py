"""The live screens dashboard in a real Chromium: rows follow displays without a reload."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.node import Kind
from hallboard.screens.models import Command, Screen
from hallboard.screens.tokens import hash_token
from hallboard.staff import views
from hallboard.timetable.models import Announcement
from tests.browser.conftest import GatewayThread, needs_chromium
from tests.conftest import Tenant, make_screen, make_user, revision_of, signed_in
from tests.display.conftest import ScreenClient

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

DEVICE = "device-0001"  # ScreenClient's device key


def sign_in(page: Any, site: str, user: Any) -> None:
    """Give the browser the session of ``user``."""
    session = signed_in(user).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": site}])


def open_dashboard(page: Any, site: str, path: str = "/staff/schools/alpha/") -> None:
    page.goto(site + path)
    page.wait_for_selector("#link.live")


def row(screen: Screen) -> str:
    return f'tr[data-screen="{screen.pk}"]'


@pytest.fixture
def admin(tenant: Tenant) -> Any:
    return make_user("alpha-admin", "admin", school=tenant.school)


@pytest.fixture
def display_socket(gateway_thread: GatewayThread) -> Iterator[Any]:
    """open(token) → a display's push socket on the test gateway (closed afterwards)."""
    with contextlib.ExitStack() as stack:

        def open_socket(token: str) -> ClientConnection:
            url = f"ws://127.0.0.1:{gateway_thread.port}/ws/display/?token={token}&dk={DEVICE}"
            ws = stack.enter_context(connect(url, open_timeout=10))
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            return ws

        yield open_socket


def receive_command(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "command":
            return dict(message)


def test_the_dashboard_follows_a_display_without_reload(
    page: Any, site: str, tenant: Tenant, admin: Any, display_socket: Any
) -> None:
    """A display comes online, an edit happens, the display shows it, a command is sent
    from the page and acknowledged: each shows in the open page, which never reloads."""
    screen, token = make_screen(tenant.school, name="Main entrance", location="Foyer")
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(f'{row(screen)}[data-status="offline"]')
    assert "never connected" in page.inner_text(row(screen))
    assert page.inner_text("#count-offline") == "1"
    page.evaluate("window.__sameDocument = true")

    # The display connects and heartbeats (polling): the row goes online.
    rev = revision_of(tenant.school)
    display = ScreenClient(token)
    display.heartbeat(
        {"rev": rev, "mode": "poll", "uptime_s": 5, "health": {"viewport": "1280x720"}}
    )
    page.wait_for_selector(f'{row(screen)}[data-status="online"]')
    text = page.inner_text(row(screen))
    assert "Polling" in text
    assert "1280x720" in text
    assert "Bound" in text
    assert page.inner_text("#count-online") == "1"

    # An edit: the school's current revision moves on in the page at once.
    Announcement.objects.create(school=tenant.school, title="Assembly")
    new = revision_of(tenant.school)
    page.wait_for_function(
        f"document.querySelector('{row(screen)} .col-revision').textContent.trim() === "
        f"'{rev} / {new}'"
    )
    # The display shows it and says so.
    display.heartbeat({"rev": new, "mode": "poll"})
    page.wait_for_function(
        f"document.querySelector('{row(screen)} .col-revision').textContent.trim() === "
        f"'{new} / {new}'"
    )

    # A command from the page reaches the display; its progress shows in the row.
    ws = display_socket(token)
    page.click(f'{row(screen)} button[data-action="identify"]')
    pushed = receive_command(ws)
    assert pushed["name"] == "identify"
    # The gateway reports delivery and the display's ack as frames to the page.
    page.wait_for_selector(f"{row(screen)} .cmd-status.delivered")
    ws.send(json.dumps({"type": "ack", "id": pushed["id"]}))
    page.wait_for_selector(f"{row(screen)} .cmd-status.acknowledged")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_the_page_works_under_its_content_security_policy(
    strict_page: Any, site: str, tenant: Tenant, admin: Any
) -> None:
    """Under its real policy the page loads its rows, goes live, and updates on a frame."""
    screen, token = make_screen(tenant.school, name="Library")
    page = strict_page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(f'{row(screen)}[data-status="offline"]')
    ScreenClient(token).heartbeat({"rev": revision_of(tenant.school), "mode": "ws"})
    page.wait_for_selector(f'{row(screen)}[data-status="online"]')
    assert errors == []


def test_screens_added_and_deleted_elsewhere_appear_and_disappear(
    page: Any, site: str, tenant: Tenant, admin: Any
) -> None:
    """A screen created or deleted in the admin or API shows up or goes away live."""
    first, _ = make_screen(tenant.school, name="B corridor")
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(row(first))
    added, _ = make_screen(tenant.school, name="A corridor")
    page.wait_for_selector(row(added))
    names = page.eval_on_selector_all(
        f"#rows-{tenant.school.pk} .name", "els => els.map(e => e.textContent)"
    )
    assert names == ["A corridor", "B corridor"]  # in name order
    Screen.objects.get(pk=first.pk).delete()
    page.wait_for_selector(row(first), state="detached")
    assert page.inner_text("#count-all") == "1"


def test_an_organisation_page_shows_each_school_and_its_own_frames(
    page: Any, site: str, tenant: Tenant
) -> None:
    """The organisation page has a section per school; a frame updates the right row."""
    district = make_user("district-it", "admin", organisation=tenant.organisation)
    alpha, _ = make_screen(tenant.school, name="Alpha hall")
    beta, beta_token = make_screen(tenant.other_school, name="Beta hall")
    sign_in(page, site, district)
    open_dashboard(page, site, "/staff/organisations/north/")
    page.wait_for_selector(f"#rows-{tenant.school.pk} {row(alpha)}")
    page.wait_for_selector(f"#rows-{tenant.other_school.pk} {row(beta)}")
    ScreenClient(beta_token).heartbeat({"rev": revision_of(tenant.other_school), "mode": "ws"})
    page.wait_for_selector(f'{row(beta)}[data-status="online"]')
    assert page.get_attribute(row(alpha), "data-status") == "offline"
    assert "1 online" in page.inner_text(f"#counts-{tenant.other_school.pk}")


def test_a_message_to_every_screen_of_the_school(
    page: Any, site: str, tenant: Tenant, admin: Any
) -> None:
    """ "Message to all" sends one command per screen; each row shows it."""
    screens = [make_screen(tenant.school, name=n)[0] for n in ("Hall", "Canteen")]
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(row(screens[1]))
    page.click(f'#school-{tenant.school.pk} button[data-school-action="message"]')
    page.fill("#message-text", "Fire drill at 11:00")
    page.select_option("#message-seconds", "60")
    page.click('#dlg-message button[value="send"]')
    for screen in screens:
        page.wait_for_selector(f"{row(screen)} .cmd-status.pending")
    sent = Command.objects.filter(screen__in=screens)
    assert sorted(c.payload["text"] for c in sent) == ["Fire drill at 11:00"] * 2
    assert {c.payload["seconds"] for c in sent} == {60}
    assert "sent to 2 screens" in page.inner_text("#flash")


def test_rotating_a_token_shows_the_new_url_once_with_a_copy_button(
    page: Any, site: str, tenant: Tenant, admin: Any
) -> None:
    """Rotate token (confirmed) shows the new display URL once; Copy puts it on the clipboard."""
    screen, old = make_screen(tenant.school, name="Hall")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.click(f"{row(screen)} details.more summary")
    page.click(f'{row(screen)} button[data-action="rotate-token"]')
    page.click("#confirm-ok")
    page.wait_for_selector("#dlg-token[open]")
    url = page.input_value("#token-url")
    assert url.startswith(f"{site}/display/?token=")
    new = url.split("token=")[1]
    assert Screen.objects.get(pk=screen.pk).token_hash == hash_token(new) != hash_token(old)
    page.click("#token-copy")
    page.wait_for_selector("#token-copied:not([hidden])")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.click('#dlg-token button[value="close"]')
    # Shown once: the dialog's close handler (an event, after the click) clears it.
    page.wait_for_function("document.querySelector('#token-url').value === ''")


def test_reset_binding_from_the_page(page: Any, site: str, tenant: Tenant, admin: Any) -> None:
    """Reset binding (confirmed) unbinds the screen; the row says so."""
    screen, token = make_screen(tenant.school, name="Hall")
    ScreenClient(token).heartbeat({"rev": 1})  # binds device-0001
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(f"{row(screen)} .col-binding:has-text('Bound')")
    page.click(f"{row(screen)} details.more summary")
    page.click(f'{row(screen)} button[data-action="reset-binding"]')
    page.click("#confirm-ok")
    page.wait_for_selector(f"{row(screen)} .col-binding:has-text('Not bound')")
    assert Screen.objects.get(pk=screen.pk).device_key is None


def test_the_page_reconnects_with_a_fresh_ticket(
    page: Any, site: str, tenant: Tenant, admin: Any, gateway_thread: GatewayThread
) -> None:
    """When the gateway closes the staff socket (1001) the page says so, fetches a new
    ticket, reconnects, and frames arrive again."""
    screen, token = make_screen(tenant.school, name="Hall")
    tickets: list[str] = []
    page.on("request", lambda r: tickets.append(r.url) if "/staff/ws-ticket/" in r.url else None)
    sign_in(page, site, admin)
    open_dashboard(page, site)
    gw = gateway_thread.gateway

    def close_staff_sockets() -> None:
        for conn, peer in list(gw.node.peers.items()):
            if peer.kind == Kind.STAFF:
                gw.close(conn, CloseCode.GOING_AWAY)

    gateway_thread.loop.call_soon_threadsafe(close_staff_sockets)
    page.wait_for_selector("#link.reconnecting")
    page.wait_for_selector("#link.live")
    assert len(tickets) >= 2
    ScreenClient(token).heartbeat({"rev": revision_of(tenant.school), "mode": "ws"})
    page.wait_for_selector(f'{row(screen)}[data-status="online"]')


def test_time_alone_turns_a_silent_screen_offline(
    page: Any, site: str, tenant: Tenant, admin: Any, settings: Any, monkeypatch: Any
) -> None:
    """With no frame at all, the periodic re-read shows a screen whose heartbeats stopped
    as offline."""
    monkeypatch.setattr(views, "REFRESH_SECONDS", 1)
    settings.DISPLAY_OFFLINE_AFTER_SECONDS = 90
    screen, _ = make_screen(tenant.school, name="Hall")
    Screen.objects.filter(pk=screen.pk).update(
        token_issued_at=timezone.now() - dt.timedelta(hours=1),
        last_heartbeat_at=timezone.now() - dt.timedelta(seconds=85),
        connection_mode="ws",
    )
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(f'{row(screen)}[data-status="online"]')
    settings.DISPLAY_OFFLINE_AFTER_SECONDS = 60  # the heartbeat is now too old
    page.wait_for_selector(f'{row(screen)}[data-status="offline"]')
    assert "no heartbeat since" in page.inner_text(row(screen))


def test_the_page_fits_a_laptop_screen(browser: Any, site: str, tenant: Tenant, admin: Any) -> None:
    """At 1366x768 the page needs no sideways scrolling, with long names and reasons."""
    for n in range(6):
        _, token = make_screen(
            tenant.school, name=f"Second floor east corridor by the science labs {n}"
        )
        if n % 2:
            ScreenClient(token).heartbeat(
                {"rev": 0, "mode": "poll", "uptime_s": 86400, "health": {"viewport": "1920x1080"}}
            )
    Screen.objects.filter(school=tenant.school).update(push_refused_code=4403)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        sign_in(page, site, admin)
        open_dashboard(page, site)
        page.wait_for_selector(f"#rows-{tenant.school.pk} tr >> nth=5")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert page.evaluate(
            "[...document.querySelectorAll('.table-wrap')]"
            ".every(w => w.scrollWidth <= w.clientWidth)"
        )
    finally:
        context.close()


def test_a_displays_watchdog_trend_is_drawn_in_its_row(
    strict_page: Any, site: str, tenant: Tenant, admin: Any
) -> None:
    """The heap, DOM size and uptime a display reported over the last hours are drawn as
    small lines with their latest value, with why and when the page last reloaded itself,
    under the page's Content-Security-Policy."""
    screen, token = make_screen(tenant.school, name="Canteen")
    page = strict_page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, site, admin)
    open_dashboard(page, site)
    page.wait_for_selector(f'{row(screen)}[data-status="offline"]')
    heap = [20, 22, 25, 31, 38, 46, 57, 70]
    ScreenClient(token).heartbeat(
        {
            "rev": revision_of(tenant.school),
            "mode": "ws",
            "uptime_s": 7 * 1800,
            "health": {
                "js_heap_mb": 70,
                "dom_nodes": 1450,
                "offline_shell": "active",
                "last_reload": {
                    "reason": "nightly",
                    "at": "2026-11-23T02:17:00Z",
                    "uptime_s": 86000,
                },
                "trend": {
                    "every_s": 1800,
                    "at": "2026-11-23T06:00:00Z",
                    "heap_mb": heap,
                    "dom_nodes": [1400, 1420, 1450, 1450, 1440, 1450, 1450, 1450],
                    "uptime_h": [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
                },
            },
        }
    )
    page.wait_for_selector(f'{row(screen)}[data-status="online"]')
    lines = page.locator(f"{row(screen)} .trend .spark")
    assert lines.count() == 3
    assert lines.nth(0).get_attribute("data-points") == str(len(heap))
    assert lines.nth(0).inner_text().split() == ["heap", "70", "MB"]
    assert "20\u201370 MB" in (lines.nth(0).get_attribute("title") or "")
    assert page.locator(f"{row(screen)} .trend polyline").count() == 3
    client = page.inner_text(f"{row(screen)} .col-client")
    assert "1450 nodes" in client
    assert "reloaded itself (nightly)" in client
    assert "03:17" in client  # in the school's zone (Berlin)
    assert errors == []

    # A display whose browser cannot keep the offline shell (no https) says so.
    ScreenClient(token).heartbeat({"rev": 0, "mode": "poll", "health": {"offline_shell": "failed"}})
    page.wait_for_selector(f"{row(screen)} .col-client:has-text('no offline start')")
    assert page.locator(f"{row(screen)} .trend").count() == 0
