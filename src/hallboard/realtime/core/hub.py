"""The hub: which local connection listens to which topic, and what each may be sent now.

``Hub`` is generic over the adapter's connection handle ``C`` (any hashable
object). It never writes: ``deliver`` answers with the connections to write a
frame to *now*; the adapter writes it once to all of them.

Outbound policy, per connection (``Outbox``), stated here once:

- A connection is *congested* while its transport's send buffer is over the
  high-water mark (the adapter reports ``congested``/``drained`` from the
  transport's pause/resume callbacks). Nothing is written to it meanwhile.
- While congested, invalidations collapse to the newest revision (one pending
  at most: a display only needs the latest), and alerts and commands queue up
  to ``max_pending``.
- On ``drained`` the pending frames are written, newest invalidation first.
- A connection congested for longer than ``slow_after`` seconds, or whose queue
  overflows, is reported by ``slow_clients`` and must be closed with
  ``CloseCode.SLOW_CLIENT``; the display reconnects and fetches the snapshot,
  so nothing is lost.

Memory, per connection, is what a gateway of 50,000 idle sockets is made of, so the
hub keeps little: an ``Outbox`` of a few slots (its topics a tuple, its queue made
only when something is held), a topic's single listener stored as itself rather than
in a one-member set (every screen has a topic of its own), and one string per topic
name however many connections list it (``sys.intern``).
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from hallboard.realtime.core import messages

C = TypeVar("C", bound=Hashable)


@dataclass(slots=True)
class Stats:
    """Counters the adapter exports as metrics."""

    published: int = 0  # frames handed to the hub for a topic
    delivered: int = 0  # frame writes handed back to the adapter
    collapsed: int = 0  # invalidations replaced by a newer one while congested
    held: int = 0  # frames held for a congested connection
    slow_closed: int = 0  # connections reported as slow clients
    dropped: int = 0  # frames not written nor held: closing connection, or queue full


@dataclass(slots=True)
class Outbox:
    topics: tuple[str, ...] = ()
    congested_since: float | None = None
    pending_rev: int | None = None
    pending: list[str] | None = None  # alerts and commands held while congested
    overflowed: bool = False
    closing: bool = False  # reported as slow; the adapter is closing it


class Hub(Generic[C]):
    def __init__(self, *, max_pending: int = 32, slow_after: float = 10.0) -> None:
        self.max_pending = max_pending
        self.slow_after = slow_after
        self.stats = Stats()
        self._outboxes: dict[C, Outbox] = {}
        #: A topic's listeners: the connection itself while it is the only one, else a set
        #: (a handle is hashable, so never a set itself).
        self._topics: dict[str, C | set[C]] = {}
        # Connections that may have to be closed as slow: only these are looked
        # at by ``slow_clients`` (an idle hub of 50,000 sockets costs nothing).
        self._watch: set[C] = set()

    def __len__(self) -> int:
        return len(self._outboxes)

    def __contains__(self, conn: object) -> bool:
        return conn in self._outboxes

    # --- membership ---------------------------------------------------------
    def add(self, conn: C, topics: Iterable[str]) -> list[str]:
        """Register ``conn`` on ``topics``; return the topics it is the first local listener of.

        The adapter subscribes the broker to those (one upstream subscription per topic).
        """
        outbox = self._outboxes.get(conn)
        if outbox is None:
            outbox = self._outboxes[conn] = Outbox()
        first: list[str] = []
        added: list[str] = []
        for name in topics:
            if name in outbox.topics or name in added:
                continue
            topic = sys.intern(name)
            added.append(topic)
            members = self._topics.get(topic)
            if members is None:
                self._topics[topic] = conn
                first.append(topic)
            elif isinstance(members, set):
                members.add(conn)
            elif members != conn:
                self._topics[topic] = {members, conn}
        if added:
            outbox.topics += tuple(added)
        return first

    def remove(self, conn: C) -> list[str]:
        """Forget ``conn``; return the topics that now have no local listener (unsubscribe)."""
        outbox = self._outboxes.pop(conn, None)
        if outbox is None:
            return []
        self._watch.discard(conn)
        last: list[str] = []
        for topic in outbox.topics:
            members = self._topics[topic]
            if isinstance(members, set):
                members.discard(conn)
                if len(members) == 1:
                    (self._topics[topic],) = members
            else:
                del self._topics[topic]
                last.append(topic)
        return last

    def _members(self, topic: str) -> Iterable[C]:
        members = self._topics.get(topic)
        if members is None:
            return ()
        return members if isinstance(members, set) else (members,)

    def listeners(self, topic: str) -> frozenset[C]:
        return frozenset(self._members(topic))

    def topics(self) -> list[str]:
        """Every topic with at least one local listener (to resubscribe after a broker outage)."""
        return list(self._topics)

    def connections(self) -> list[C]:
        return list(self._outboxes)

    # --- delivery -------------------------------------------------------------
    def deliver(self, topic: str, frame: str, *, rev: int | None = None) -> list[C]:
        """The connections on ``topic`` to write ``frame`` to now.

        ``rev`` marks the frame as an invalidation to that revision, which may be
        collapsed for congested connections; any other frame is queued for them.
        """
        if topic not in self._topics:
            return []
        self.stats.published += 1
        ready: list[C] = []
        for conn in self._members(topic):
            outbox = self._outboxes[conn]
            if outbox.closing:
                self.stats.dropped += 1
                continue
            if outbox.congested_since is None:
                ready.append(conn)
                continue
            self.stats.held += 1
            if rev is not None:
                if outbox.pending_rev is not None:
                    self.stats.collapsed += 1
                outbox.pending_rev = max(rev, outbox.pending_rev or 0)
            elif len(outbox.pending or ()) < self.max_pending:
                if outbox.pending is None:
                    outbox.pending = []
                outbox.pending.append(frame)
            else:
                outbox.overflowed = True
                self.stats.dropped += 1
                self._watch.add(conn)
        self.stats.delivered += len(ready)
        return ready

    def congested(self, conn: C, now: float) -> None:
        """The adapter saw ``conn``'s send buffer go over its high-water mark."""
        outbox = self._outboxes.get(conn)
        if outbox is not None and outbox.congested_since is None:
            outbox.congested_since = now
            self._watch.add(conn)

    def drained(self, conn: C) -> list[str]:
        """``conn``'s send buffer drained: the frames held for it, to write now, in order."""
        outbox = self._outboxes.get(conn)
        if outbox is None or outbox.congested_since is None:
            return []
        outbox.congested_since = None
        if not outbox.overflowed:
            self._watch.discard(conn)
        frames = []
        if outbox.pending_rev is not None:
            frames.append(messages.invalidate(outbox.pending_rev))
            outbox.pending_rev = None
        if outbox.pending is not None:
            frames += outbox.pending
            outbox.pending = None
        self.stats.delivered += len(frames)
        return frames

    def watching(self) -> bool:
        """Whether any connection may yet have to be closed as slow (``slow_clients``)."""
        return bool(self._watch)

    def slow_clients(self, now: float) -> list[C]:
        """Connections to close with SLOW_CLIENT: congested too long, or their queue overflowed.

        Each is reported once and gets nothing more; the adapter closes it and
        ``remove``s it when the socket is gone (which also frees its topics).
        """
        slow = []
        for conn in self._watch:
            outbox = self._outboxes[conn]
            if outbox.overflowed or (
                outbox.congested_since is not None
                and now - outbox.congested_since > self.slow_after
            ):
                slow.append(conn)
        for conn in slow:
            self._outboxes[conn].closing = True
            self._watch.discard(conn)
        self.stats.slow_closed += len(slow)
        return slow
