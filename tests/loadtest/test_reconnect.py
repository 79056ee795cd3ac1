"""The load generator reconnects as a display does: the core's close-code rules and backoff
(``hallboard.realtime.core.close_codes``), never at once after a failed or abandoned
handshake. A fake random source stands in for the jitter; no socket is opened."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hallboard.loadtest import worker
from hallboard.loadtest.clients import Target
from hallboard.realtime.core.close_codes import (
    BACKOFF_SECONDS,
    JITTER_SECONDS,
    SLOW_SECONDS,
    CloseCode,
    Retry,
    reconnect_bounds,
    retry_for,
)


class Highest:
    """A random source that records the bounds it was asked for and answers the highest."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return b


def make_worker(rng: Highest, screens: int = 3, now: float = 1000.0) -> worker.Worker:
    config: dict[str, Any] = {
        "target": Target("127.0.0.1", 9, 9).to_json(),
        "screens": [[i, 1, f"t{i}", f"dk-{i:08d}", "ws"] for i in range(screens)],
    }
    return worker.Worker(json.loads(json.dumps(config)), clock=lambda: now, rng=rng)  # type: ignore[arg-type]


def test_every_reason_gets_the_cores_rule() -> None:
    """``close:<code>`` is the code's own rule; anything else (a timeout, a refused or reset
    connect, an HTTP refusal, a close without a close frame) is the default: backoff."""
    for code in CloseCode:
        assert worker.retry_rule(f"close:{int(code)}") is code.retry
        assert (f"close:{int(code)}" in worker.POLL_INSTEAD) == (code.retry is Retry.SLOW)
    for reason in ("timeout", "refused", "reset", "closed", "http:503", "close:1006", "close:x"):
        assert worker.retry_rule(reason) is Retry.BACKOFF, reason


def test_the_cores_bounds_double_from_the_lower_bound_up_to_the_cap() -> None:
    """The n-th backoff in a row waits between the lower bound and min(upper, lower * 2**n);
    a going-away and push-off have their own ranges; NEVER has none."""
    low, high = BACKOFF_SECONDS
    assert [reconnect_bounds(Retry.BACKOFF, n) for n in (1, 2, 3)] == [
        (low, low * 2),
        (low, low * 4),
        (low, low * 8),
    ]
    assert reconnect_bounds(Retry.BACKOFF, 100) == (low, high)
    assert reconnect_bounds(Retry.JITTER, 5) == JITTER_SECONDS
    assert reconnect_bounds(Retry.SLOW, 1) == SLOW_SECONDS
    assert reconnect_bounds(Retry.NEVER, 1) is None
    assert retry_for(None) is retry_for(4999) is Retry.BACKOFF


async def test_a_handshake_given_up_waits_its_backoff_and_each_failure_doubles_it() -> None:
    """A handshake the client gives up on (timeout) is not tried again at once: the next
    attempt is scheduled after a full-jitter backoff from the core's bounds, and each further
    failure in a row doubles the range, up to the core's cap."""
    rng = Highest()
    w = make_worker(rng)
    w.reconnect = {"deadline": 2000.0}
    screen = w.screens[0]
    loop = asyncio.get_running_loop()
    low, high = BACKOFF_SECONDS
    try:
        for n in range(1, 9):
            client = worker.WsClient(w, screen)
            screen.client = client
            w.connecting += 1
            client.on_timeout()
            assert screen.client is None  # nothing connecting now...
            assert screen.retry is not None  # ...the next attempt waits
            assert rng.asked[-1] == (low, min(high, low * 2**n))
            assert screen.retry.when() - loop.time() >= low
        assert rng.asked[-1] == (low, high)
        assert [row[1:3] for row in w.rows] == [["f", "timeout"]] * 8
    finally:
        if screen.retry is not None:
            screen.retry.cancel()


async def test_hello_resets_the_backoff_and_going_away_uses_the_jitter_range() -> None:
    """After a socket opened (hello), the next backoff starts from the first range again; a
    1001 (server going away) waits the core's short jitter; 4401 is never retried."""
    rng = Highest()
    w = make_worker(rng)
    w.reconnect = {"deadline": 2000.0}
    screen = w.screens[0]
    low, _ = BACKOFF_SECONDS
    try:
        for _ in range(3):
            assert w.retry_delay(screen, "refused") is not None
        assert rng.asked[-1] == (low, low * 8)
        client = worker.WsClient(w, screen)
        screen.client = client
        w.connecting += 1
        w.on_text(client, b'{"type": "hello", "rev": 1}', 0.0)
        assert screen.backoff_step == 0
        w.on_closed(client, int(CloseCode.GOING_AWAY))
        assert rng.asked[-1] == JITTER_SECONDS
        assert w.retry_delay(screen, "reset") == low * 2
        asked = len(rng.asked)
        w._maybe_reconnect(screen, f"close:{int(CloseCode.INVALID_TOKEN)}")
        assert len(rng.asked) == asked  # no delay drawn: not retried
    finally:
        if screen.retry is not None:
            screen.retry.cancel()


async def test_a_dropped_socket_reconnects_after_a_backoff_not_at_once() -> None:
    """``drop`` (the clients' side of a network cut) with a reconnect policy: every screen
    schedules its attempt after the first backoff (1006), none connects at once."""
    rng = Highest()
    w = make_worker(rng)
    for screen in w.screens.values():
        client = worker.WsClient(w, screen)
        screen.client = client
        client.opened = True
        w.open += 1
    w.reconnect = {"deadline": 2000.0}
    low, _ = BACKOFF_SECONDS
    try:
        w.drop()
        assert w.open == w.connecting == 0
        assert all(s.client is None and s.retry is not None for s in w.screens.values())
        assert rng.asked == [(low, low * 2)] * len(w.screens)
    finally:
        for screen in w.screens.values():
            if screen.retry is not None:
                screen.retry.cancel()


@pytest.mark.parametrize("policy", [None, {"deadline": 999.0}])
async def test_without_a_policy_or_past_its_deadline_nothing_is_retried(
    policy: dict[str, Any] | None,
) -> None:
    """No reconnect policy (the coordinator's scenarios that reconnect themselves), or a
    policy whose deadline passed: a failure schedules nothing."""
    w = make_worker(Highest(), now=1000.0)
    w.reconnect = policy
    screen = w.screens[0]
    w._maybe_reconnect(screen, "timeout")
    assert screen.retry is None


async def test_a_retry_due_after_reconnecting_was_turned_off_does_not_connect() -> None:
    """The coordinator turned reconnecting off while a screen waited: it stays away."""
    w = make_worker(Highest())
    w.reconnect = None
    screen = w.screens[0]
    w._retry(screen)
    assert screen.client is None
    assert w.counters["attempts"] == 0
