"""Emergency alerts in a real Chromium: acknowledged when shown and when ended, alerts
behind a more severe one, pushed alert frames, and the heartbeat after a new revision."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hallboard.alerts import service
from hallboard.alerts.delivery import reach
from hallboard.alerts.models import Alert, AlertReceipt
from hallboard.schools.access import for_user
from hallboard.screens.models import Screen
from hallboard.timetable.models import Announcement
from tests.alerts.conftest import make_member
from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_screen, revision_of

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]


def open_screen(page: Any, site: str, token: str) -> None:
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")


def wait_until(page: Any, condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Poll the database (through ``condition``) while the page runs, up to ``seconds``."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"timed out waiting for {what}")


def receipt(screen: Screen, alert: Alert) -> AlertReceipt | None:
    return AlertReceipt.objects.filter(screen=screen, alert=alert).first()


def shown(screen: Screen, alert: Alert) -> Callable[[], bool]:
    return lambda: (r := receipt(screen, alert)) is not None and r.shown_at is not None


def cleared(screen: Screen, alert: Alert) -> Callable[[], bool]:
    return lambda: (r := receipt(screen, alert)) is not None and r.cleared_at is not None


def safety_officer(tenant: Tenant) -> service.Actor:
    return service.Actor(for_user(make_member(tenant.school, "safety")), "api")


def trigger(actor: service.Actor, tenant: Tenant, headline: str, severity: str) -> Alert:
    return service.trigger(
        actor,
        Alert(
            organisation=tenant.organisation,
            school=tenant.school,
            headline=headline,
            severity=severity,
            kind=Alert.Kind.LOCKDOWN,
        ),
    )


@pytest.mark.parametrize("push", [True, False], ids=["push", "polling"])
def test_an_alert_is_acknowledged_when_shown_and_when_cleared(
    page: Any, site: str, tenant: Tenant, settings: Any, push: bool
) -> None:
    """The screen shows the alert and the server learns it did; after the all-clear the
    screen hides it and the server learns that too; the reach counts both."""
    if not push:
        settings.DISPLAY_WS_URL = "ws://127.0.0.1:9/ws/display/"  # nothing listens: refused
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    if push:
        page.wait_for_function("window.hallboard.wsOpen === true")
    actor = safety_officer(tenant)
    alert = trigger(actor, tenant, "Lockdown", "extreme")
    page.wait_for_selector("#alert:not([hidden])", timeout=20_000)
    assert page.inner_text("#alert-headline") == "Lockdown"
    wait_until(page, shown(screen, alert), "the shown acknowledgement")
    stored = receipt(screen, alert)
    assert stored is not None
    # Over the socket when push is up (its hello offers alert acks), else over HTTP.
    assert stored.via == ("ws" if push else "http")
    assert stored.cleared_at is None

    service.clear(actor, alert)
    page.wait_for_selector("#alert", state="hidden", timeout=20_000)
    wait_until(page, cleared(screen, alert), "the cleared acknowledgement")
    alert.refresh_from_db()
    summary = reach(alert)
    assert (summary["shown"], summary["cleared"]) == (1, 1)


def test_an_alert_behind_a_more_severe_one_is_not_acknowledged_as_ended(
    page: Any, site: str, tenant: Tenant
) -> None:
    """A severe alert, then an extreme one over it: the severe one is still active behind,
    so only when its own all-clear comes is its end acknowledged."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    actor = safety_officer(tenant)
    storm = trigger(actor, tenant, "Storm", "severe")
    wait_until(page, shown(screen, storm), "the storm shown")
    fire = trigger(actor, tenant, "Fire", "extreme")
    page.wait_for_function("document.getElementById('alert-headline').innerText === 'Fire'")
    wait_until(page, shown(screen, fire), "the fire shown")
    service.clear(actor, fire)
    page.wait_for_function("document.getElementById('alert-headline').innerText === 'Storm'")
    wait_until(page, cleared(screen, fire), "the fire's end acknowledged")
    assert not cleared(screen, storm)()  # still on screen: not ended
    service.clear(actor, storm)
    page.wait_for_selector("#alert", state="hidden", timeout=20_000)
    wait_until(page, cleared(screen, storm), "the storm's end acknowledged")


def test_a_new_revision_is_reported_at_once(page: Any, site: str, tenant: Tenant) -> None:
    """Right after showing a new revision the screen sends a heartbeat (not 30 s later), so
    the dashboard sees the revision shown."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    wait_until(
        page,
        lambda: Screen.objects.get(pk=screen.pk).revision_shown == revision_of(tenant.school),
        "the first heartbeat",
    )
    Announcement.objects.create(school=tenant.school, title="Choir at noon")
    page.wait_for_function("document.getElementById('news').innerText.includes('Choir')")
    current = revision_of(tenant.school)
    wait_until(
        page,
        lambda: Screen.objects.get(pk=screen.pk).revision_shown == current,
        "the heartbeat after the new revision",
        seconds=10,  # the periodic heartbeat comes only every 30 s
    )


# A stand-in for the browser's WebSocket: the test plays the server (CONTRACTS.md frames).
FAKE_SOCKET = """
window.__sockets = [];
window.WebSocket = function (url) {
  var self = this;
  self.url = url;
  self.sent = [];
  self.send = function (data) { self.sent.push(JSON.parse(data)); };
  self.close = function () {};
  self.receive = function (message) { self.onmessage({ data: JSON.stringify(message) }); };
  window.__sockets.push(self);
  setTimeout(function () { self.onopen && self.onopen({}); }, 0);
};
"""


def payload(pk: int, severity: str, headline: str) -> dict[str, Any]:
    return {
        "id": pk,
        "kind": "fire",
        "severity": severity,
        "headline": headline,
        "instructions": "",
        "scope": "school",
        "starts_at": "2026-11-23T08:00:00Z",
        "expires_at": None,
    }


def test_pushed_alert_frames_are_shown_at_once_and_acknowledged_on_the_socket(
    page: Any, site: str, tenant: Tenant
) -> None:
    """With a server whose hello carries "alert": a pushed alert shows at once, a less severe
    one does not replace it, a more severe one does, an end that leaves another alert shows
    that one, an end hides it; every ack goes over the socket, once, and none over HTTP."""
    _, token = make_screen(tenant.school)
    page.add_init_script(FAKE_SOCKET)
    http_acks: list[str] = []
    page.on("request", lambda r: http_acks.append(r.url) if "/api/display/ack/" in r.url else None)
    open_screen(page, site, token)
    page.wait_for_function("window.__sockets.length === 1 && window.hallboard.wsOpen")
    # From here on the snapshot cannot overrule what is pushed (no alert exists on the server).
    page.route("**/api/display/snapshot/**", lambda route: route.abort())
    page.route("**/api/display/status/**", lambda route: route.abort())

    def push(message: dict[str, Any]) -> None:
        page.evaluate(f"window.__sockets[0].receive({json.dumps(message)})")

    def acks() -> list[dict[str, Any]]:
        sent = page.evaluate("window.__sockets[0].sent")
        return [m for m in sent if m.get("type") == "ack"]

    rev = page.evaluate("window.hallboard.snap.meta.rev")
    push({"type": "hello", "rev": rev, "screen": 1, "heartbeat_s": 30, "alert": None})
    push({"type": "alert", "alert": payload(101, "severe", "Storm")})
    assert page.is_visible("#alert")  # at once: no request in between
    assert page.inner_text("#alert-headline") == "Storm"
    page.wait_for_function("window.__sockets[0].sent.some(m => m.alert === 101)")

    push({"type": "alert", "alert": payload(102, "minor", "Leaf blower")})
    assert page.inner_text("#alert-headline") == "Storm"
    push({"type": "alert", "alert": payload(103, "extreme", "Fire")})
    assert page.inner_text("#alert-headline") == "Fire"
    push({"type": "alert", "alert": payload(103, "extreme", "Fire: leave by the east exit")})
    assert page.inner_text("#alert-headline") == "Fire: leave by the east exit"
    page.wait_for_function("window.__sockets[0].sent.some(m => m.alert === 103)")

    # The fire ends while the storm warning is still active: one message says both.
    push({"type": "alert", "alert": payload(101, "severe", "Storm"), "cleared": 103})
    assert page.inner_text("#alert-headline") == "Storm"
    page.wait_for_function(
        "window.__sockets[0].sent.some(m => m.alert === 103 && m.state === 'cleared')"
    )
    push({"type": "alert", "alert": None, "cleared": 101})
    assert page.is_hidden("#alert")
    page.wait_for_function(
        "window.__sockets[0].sent.some(m => m.alert === 101 && m.state === 'cleared')"
    )
    assert acks() == [
        {"type": "ack", "alert": 101, "state": "shown"},
        {"type": "ack", "alert": 103, "state": "shown"},
        {"type": "ack", "alert": 103, "state": "cleared"},
        {"type": "ack", "alert": 101, "state": "cleared"},
    ]
    assert http_acks == []


def test_an_alert_in_the_hello_is_shown_at_once(page: Any, site: str, tenant: Tenant) -> None:
    """A screen that connects during an alert shows the hello's alert before any snapshot."""
    _, token = make_screen(tenant.school)
    page.add_init_script(FAKE_SOCKET)
    open_screen(page, site, token)
    page.wait_for_function("window.__sockets.length === 1 && window.hallboard.wsOpen")
    page.route("**/api/display/snapshot/**", lambda route: route.abort())
    rev = page.evaluate("window.hallboard.snap.meta.rev")
    hello = {"type": "hello", "rev": rev, "alert": payload(7, "extreme", "Evacuate")}
    page.evaluate(f"window.__sockets[0].receive({json.dumps(hello)})")
    assert page.inner_text("#alert-headline") == "Evacuate"
    page.wait_for_function("window.__sockets[0].sent.some(m => m.alert === 7)")


def test_a_snapshot_older_than_a_push_does_not_undo_it(
    page: Any, site: str, tenant: Tenant
) -> None:
    """A snapshot requested before an alert was pushed, answered after, leaves the pushed
    alert on screen and acknowledges no end."""
    _, token = make_screen(tenant.school)
    page.add_init_script(FAKE_SOCKET)
    open_screen(page, site, token)
    page.wait_for_function("window.__sockets.length === 1 && window.hallboard.wsOpen")
    held: list[Any] = []
    page.route("**/api/display/snapshot/**", lambda route: held.append(route))  # answered later
    page.route("**/api/display/status/**", lambda route: route.abort())
    snap = page.evaluate("window.hallboard.snap")

    def push(message: dict[str, Any]) -> None:
        page.evaluate(f"window.__sockets[0].receive({json.dumps(message)})")

    push({"type": "hello", "rev": snap["meta"]["rev"], "alert": None})
    push({"type": "invalidate", "rev": snap["meta"]["rev"] + 1})
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1  # a snapshot request is on its way
    push({"type": "alert", "alert": payload(201, "extreme", "Fire")})
    page.wait_for_function("window.__sockets[0].sent.some(m => m.alert === 201)")
    older = dict(snap, alert=None, meta=dict(snap["meta"], rev=snap["meta"]["rev"] + 1))
    held[0].fulfill(status=200, headers={"ETag": '"older"'}, json=older)
    page.wait_for_function(f"window.hallboard.snap.meta.rev === {snap['meta']['rev'] + 1}")
    assert page.is_visible("#alert")
    assert page.inner_text("#alert-headline") == "Fire"
    sent = page.evaluate("window.__sockets[0].sent")
    assert {"type": "ack", "alert": 201, "state": "cleared"} not in sent


def test_the_real_gateway_brings_an_alert_and_its_end_without_the_snapshot(
    page: Any, site: str, tenant: Tenant
) -> None:
    """With the snapshot unreachable after start, an alert and its all-clear still reach the
    screen within the test's wait, by the gateway's alert frames alone, and are acknowledged
    on the socket."""
    screen, token = make_screen(tenant.school)
    open_screen(page, site, token)
    page.wait_for_function("window.hallboard.wsOpen === true")
    page.route("**/api/display/snapshot/**", lambda route: route.abort())
    actor = safety_officer(tenant)
    alert = trigger(actor, tenant, "Evacuate now", "extreme")
    page.wait_for_selector("#alert:not([hidden])", timeout=10_000)
    assert page.inner_text("#alert-headline") == "Evacuate now"
    wait_until(page, shown(screen, alert), "the shown acknowledgement")
    stored = receipt(screen, alert)
    assert stored is not None
    assert stored.via == "ws"
    service.clear(actor, alert)
    page.wait_for_selector("#alert", state="hidden", timeout=10_000)
    wait_until(page, cleared(screen, alert), "the cleared acknowledgement")
