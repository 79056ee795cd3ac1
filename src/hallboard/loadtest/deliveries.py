"""Expected deliveries and what arrived: the bookkeeping that makes a missing push visible.

Every edit a scenario makes is an ``Edit`` (school, the revision it produced,
and ``ts``, the ``time.time()`` taken inside the editing transaction). A
scenario declares which screens must hear of it (``expect``) and by which kind
of message: an ``invalidate``/``alert`` push, a poll, or a ``hello`` after a
reconnect. A screen heard of the edit when it received a message of that kind
with ``rev >= edit.rev`` at or after ``edit.ts`` (a message cannot precede its
cause, and a later revision implies the earlier one). Latency is that
receive time minus ``edit.ts``, on the same host clock.

Whatever is still unmatched when a scenario gives up is reported as missing,
by edit and screen: never dropped from the totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

PUSH = frozenset({"i", "a"})  # invalidate, alert
POLL = frozenset({"p"})
ANY = frozenset({"i", "a", "p", "h"})


@dataclass(frozen=True, slots=True)
class Edit:
    school: int
    rev: int
    ts: float


@dataclass(slots=True)
class _Want:
    edit: int
    rev: int
    ts: float
    kinds: frozenset[str]


class Tracker:
    def __init__(self) -> None:
        self.edits: list[Edit] = []
        self.history: dict[int, list[tuple[str, int, float]]] = defaultdict(list)
        self._pending: dict[int, list[_Want]] = defaultdict(list)
        self.expected = 0
        #: (edit index, screen) → seconds from the edit to the screen's receive time.
        self.latency: dict[tuple[int, int], float] = {}
        #: (edit index, screen) → the kind of message that brought it (i, a, p or h).
        self.via: dict[tuple[int, int], str] = {}

    def add_edit(self, edit: Edit) -> int:
        self.edits.append(edit)
        return len(self.edits) - 1

    def observe(self, screen: int, kind: str, rev: int, t: float) -> None:
        """A message (``kind`` i/a/p/h carrying ``rev``) arrived at ``screen`` at ``t``."""
        self.history[screen].append((kind, rev, t))
        wants = self._pending.get(screen)
        if not wants:
            return
        kept = []
        for want in wants:
            if kind in want.kinds and rev >= want.rev and t >= want.ts:
                self.latency[(want.edit, screen)] = t - want.ts
                self.via[(want.edit, screen)] = kind
            else:
                kept.append(want)
        if kept:
            self._pending[screen] = kept
        else:
            del self._pending[screen]

    def expect(self, edit: int, screens: Iterable[int], kinds: frozenset[str] = PUSH) -> None:
        """``screens`` must hear of edit ``edit`` by a message of one of ``kinds``."""
        e = self.edits[edit]
        for screen in screens:
            self.expected += 1
            for kind, rev, t in self.history.get(screen, ()):
                if kind in kinds and rev >= e.rev and t >= e.ts:
                    self.latency[(edit, screen)] = t - e.ts
                    self.via[(edit, screen)] = kind
                    break
            else:
                self._pending[screen].append(_Want(edit, e.rev, e.ts, kinds))

    @property
    def outstanding(self) -> int:
        return sum(len(w) for w in self._pending.values())

    def missing(self) -> list[tuple[int, int]]:
        """(edit index, screen) pairs still waiting, in edit order."""
        return sorted((w.edit, screen) for screen, wants in self._pending.items() for w in wants)

    def forget_pending(self) -> None:
        """Stop waiting (the scenario ended); what is still pending stays counted as expected."""
        self._pending.clear()

    def latencies(
        self, edits: Iterable[int] | None = None, kinds: frozenset[str] | None = None
    ) -> list[float]:
        """Latencies of the matched pairs (of ``edits``, brought by one of ``kinds``)."""
        wanted = None if edits is None else set(edits)
        return [
            v
            for key, v in self.latency.items()
            if (wanted is None or key[0] in wanted) and (kinds is None or self.via[key] in kinds)
        ]

    def delivered(self, edits: Iterable[int]) -> int:
        wanted = set(edits)
        return sum(1 for e, _ in self.latency if e in wanted)
