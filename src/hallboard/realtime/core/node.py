"""The gateway's state machine: what to send to which socket, and when — without any I/O.

``Node`` is to the gateway what websockets' sans-I/O ``Protocol`` is to a
connection: the glue (``hallboard.realtime.gateway``) feeds it what happened —
a broker event (``receive_event``), a socket admitted (``admit_display``,
``admit_staff``, then ``open_display`` / ``open_staff``), a client message
(``receive_message``), a socket's traffic, back-pressure or loss, the time
(``tick``) — and then carries out what it answers. Answers are *actions*,
queued and drained like websockets' ``data_to_send()``:

- ``Send(conns, text, mtype)``: write this frame (encode it once) to these connections;
- ``Close(conn, code, reason, detail)``: start the closing handshake with ``code``;
- ``Ping(conn)``, ``Drop(conn, reason)``: keepalive, and the end of a socket that never answered;
- ``Store(item)``: database work for the glue's batches (heartbeats, acks, deliveries,
  disconnects), each item a frozen dataclass below;
- ``Dash(school, frame)``: a staff frame for the school's dashboards;
- ``CheckPush(screens)``: push flags changed; look them up and call ``push_states``.

Broker subscriptions are diffed here too: ``take_subscribe()`` / ``take_unsubscribe()``
answer the topics the broker must start or stop listening to. ``next_wakeup()``
says when ``tick`` must run next (a coalescing window's end, the slow-client
check, the keepalive sweep).

The node owns the ``Hub`` (who listens to what, per-connection back-pressure),
the ``Coalescer`` and the per-school state: the latest revision and the alert each
school with local screens shows. ``C`` is the glue's connection handle (any
hashable object); the node never looks inside it. ``now`` is monotonic seconds
from the glue's (injected) clock; the node reads no clock itself.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hallboard.realtime.core import events, messages, topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.coalesce import Coalescer
from hallboard.realtime.core.hub import Hub
from hallboard.realtime.core.messages import (
    Ack,
    Heartbeat,
    InboundLimit,
    ProtocolError,
)
from hallboard.realtime.core.messages import (
    Ping as PingMessage,
)

C = TypeVar("C", bound=Hashable)

#: Why a staff socket is closed with 1001 after ``staff_max_age`` (it renews its ticket).
RENEW_REASON = "reconnect with a fresh ticket"


class Kind(enum.IntEnum):
    DISPLAY = 0
    STAFF = 1


@dataclass(frozen=True, slots=True)
class Options:
    coalesce_window: float = 2.0
    heartbeat_s: int = 30
    #: A socket silent this long gets a ping; one that stays silent as long again is dropped.
    ping_interval: float = 30.0
    slow_after: float = 10.0
    max_connections: int = 10_000
    #: Seconds a staff socket stays open before it must reconnect with a fresh ticket.
    staff_max_age: float = 15 * 60.0
    #: How often the keepalive sweep looks at a slice of the connections (each is looked at
    #: once per ping interval). Small slices often: the pings of 20,000 silent sockets go
    #: out (and their pongs come back) in bursts of a few dozen, not of hundreds at once,
    #: which would hold back a push arriving during the burst.
    sweep_every: float = 0.1


# --- actions ----------------------------------------------------------------------------
# Not frozen: one is made per publish, on the hot path, and a frozen dataclass is several
# times slower to make. Nothing changes an action once made.
@dataclass(slots=True)
class Send(Generic[C]):
    """Write ``text`` (one frame, encoded once) to ``conns``; ``mtype`` labels the metrics
    (None: frames held while a connection was congested, counted when they were published).

    ``dropped``: frames the hub neither handed back nor held (a closing connection, a full
    queue), counted as failed; ``then``: what to store once it was written."""

    conns: tuple[C, ...]
    text: str
    mtype: str | None
    dropped: int = 0
    #: To store once the frame was written to at least one connection.
    then: StoreItem | None = None


@dataclass(frozen=True, slots=True)
class Close(Generic[C]):
    """Close ``conn`` with ``code``; ``detail``: the one log line's reason, if any."""

    conn: C
    code: CloseCode
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Ping(Generic[C]):
    conn: C


@dataclass(frozen=True, slots=True)
class Drop(Generic[C]):
    """Drop ``conn`` without a closing handshake (it stopped answering)."""

    conn: C
    reason: str


@dataclass(frozen=True, slots=True)
class HeartbeatSeen:
    screen: int
    message: Heartbeat
    #: The staff frame to publish once it is written (the screen shows another revision).
    frame: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CommandAcked:
    screen: int
    command: int


@dataclass(frozen=True, slots=True)
class AlertAcked:
    screen: int
    alert: int
    state: str


@dataclass(frozen=True, slots=True)
class CommandsDelivered:
    commands: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ScreenLeft:
    screen: int


StoreItem = HeartbeatSeen | CommandAcked | AlertAcked | CommandsDelivered | ScreenLeft


@dataclass(frozen=True, slots=True)
class Store:
    """Database work for the glue's write batches."""

    item: StoreItem


@dataclass(frozen=True, slots=True)
class Dash:
    """A staff frame for ``school``'s dashboards."""

    school: int
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckPush:
    """Look up whether push is on for ``screens``; answer with ``Node.push_states``."""

    screens: frozenset[int]


Action = Send[C] | Close[C] | Ping[C] | Drop[C] | Store | Dash | CheckPush


def screen_frame(
    school_id: int, screen_id: int, event: str, code: int | None = None
) -> dict[str, Any]:
    """A dashboard's ``screen`` frame (``hallboard.staff.frames`` builds the web side's)."""
    frame: dict[str, Any] = {"type": "screen", "school": school_id, "screen": screen_id}
    frame["event"] = event
    if code is not None:
        frame["code"] = code
    return frame


def expired(alert: Mapping[str, Any], today: dt.datetime) -> bool:
    """Whether ``alert``'s ``expires_at`` (ISO 8601, with offset) is at or before ``today``."""
    expires = alert.get("expires_at")
    if not isinstance(expires, str):
        return False
    return dt.datetime.fromisoformat(expires) <= today


# --- the node -----------------------------------------------------------------------------
@dataclass(slots=True)
class Peer(InboundLimit):
    """What the node knows of one admitted connection, and its bucket of client messages
    (one object per connection, not two: 50,000 of them make a gateway's memory)."""

    kind: Kind
    opened_at: float
    last_seen: float
    screen: int = 0
    school: int = 0
    user: int = 0
    open: bool = False
    closing: bool = False
    ping_sent_at: float | None = None
    rev_shown: int | None = None
    #: Reported slow by the hub before it was open: closed with 4408 once open.
    slow: bool = False
    #: Commands the hub holds for it while it is not yet open (sent when it opens).
    held_commands: list[int] | None = None

    def __post_init__(self) -> None:
        InboundLimit.__init__(self, self.opened_at)


class Node(Generic[C]):
    def __init__(self, options: Options | None = None) -> None:
        self.options = o = options or Options()
        self.hub: Hub[C] = Hub(slow_after=o.slow_after)
        self.coalescer = Coalescer(o.coalesce_window)
        #: Invalidations held by the coalescer (a metric).
        self.coalesced = 0
        self.peers: dict[C, Peer] = {}
        #: Sockets handshaken and waiting for their lookup: they count against capacity.
        self.pending = 0
        self._latest_rev: dict[int, int] = {}
        #: The alert each school with local screens shows (exact while subscribed).
        self._alerts: dict[int, dict[str, Any] | None] = {}
        self._staff: set[C] = set()
        self._actions: list[Action[C]] = []
        self._subscribe: set[str] = set()
        self._unsubscribe: set[str] = set()
        self._sweep_round = 0
        self._next_sweep: float | None = None
        self._next_slow_check: float | None = None
        #: next_wakeup's answer, recomputed only after something that may move it.
        self._wakeup: float | None = None
        self._wake_changed = False

    # --- draining ---------------------------------------------------------------------
    def actions(self) -> list[Action[C]]:
        """What the glue must do now, in order (and forget)."""
        out, self._actions = self._actions, []
        return out

    def take_subscribe(self) -> set[str]:
        """Topics the broker must start listening to (one command for all of them)."""
        out, self._subscribe = self._subscribe, set()
        return out

    def unwanted(self) -> bool:
        """Whether some topic is to be unsubscribed (``take_unsubscribe``)."""
        return bool(self._unsubscribe)

    def take_unsubscribe(self) -> set[str]:
        """Topics no local connection listens to any more."""
        out, self._unsubscribe = self._unsubscribe, set()
        return out

    def next_wakeup(self) -> float | None:
        """When ``tick`` must run next (None: only when something happens)."""
        if self._wake_changed:
            self._wake_changed = False
            times = [self.coalescer.next_deadline(), self._next_sweep, self._next_slow_check]
            self._wakeup = min((t for t in times if t is not None), default=None)
        return self._wakeup

    # --- state --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.peers)

    def at_capacity(self) -> bool:
        return len(self.peers) + self.pending >= self.options.max_connections

    def schools(self) -> list[int]:
        """Schools with local screens (to resync after a broker outage)."""
        return sorted(self._latest_rev)

    def latest_rev(self, school_id: int) -> int | None:
        return self._latest_rev.get(school_id)

    def alert(self, school_id: int) -> dict[str, Any] | None:
        return self._alerts.get(school_id)

    def _note_rev(self, school_id: int, rev: int) -> int:
        latest = max(rev, self._latest_rev.get(school_id, 0))
        self._latest_rev[school_id] = latest
        return latest

    # --- admission ----------------------------------------------------------------------
    def admit_display(self, conn: C, screen_id: int, school_id: int, now: float) -> bool:
        """Put a display on its topics before it is open (frames for it wait until it is);
        whether it is the first local screen of its school (then re-read the school's state
        once subscribed, and tell ``school_state``)."""
        peer = Peer(Kind.DISPLAY, now, now, screen=screen_id, school=school_id)
        school_topic = topics.school(school_id)
        first = self._hold(conn, peer, [school_topic, topics.screen(screen_id)], now)
        return school_topic in first

    def admit_staff(self, conn: C, user_id: int, school_ids: Iterable[int], now: float) -> None:
        """Put a staff socket on its user's and its schools' dashboard topics."""
        wanted = [topics.user(user_id)] + [topics.dashboard(s) for s in sorted(school_ids)]
        self._hold(conn, Peer(Kind.STAFF, now, now, user=user_id), wanted, now)

    def _hold(self, conn: C, peer: Peer, wanted: list[str], now: float) -> list[str]:
        self.peers[conn] = peer
        first = self.hub.add(conn, wanted)
        # The hub queues for congested connections: "congested" until open.
        self.hub.congested(conn, now)
        for topic in first:
            if topic in self._unsubscribe:
                self._unsubscribe.discard(topic)  # still subscribed
            else:
                self._subscribe.add(topic)
        self._arm_slow_check(now)
        return first

    def school_state(self, school_id: int, rev: int) -> None:
        """The school's revision read after subscribing (changes committed between the token
        lookup and the subscription reached no one here)."""
        self._note_rev(school_id, rev)

    def school_alert(self, school_id: int, alert: dict[str, Any] | None) -> None:
        """The alert the school's screens show, read after subscribing."""
        self._alerts[school_id] = alert

    def open_display(
        self,
        conn: C,
        rev: int,
        alert: dict[str, Any] | None,
        commands: list[dict[str, Any]],
        now: float,
        today: dt.datetime,
    ) -> list[str]:
        """The display's lookup found it at ``rev`` with ``alert`` and ``commands`` pending
        (each ``id``, ``name`` and ``payload``, as the database gives them):
        the frames to open it with (hello first); then what was held for it is sent."""
        peer = self.peers[conn]
        school_id = peer.school
        rev = self._note_rev(school_id, rev)
        shown = self._alerts.setdefault(school_id, alert)
        if shown is not None and expired(shown, today):
            # Expiry is not an event: the lookup that admitted this socket is fresher.
            shown = self._alerts[school_id] = alert
        frames = [messages.hello(rev, peer.screen, self.options.heartbeat_s, shown)]
        # A command both found by the lookup and held by the hub (its event came after
        # the subscription) is sent once: from the hub, right after these frames.
        held = peer.held_commands or []
        peer.held_commands = None
        commands = [c for c in commands if c["id"] not in held]
        frames += [messages.command(c["id"], c["name"], c.get("payload")) for c in commands]
        # (A slow one is closed as it opens: what the hub held may be lost, so those stay
        # pending for its next connection.)
        delivered = tuple(c["id"] for c in commands) + (() if peer.slow else tuple(held))
        if delivered:
            self._actions.append(Store(CommandsDelivered(delivered)))
        self._actions.append(Dash(school_id, screen_frame(school_id, peer.screen, "connected")))
        self._open(conn, peer, now)
        return frames

    def open_staff(self, conn: C, now: float) -> None:
        """The staff socket was opened (its hello written): send what was held for it."""
        self._open(conn, self.peers[conn], now)

    def _open(self, conn: C, peer: Peer, now: float) -> None:
        peer.open = True
        peer.last_seen = now
        if peer.kind == Kind.STAFF:
            self._staff.add(conn)
        if self._next_sweep is None:
            self._next_sweep = now + self.options.sweep_every
            self._wake_changed = True
        if peer.slow:
            self._close(conn, peer, CloseCode.SLOW_CLIENT, None, "slow client")
        for held in self.hub.drained(conn):
            self._actions.append(Send((conn,), held, None))
        if not self.hub.watching():
            self._next_slow_check = None  # nobody left who could be slow
            self._wake_changed = True

    def refused(self, school_id: int | None, screen_id: int | None, code: CloseCode) -> None:
        """A display's lookup refused it (the dashboards hear of it when the screen is known)."""
        if school_id is not None and screen_id is not None:
            self._actions.append(
                Dash(school_id, screen_frame(school_id, screen_id, "refused", code))
            )

    def lost(self, conn: C, close_code: int | None) -> None:
        """``conn`` is gone (after a close, a drop, or while it was being admitted)."""
        peer = self.peers.pop(conn, None)
        if peer is None:
            return
        self._staff.discard(conn)
        freed = self.hub.remove(conn)
        self._wake_changed = True  # a school forgotten, or nobody left to sweep
        if not self.peers:
            self._next_sweep = self._next_slow_check = None
        for topic in freed:
            if topic in self._subscribe:
                self._subscribe.discard(topic)  # never got subscribed
            else:
                self._unsubscribe.add(topic)
            if topic.startswith("school:"):
                school_id = int(topic[7:])
                self._latest_rev.pop(school_id, None)
                self._alerts.pop(school_id, None)
                self.coalescer.forget(school_id)
        if peer.kind == Kind.DISPLAY:
            self._actions.append(Store(ScreenLeft(peer.screen)))
            frame = screen_frame(peer.school, peer.screen, "disconnected", close_code)
            self._actions.append(Dash(peer.school, frame))

    # --- what sockets do ------------------------------------------------------------------
    def seen(self, conn: C, now: float) -> None:
        """Traffic from an open ``conn``: a sign of life (keepalive)."""
        peer = self.peers.get(conn)
        if peer is not None:
            peer.last_seen = now
            peer.ping_sent_at = None

    def closing(self, conn: C) -> None:
        """``conn``'s closing handshake began (either side): it is no longer swept."""
        peer = self.peers.get(conn)
        if peer is not None:
            peer.closing = True

    def congested(self, conn: C, now: float) -> None:
        self.hub.congested(conn, now)
        self._arm_slow_check(now)

    def drained(self, conn: C) -> None:
        """``conn``'s send buffer drained: what was held for it is sent now, in order."""
        peer = self.peers.get(conn)
        if peer is None or not peer.open or peer.closing:
            return
        for held in self.hub.drained(conn):
            self._actions.append(Send((conn,), held, None))

    def receive_message(self, conn: C, data: bytes, now: float) -> None:
        """One complete text message from an open ``conn``."""
        peer = self.peers.get(conn)
        if peer is None or not peer.open or peer.closing:
            return
        try:
            if not peer.allow(now):
                raise ProtocolError(CloseCode.POLICY_VIOLATION, "too many messages")
            try:
                text = data.decode()
            except UnicodeDecodeError:
                raise ProtocolError(CloseCode.POLICY_VIOLATION, "text is not UTF-8") from None
            message: messages.ClientMessage = (
                messages.parse_staff(text) if peer.kind == Kind.STAFF else messages.parse(text)
            )
        except ProtocolError as exc:
            self._close(conn, peer, exc.code, None, exc.detail)
            return
        if isinstance(message, PingMessage):
            self._actions.append(Send((conn,), messages.PONG, "pong"))
        elif isinstance(message, Heartbeat):
            frame = None
            if message.rev != peer.rev_shown:
                peer.rev_shown = message.rev
                frame = screen_frame(peer.school, peer.screen, "heartbeat")
            self._actions.append(Store(HeartbeatSeen(peer.screen, message, frame)))
        elif isinstance(message, Ack):
            self._actions.append(Store(CommandAcked(peer.screen, message.id)))
        else:  # AlertAck
            self._actions.append(Store(AlertAcked(peer.screen, message.alert, message.state)))

    def _close(
        self, conn: C, peer: Peer, code: CloseCode, reason: str | None, detail: str | None
    ) -> None:
        # Only an open connection is closed: one being admitted still opens (its lookup is
        # fresher than the event), one closing already is on its way.
        if peer.open and not peer.closing:
            peer.closing = True
            self._actions.append(Close(conn, code, reason, detail))

    # --- broker events ------------------------------------------------------------------
    def receive_event(self, event: events.Event, now: float) -> None:
        """Act on one broker event (the topic is the event's own)."""
        if isinstance(event, events.Invalidate):
            self._note_rev(event.school, event.rev)
            send = self.coalescer.offer(event.school, event.rev, now)
            if send is not None:
                self._deliver(event.topic, messages.invalidate(send), "invalidate", rev=send)
            else:
                self.coalesced += 1
                self._wake_changed = True
        elif isinstance(event, events.AlertChanged):  # never delayed by coalescing
            if event.school in self._alerts:
                self._alerts[event.school] = event.alert
            self._deliver(event.topic, messages.alert(event.alert, event.cleared), "alert")
        elif isinstance(event, events.Command):
            frame = messages.command(event.id, event.name, event.payload)
            for conn in self.hub.listeners(event.topic):
                peer = self.peers[conn]
                if not peer.open:  # held by the hub: stored as delivered when it opens
                    peer.held_commands = [*(peer.held_commands or ()), event.id]
            then = CommandsDelivered((event.id,))
            self._deliver(event.topic, frame, "command", then=then)
        elif isinstance(event, events.CloseScreen):
            for conn in self.hub.listeners(event.topic):
                self._close(conn, self.peers[conn], event.code, None, None)
        elif isinstance(event, events.FlagsChanged):
            screens = frozenset(p.screen for p in self.peers.values() if p.kind == Kind.DISPLAY)
            self._actions.append(CheckPush(screens))
        else:  # StaffFrames: written as they are
            for f in event.frames:
                self._deliver(event.topic, messages.encode(f), "staff")

    def push_states(self, screens: frozenset[int], states: Mapping[int, bool]) -> None:
        """The answer to ``CheckPush(screens)``: push is off for those of ``screens`` not
        ``True`` in ``states`` (deleted, revoked, or flags off): close them with 4409."""
        for conn, peer in list(self.peers.items()):
            off = peer.screen in screens and not states.get(peer.screen, False)
            if off and peer.kind == Kind.DISPLAY:
                self._close(conn, peer, CloseCode.PUSH_DISABLED, None, None)

    def resync(self, school_id: int, rev: int, alert: dict[str, Any] | None) -> None:
        """After a broker outage: the school's state read from the database; every local
        screen is told the revision (and the alert, if it changed)."""
        if school_id not in self._latest_rev:
            return  # no screen of it left here
        rev = self._note_rev(school_id, rev)
        topic = topics.school(school_id)
        if school_id in self._alerts and self._alerts[school_id] != alert:
            self._alerts[school_id] = alert
            self._deliver(topic, messages.alert(alert), "alert")
        self._deliver(topic, messages.invalidate(rev), "invalidate", rev=rev)

    def _deliver(
        self,
        topic: str,
        text: str,
        mtype: str,
        *,
        rev: int | None = None,
        then: StoreItem | None = None,
    ) -> None:
        stats = self.hub.stats
        dropped = stats.dropped
        ready = self.hub.deliver(topic, text, rev=rev)
        dropped = stats.dropped - dropped
        if ready or dropped:
            self._actions.append(Send(tuple(ready), text, mtype, dropped, then))

    # --- time -----------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Whatever is due at ``now``: trailing invalidations, slow clients, the keepalive sweep."""
        self._wake_changed = True
        for school_id, rev in self.coalescer.due(now):
            self._deliver(topics.school(school_id), messages.invalidate(rev), "invalidate", rev=rev)
        if self._next_slow_check is not None and now >= self._next_slow_check:
            self._next_slow_check = None
            for conn in self.hub.slow_clients(now):
                peer = self.peers[conn]
                if peer.open:
                    self._close(conn, peer, CloseCode.SLOW_CLIENT, None, "slow client")
                else:
                    # Admitted but not yet open (a lookup slower than slow_after, or more
                    # frames than the queue holds meanwhile): the hub gives it nothing
                    # more, so it is closed as slow as soon as it opens, and reconnects.
                    peer.slow = True
            if self.hub.watching():
                self._arm_slow_check(now)
        if self._next_sweep is not None and now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + self.options.sweep_every if self.peers else None

    def _arm_slow_check(self, now: float) -> None:
        if self._next_slow_check is None:
            self._next_slow_check = now + min(0.25, self.options.slow_after / 2)
            self._wake_changed = True

    def _sweep(self, now: float) -> None:
        """A slice of the connections, so each is looked at every ping interval: silent
        ones get a ping; ones silent for another interval after it are dropped. Staff
        sockets older than ``staff_max_age`` are closed with 1001 (they renew their ticket)."""
        o = self.options
        rounds = max(1, int(o.ping_interval / o.sweep_every))
        self._sweep_round = (self._sweep_round + 1) % rounds
        # Every ``rounds``-th peer, without copying them all: the loop only appends actions
        # (the glue carries them out later), so the mapping does not change meanwhile.
        for conn in itertools.islice(self.peers, self._sweep_round, None, rounds):
            peer = self.peers[conn]
            if not peer.open or peer.closing:
                continue
            if peer.ping_sent_at is not None:
                if now - peer.ping_sent_at > o.ping_interval:
                    peer.closing = True
                    self._actions.append(Drop(conn, "ping_timeout"))
            elif now - peer.last_seen > o.ping_interval:
                peer.ping_sent_at = now
                self._actions.append(Ping(conn))
        for conn in list(self._staff):
            peer = self.peers[conn]
            if now - peer.opened_at > o.staff_max_age:
                self._close(conn, peer, CloseCode.GOING_AWAY, RENEW_REASON, None)
