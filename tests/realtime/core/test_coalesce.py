"""Coalescing: first change at once, one trailing message with the latest revision."""

from __future__ import annotations

from hallboard.realtime.core.coalesce import Coalescer


def test_first_change_goes_out_at_once_and_the_burst_trails() -> None:
    """A burst inside the window becomes one trailing message with the last revision."""
    c = Coalescer(window=2.0)
    # t=0.0  first change of a quiet school goes out at once
    assert c.offer(1, 10, now=0.0) == 10
    # t=0.5, 1.0, 1.5  further changes are held; only the newest is kept
    assert c.offer(1, 11, now=0.5) is None
    assert c.offer(1, 12, now=1.0) is None
    assert c.offer(1, 13, now=1.5) is None
    assert c.next_deadline() == 2.0
    # t=1.9  the window has not ended
    assert c.due(now=1.9) == []
    # t=2.0  one trailing message carries rev 13
    assert c.due(now=2.0) == [(1, 13)]
    assert c.held == 2  # 11 and 12 were absorbed
    assert c.next_deadline() is None


def test_after_a_trailing_message_a_new_window_opens() -> None:
    """A change right after a trailing message waits for the next window end."""
    c = Coalescer(window=2.0)
    c.offer(1, 1, now=0.0)
    c.offer(1, 2, now=1.0)
    assert c.due(now=2.0) == [(1, 2)]
    # t=2.5  inside the window opened at 2.0: held
    assert c.offer(1, 3, now=2.5) is None
    assert c.due(now=4.0) == [(1, 3)]


def test_a_change_after_a_quiet_window_goes_out_at_once() -> None:
    """Once a window passed with nothing held, the next change is sent immediately."""
    c = Coalescer(window=2.0)
    assert c.offer(1, 1, now=0.0) == 1
    assert c.due(now=5.0) == []
    assert c.offer(1, 2, now=5.0) == 2


def test_revisions_never_go_backwards() -> None:
    """An older or repeated revision (a late broker message) is never sent."""
    c = Coalescer(window=2.0)
    assert c.offer(1, 5, now=0.0) == 5
    assert c.offer(1, 4, now=3.0) is None
    assert c.offer(1, 5, now=3.0) is None
    c.offer(1, 7, now=3.5)  # sent at once (window over)
    assert c.offer(1, 6, now=3.6) is None
    assert c.due(now=10.0) == []


def test_schools_are_independent() -> None:
    """One school's burst does not hold back another school's first change."""
    c = Coalescer(window=2.0)
    assert c.offer(1, 1, now=0.0) == 1
    assert c.offer(1, 2, now=0.1) is None
    assert c.offer(2, 9, now=0.2) == 9
    assert c.due(now=2.0) == [(1, 2)]


def test_a_forgotten_school_starts_afresh_and_drops_its_pending_message() -> None:
    """forget(): no local screen left; state and any trailing message go; next change is first."""
    c = Coalescer(window=2.0)
    assert c.offer(1, 5, now=0.0) == 5
    assert c.offer(1, 6, now=0.5) is None  # held for the trailing message
    c.forget(1)
    assert c.next_deadline() is None
    assert c.due(now=10.0) == []
    assert c.offer(1, 3, now=11.0) == 3  # a fresh start: even an older revision goes out
