"""``hallboard.observability.gcpause``: garbage collector pauses into a histogram, safely."""

from __future__ import annotations

import gc
import threading
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest

from hallboard.observability import gcpause
from tests.conftest import sample


class _Owned(deque[tuple[int, float]]):
    """A pending queue only the test's thread takes from (the flush thread sees it empty)."""

    def __init__(self, *items: tuple[int, float]) -> None:
        super().__init__(items)
        self.owner = threading.get_ident()

    def popleft(self) -> tuple[int, float]:
        if threading.get_ident() != self.owner:
            raise IndexError
        return super().popleft()


@pytest.fixture
def pending(monkeypatch: pytest.MonkeyPatch) -> _Owned:
    queue = _Owned()
    monkeypatch.setattr(gcpause, "_pending", queue)
    monkeypatch.setattr(gcpause._callback, "_started", {})  # starts seen before the test
    return queue


def test_gc_pauses_are_observed_by_generation() -> None:
    """A full collection lands in hallboard_gc_pause_seconds{generation="2"} after a flush."""
    assert gcpause.install() is False  # installed once, by the app, already
    gcpause.flush()
    before = sample("hallboard_gc_pause_seconds_count", generation="2")
    gc.collect()
    gcpause.flush()
    assert sample("hallboard_gc_pause_seconds_count", generation="2") >= before + 1


def test_install_is_idempotent() -> None:
    """``install`` hooks the callback once per process: later calls change nothing."""
    hooks = gc.callbacks.count(gcpause._callback)
    assert gcpause.install() is False
    assert gc.callbacks.count(gcpause._callback) == hooks == 1


def test_the_callback_only_queues_a_pause_from_start_to_stop(
    pending: _Owned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start then stop of a generation queues one (generation, seconds from start to stop),
    measured on the performance counter; nothing else."""
    readings = iter([100.0, 100.25])
    monkeypatch.setattr(gcpause, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    info: dict[str, Any] = {"generation": 1}
    enabled = gc.isenabled()
    gc.disable()  # no real collection calls the callback (and reads the clock) meanwhile
    try:
        gcpause._callback("start", info)
        assert list(pending) == []
        gcpause._callback("stop", info)
    finally:
        if enabled:
            gc.enable()
    assert list(pending) == [(1, 0.25)]


def test_a_stop_without_a_start_queues_nothing(pending: _Owned) -> None:
    """A stop the callback never saw start (installed mid-collection) records no pause."""
    gcpause._callback("stop", {"generation": 0})
    assert list(pending) == []


def test_flush_moves_the_queued_pauses_into_the_histogram(pending: _Owned) -> None:
    """``flush`` observes each queued pause under its generation and says how many it moved."""
    before = sample("hallboard_gc_pause_seconds_count", generation="9")
    total = sample("hallboard_gc_pause_seconds_sum", generation="9")
    pending.extend([(9, 0.5), (9, 0.25)])
    assert gcpause.flush() == 2
    assert list(pending) == []
    assert sample("hallboard_gc_pause_seconds_count", generation="9") == before + 2
    assert sample("hallboard_gc_pause_seconds_sum", generation="9") == total + 0.75
    assert gcpause.flush() == 0
