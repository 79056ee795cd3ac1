"""``hallboard_gc_pause_seconds``: the garbage collector's pauses, from ``gc.callbacks``.

A collection can start inside any allocation, including one made while
prometheus_client holds its (non-reentrant) lock: observing the histogram
from the callback itself could deadlock the thread. So the callback only
appends ``(generation, seconds)`` to a bounded deque (an atomic operation),
and the pauses reach the histogram from ``flush()``: a daemon thread calls it
every second, and every scrape calls it first so it sees the latest pauses.

``install()`` is idempotent: once per process, whoever calls it (the
observability app's ``ready()``).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque

from hallboard.observability import metrics
from hallboard.server.gctune import PauseClock

#: Pauses not yet in the histogram. Bounded: a process that forked after
#: install (no flush thread) loses the oldest pauses, never memory.
_pending: deque[tuple[int, float]] = deque(maxlen=10_000)
_lock = threading.Lock()
_installed = False


def _queue(generation: int, seconds: float) -> None:
    _pending.append((generation, seconds))


# The clock read through this module's ``time`` (a test replaces it).
_callback = PauseClock(_queue, clock=lambda: time.perf_counter())


def flush() -> int:
    """Move the pauses recorded so far into the histogram; how many were moved."""
    moved = 0
    while True:
        try:
            generation, seconds = _pending.popleft()
        except IndexError:
            return moved
        metrics.gc_pause_seconds.labels(generation=str(generation)).observe(seconds)
        moved += 1


def _flush_forever() -> None:
    while True:
        time.sleep(1.0)
        flush()


def install() -> bool:
    """Start measuring GC pauses in this process; False if that was already done."""
    global _installed
    with _lock:
        if _installed:
            return False
        gc.callbacks.append(_callback)
        threading.Thread(target=_flush_forever, name="gc-pause-metrics", daemon=True).start()
        _installed = True
        return True
