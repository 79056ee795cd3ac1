"""Coalescing bursts of changes per school.

The first change of a quiet school goes out at once. Changes inside the window
that follows are held; when the window ends, one trailing message carries the
latest revision (and opens a new window). The last revision is therefore always
delivered, at most ``window`` seconds late, and revisions never go backwards.
Alerts and commands never pass through here: they are never delayed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _School:
    window_ends: float
    sent_rev: int
    held_rev: int | None = None


class Coalescer:
    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._schools: dict[int, _School] = {}
        self._holding: set[int] = set()  # schools with a trailing message pending
        self.held = 0  # changes absorbed into a later message (a metric)

    def offer(self, school_id: int, rev: int, now: float) -> int | None:
        """A change to ``rev``: the revision to send now, or None (held, or not newer)."""
        state = self._schools.get(school_id)
        if state is None:
            self._schools[school_id] = _School(window_ends=now + self.window, sent_rev=rev)
            return rev
        if rev <= max(state.sent_rev, state.held_rev or 0):
            return None  # not newer than what was sent or is pending: nothing new to say
        if now >= state.window_ends and state.held_rev is None:
            state.sent_rev, state.window_ends = rev, now + self.window
            return rev
        if state.held_rev is not None:
            self.held += 1
        state.held_rev = rev
        self._holding.add(school_id)
        return None

    def due(self, now: float) -> list[tuple[int, int]]:
        """(school, revision) trailing messages whose window has ended."""
        out: list[tuple[int, int]] = []
        for school_id in list(self._holding):
            state = self._schools[school_id]
            if now < state.window_ends or state.held_rev is None:
                continue
            out.append((school_id, state.held_rev))
            state.sent_rev, state.held_rev = state.held_rev, None
            state.window_ends = now + self.window
            self._holding.discard(school_id)
        return out

    def forget(self, school_id: int) -> None:
        """No local screen of this school is left: drop its state (memory stays bounded).

        A pending trailing message is dropped too: nobody here would receive it.
        """
        self._schools.pop(school_id, None)
        self._holding.discard(school_id)

    def next_deadline(self) -> float | None:
        """When ``due`` next has something to send (None: nothing pending)."""
        return min((self._schools[s].window_ends for s in self._holding), default=None)
