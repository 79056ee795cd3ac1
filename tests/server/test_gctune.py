"""Freezing the objects of accumulated sockets: only after a storm settles, and rarely."""

from __future__ import annotations

from hallboard.server.gctune import Freezer


def make() -> tuple[Freezer, list[float]]:
    frozen: list[float] = []
    freezer = Freezer(
        min_sockets=100,
        storm=1000,
        quiet=2.0,
        min_interval=60.0,
        freeze=lambda: frozen.append(0.0),
    )
    return freezer, frozen


def test_a_storm_is_frozen_once_it_has_settled() -> None:
    """Sockets opening: no freeze while they keep coming; one once quiet for 2 s."""
    freezer, frozen = make()
    # t=0..4  300 sockets open, one batch a second
    for t in range(5):
        freezer.admitted(60, float(t))
        assert freezer.tick(float(t) + 0.5) is False  # still coming
    # t=6  quiet for 2 s: freeze
    assert freezer.tick(6.0) is True
    assert len(frozen) == 1
    # t=7  nothing new: nothing to do
    assert freezer.tick(7.0) is False


def test_a_few_sockets_are_not_worth_a_freeze() -> None:
    """Fewer than min_sockets since the last freeze: never."""
    freezer, frozen = make()
    freezer.admitted(99, 0.0)
    assert freezer.tick(100.0) is False
    assert frozen == []


def test_freezes_are_at_least_min_interval_apart() -> None:
    """A second storm right after the first waits for the interval."""
    freezer, frozen = make()
    freezer.admitted(200, 0.0)
    assert freezer.tick(3.0) is True
    freezer.admitted(200, 4.0)
    assert freezer.tick(10.0) is False  # 7 s after the last freeze
    assert freezer.tick(63.0) is True
    assert len(frozen) == 2


def test_a_long_storm_is_frozen_while_it_lasts() -> None:
    """Past ``storm`` sockets since the last freeze, no need to wait for quiet."""
    freezer, frozen = make()
    for t in range(20):  # 100 sockets a second, for 20 s
        freezer.admitted(100, float(t))
        freezer.tick(float(t) + 0.5)
    assert len(frozen) == 1  # after 1,000; the next is min_interval away
