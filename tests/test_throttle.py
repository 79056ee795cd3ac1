"""Failed authentications are throttled per source address, on every way in (hallboard.throttle)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from hallboard import throttle
from tests.conftest import ApiClient, KeyFactory, Tenant, make_screen, make_user, sample
from tests.display.conftest import ScreenClient


@pytest.fixture(autouse=True)
def low_rates(settings: Any) -> None:
    settings.AUTH_FAILURE_RATE = "3/minute"
    settings.ADMIN_LOGIN_FAILURE_RATE = "3/15minute"


def test_addresses_are_counted_per_host_and_ipv6_per_64() -> None:
    """One IPv4 host; an IPv6 host's whole /64 (it can pick any address in it)."""
    assert throttle.subject("192.0.2.7") == "192.0.2.7"
    assert throttle.subject("2001:db8:1:2:aaaa::1") == throttle.subject("2001:db8:1:2:bbbb::9")
    assert throttle.subject("2001:db8:1:2::1") != throttle.subject("2001:db8:1:3::1")
    assert throttle.subject("::ffff:192.0.2.7") == "192.0.2.7"


def test_the_gateway_believes_x_forwarded_for_only_from_trusted_proxies() -> None:
    assert throttle.socket_address(("127.0.0.1", 5000), "198.51.100.4") == "198.51.100.4"
    assert throttle.socket_address(("127.0.0.1", 5000), "203.0.113.9, 127.0.0.1") == "203.0.113.9"
    assert throttle.socket_address(("198.51.100.4", 5000), "203.0.113.9") == "198.51.100.4"
    assert throttle.socket_address(None, None) == "unknown"


def test_random_screen_tokens_from_one_address_are_throttled(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Three wrong tokens, then even a right one gets 429 with Retry-After (its answer must not
    tell right from wrong), counted and logged; another address is not affected."""
    _, token = make_screen(tenant.school)
    failures = sample("hallboard_auth_failures_total", kind="display")
    throttled = sample("hallboard_auth_throttled_total", kind="display")
    with caplog.at_level(logging.WARNING, logger="hallboard.throttle"):
        for n in range(3):
            assert ScreenClient(f"guess-{n}").get("status").status_code == 401
    assert sample("hallboard_auth_failures_total", kind="display") == failures + 3
    assert any("display authentication throttled" in r.message for r in caplog.records)
    refused = ScreenClient(token).get("snapshot")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert sample("hallboard_auth_throttled_total", kind="display") == throttled + 1
    elsewhere = ScreenClient(token)
    elsewhere.client = Client(REMOTE_ADDR="198.51.100.20")
    assert elsewhere.get("snapshot").status_code == 200


def test_wrong_api_keys_from_one_address_are_throttled(tenant: Tenant, api_as: KeyFactory) -> None:
    """Three wrong keys, then a right key from that address gets 429 too."""
    good = api_as("admin")
    failures = sample("hallboard_auth_failures_total", kind="api")
    for n in range(3):
        assert ApiClient(f"hbk_wrong{n}").get("schools").status_code == 401
    response = good.get("schools")
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert sample("hallboard_auth_failures_total", kind="api") == failures + 3  # not the 429


def sign_in(client: Client, password: str) -> Any:
    return client.post(
        "/admin/login/?next=/admin/", {"username": "office-admin", "password": password}
    )


def test_the_admin_locks_an_address_out_after_failed_sign_ins(tenant: Tenant) -> None:
    """Three wrong passwords, then the right one is refused with the wait shown; the count
    and a log line record it; another address can still sign in."""
    make_user("office-admin", "admin", school=tenant.school)
    client = Client()
    failures = sample("hallboard_auth_failures_total", kind="admin")
    for _ in range(3):
        assert "Please enter the correct" in sign_in(client, "wrong").content.decode()
    locked = sign_in(client, "a-long-pw")
    assert locked.status_code == 200  # the form again, not the admin
    assert "Too many failed sign-ins" in locked.content.decode()
    assert sample("hallboard_auth_failures_total", kind="admin") == failures + 3
    other = Client(REMOTE_ADDR="198.51.100.30")
    assert sign_in(other, "a-long-pw").status_code == 302


def test_a_successful_sign_in_clears_the_count(tenant: Tenant) -> None:
    """Two mistakes, a success, two more mistakes: still not locked."""
    make_user("office-admin", "admin", school=tenant.school)
    client = Client()
    for _ in range(2):
        sign_in(client, "wrong")
    assert sign_in(client, "a-long-pw").status_code == 302
    client.logout()
    for _ in range(2):
        sign_in(client, "wrong")
    assert sign_in(client, "a-long-pw").status_code == 302


def test_an_address_seen_clear_is_asked_again_after_clear_seconds() -> None:
    """An address found clear is believed clear for ``CLEAR_SECONDS`` (a poll does not ask
    Redis every time); failures counted meanwhile by another replica (here: straight into
    the shared counts) refuse it once that time is over."""
    clock = [100.0]
    address = "198.51.100.20"
    assert throttle.blocked(throttle.Kind.DISPLAY, address, now=lambda: clock[0]) is None
    for _ in range(4):
        throttle._limiter(throttle.Kind.DISPLAY).hit("auth-fail", "display", address)
    assert throttle.blocked(throttle.Kind.DISPLAY, address, now=lambda: clock[0]) is None
    clock[0] += throttle.CLEAR_SECONDS
    assert throttle.blocked(throttle.Kind.DISPLAY, address, now=lambda: clock[0]) is not None


def test_a_failure_in_this_process_takes_effect_at_once() -> None:
    """Failures counted here drop the address's clear memory: the very next check asks the
    counts and refuses it, without waiting ``CLEAR_SECONDS``."""
    address = "198.51.100.21"
    assert throttle.blocked(throttle.Kind.DISPLAY, address) is None
    for _ in range(3):
        throttle.failed(throttle.Kind.DISPLAY, address)
    assert throttle.blocked(throttle.Kind.DISPLAY, address) is not None


def test_the_clear_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """No more than ``CLEAR_MAX`` addresses are remembered (then it starts again)."""
    monkeypatch.setattr(throttle, "CLEAR_MAX", 3)
    for n in range(10):
        throttle.blocked(throttle.Kind.SOCKET, f"198.51.100.{n}")
        assert len(throttle._clear) <= 3


def test_a_clear_answer_read_while_a_failure_is_counted_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check that read the counts before a failure was counted (another thread) does not
    remember the address as clear: the next check asks again and refuses it."""
    address = "198.51.100.22"
    limiter = throttle._limiter(throttle.Kind.SOCKET)
    real_test = limiter.test

    def test_then_fail(*key: str) -> int | None:
        answer = real_test(*key)  # clear, as read before ...
        for _ in range(3):
            throttle.failed(throttle.Kind.SOCKET, address)  # ... these were counted
        return answer

    monkeypatch.setattr(limiter, "test", test_then_fail)
    assert throttle.blocked(throttle.Kind.SOCKET, address) is None
    monkeypatch.setattr(limiter, "test", real_test)
    assert throttle.blocked(throttle.Kind.SOCKET, address) is not None
