"""Garbage-collector settings for a serving process: no long pauses with many sockets.

CPython's cyclic collector pauses the whole process for a full collection,
and a full collection walks every tracked object: Django and its modules
(hundreds of thousands of objects) and every socket's objects. Measured on
the gateway at 10,000 sockets, full collections paused it for 150-300 ms,
which is a push's whole latency budget many times over. So, per process:

- after start-up, everything that exists is moved out of the collector's
  reach (``gc.freeze()``): modules, settings, URL maps live forever anyway;
- the young generation is collected less often (``GEN0_THRESHOLD``):
  fewer, still short, young collections; full collections rarer still
  (``GEN2_THRESHOLD``);
- while sockets accumulate (a connect storm, a morning), what they allocated
  is frozen too once the storm settles (``Freezer``): a socket lives for
  hours, so its objects are long-lived by nature, and a full collection then
  walks only what came since.

Frozen objects are never collected by the cyclic collector, only by
reference counting, so socket teardown breaks the cycles it knows of
(``connection.Socket.connection_lost``). What else was cyclic garbage at the
moment of a freeze stays allocated: bounded by how rarely freezes happen
(``Freezer.min_interval``). ``hallboard_gc_pause_seconds`` shows the effect.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("hallboard.server.gc")

#: Allocations (minus deallocations) between young collections (CPython's default: 700;
#: a young collection of this many objects takes about a millisecond).
GEN0_THRESHOLD = 3_000
#: Young collections between collections of the middle generation (default 10), which
#: walk up to GEN0_THRESHOLD times this many objects: kept to a few milliseconds.
GEN1_THRESHOLD = 4
#: Middle-generation collections between full ones (default 10): full collections
#: become rare; the freezes keep what they would walk small anyway.
GEN2_THRESHOLD = 100


def tune_for_serving() -> None:
    """Call once, after start-up: collect, freeze what exists, raise the young threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
    logger.info(
        "gc: %d start-up objects frozen; young threshold %d", gc.get_freeze_count(), GEN0_THRESHOLD
    )


class Freezer:
    """Freeze the objects of sockets that accumulated, once their storm has settled.

    ``admitted(n)`` counts sockets as they open; ``tick(now)`` (once a second)
    freezes when at least ``min_sockets`` opened since the last freeze, none
    in the last ``quiet`` seconds (or, in a long storm, ``storm`` sockets
    opened already), and ``min_interval`` seconds have passed.
    """

    def __init__(
        self,
        *,
        min_sockets: int = 500,
        storm: int = 2500,
        quiet: float = 1.0,
        min_interval: float = 2.0,
        freeze: Callable[[], None] = gc.freeze,
    ) -> None:
        self.freeze = freeze
        self.min_sockets = min_sockets
        self.storm = storm
        self.quiet = quiet
        self.min_interval = min_interval
        self.pending = 0
        self.last_admission = float("-inf")
        self.last_freeze = float("-inf")
        self.freezes = 0

    def admitted(self, count: int, now: float) -> None:
        self.pending += count
        self.last_admission = now

    def tick(self, now: float) -> bool:
        settled = now - self.last_admission >= self.quiet or self.pending >= self.storm
        if (
            self.pending >= self.min_sockets
            and settled
            and now - self.last_freeze >= self.min_interval
        ):
            # No collection first: that is the pause this avoids. Young
            # garbage frozen here is only what is cyclic and alive right now.
            self.freeze()
            self.pending = 0
            self.last_freeze = now
            self.freezes += 1
            return True
        return False


class PauseClock:
    """A ``gc.callbacks`` hook timing each collection from its start to its stop.

    ``on_pause(generation, seconds)`` hears of each pause; a stop whose start it never
    saw (installed mid-collection) is no pause. The one timer of the process's metric
    (``observability.gcpause``) and of the load client's own report (``loadtest.worker``).
    """

    def __init__(
        self,
        on_pause: Callable[[int, float], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.on_pause = on_pause
        self.clock = clock
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        generation = int(info.get("generation", 0))
        if phase == "start":
            self._started[generation] = self.clock()
            return
        begun = self._started.pop(generation, None)
        if begun is not None:
            self.on_pause(generation, self.clock() - begun)
