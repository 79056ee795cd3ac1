"""The display page reconnects (or not) as the server's close-code policy says.

The page's WebSocket is replaced by a stand-in that the server "closes" at once with
a chosen code, so the page's reaction to every code can be watched; the policy itself
comes from the server (page data, snapshot meta), as in production.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import needs_chromium
from tests.conftest import Tenant, make_screen

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]

# Every socket the page opens is closed by "the server" with window.__closeCode.
FAKE_SOCKET = """
window.__sockets = [];
window.__closeCode = %d;
window.WebSocket = function (url) {
  var socket = this;
  window.__sockets.push(url);
  socket.send = function () {};
  socket.close = function () {};
  setTimeout(function () {
    if (socket.onclose) socket.onclose({ code: window.__closeCode });
  }, 10);
};
"""


def open_with_socket_closed_by(page: Any, site: str, token: str, code: int) -> list[str]:
    polls: list[str] = []
    page.on("response", lambda r: polls.append(r.url) if "/api/display/status/" in r.url else None)
    page.add_init_script(FAKE_SOCKET % code)
    page.goto(f"{site}/display/?token={token}")
    page.wait_for_selector("body:not(.booting)")
    page.wait_for_function("window.__sockets.length >= 1")
    return polls


def test_missing_parameters_4400_is_not_retried(page: Any, site: str, tenant: Tenant) -> None:
    """Closed with 4400 the page opens no further socket with the same credentials, while
    polling goes on (the docs: do not retry). Four polls later (polling every 1-3 s here),
    a page that backed off (1-2 s for the first retry) would have opened a second one."""
    _, token = make_screen(tenant.school)
    polls = open_with_socket_closed_by(page, site, token, 4400)
    seen = len(polls)
    for _ in range(300):  # at most 30 s
        if len(polls) >= seen + 4:
            break
        page.wait_for_timeout(100)
    assert len(polls) >= seen + 4, "polling stopped after a 4400"
    assert page.evaluate("window.__sockets.length") == 1
    assert page.evaluate("window.hallboard.halted") is None  # not a halt: still showing the day
    assert page.evaluate("window.hallboard.pushRefused") is not None


def test_a_policy_violation_1008_backs_off_and_reconnects(
    page: Any, site: str, tenant: Tenant
) -> None:
    """Closed with 1008 (policy: backoff) the page keeps reconnecting, with backoff."""
    _, token = make_screen(tenant.school)
    open_with_socket_closed_by(page, site, token, 1008)
    page.wait_for_function("window.__sockets.length >= 3", timeout=20_000)
    assert page.evaluate("window.hallboard.wsAttempt") >= 2
    assert page.evaluate("window.hallboard.pushRefused") is None


def test_a_bound_screen_4403_shows_it(page: Any, site: str, tenant: Tenant) -> None:
    """Closed with 4403 (policy: never, halt "bound") the page says so on screen."""
    _, token = make_screen(tenant.school)
    open_with_socket_closed_by(page, site, token, 4403)
    page.wait_for_function("window.hallboard.halted === 'bound'")
    assert page.evaluate("window.__sockets.length") == 1
