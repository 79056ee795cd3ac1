"""The gateway's side of the broker (realtime.gateway.subscriber), without a gateway.

A real ``Node`` holds the connections (plain strings stand for sockets: the node never
looks inside them); the broker is a recorder of its commands, and ``carry_out`` records
what the node answered each time it is called, as the gateway would carry it out.
Push flags and the resync read a real database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db.models import F

from hallboard.alerts.models import Alert
from hallboard.realtime.core import node
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.node import Node
from hallboard.realtime.gateway import db
from hallboard.realtime.gateway.meters import Meters
from hallboard.realtime.gateway.subscriber import Subscriber
from hallboard.schools.models import School
from tests.conftest import Tenant, make_screen, revision_of, sample
from tests.realtime.conftest import FakeClock
from tests.realtime.gateway.test_server import in_thread


class RecordingBroker:
    """The broker's commands, in order; ``topics`` is what it listens to afterwards.

    ``hold``: while set, a command waits for it to be set (``entered`` tells it began)."""

    name = "fake"
    state = "connected"
    reconnects = 0
    resync_failures = 0
    callback_errors = 0

    def __init__(self) -> None:
        self.commands: list[tuple[str, set[str]]] = []
        self.log: list[str] = []
        self.topics: set[str] = set()
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def subscribe(self, *wanted: str) -> None:
        await self._command("subscribe", wanted)
        self.topics.update(wanted)

    async def unsubscribe(self, *unwanted: str) -> None:
        await self._command("unsubscribe", unwanted)
        self.topics.difference_update(unwanted)

    async def _command(self, name: str, given: tuple[str, ...]) -> None:
        self.commands.append((name, set(given)))
        self.log.append(f"{name} begins")
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        self.log.append(f"{name} ends")


class Carried:
    """``carry_out``: the node's actions of each call (the gateway writes the ``Send``s)."""

    def __init__(self, hub_node: Node[Any]) -> None:
        self.node = hub_node
        self.rounds: list[list[node.Action[Any]]] = []

    def __call__(self) -> int:
        actions = self.node.actions()
        self.rounds.append(actions)
        return sum(len(a.conns) for a in actions if isinstance(a, node.Send))

    @property
    def actions(self) -> list[node.Action[Any]]:
        return [a for actions in self.rounds for a in actions]

    def frames(self, conn: str) -> list[dict[str, Any]]:
        """What was written to ``conn``, decoded, in order."""
        return [
            json.loads(a.text) for a in self.actions if isinstance(a, node.Send) and conn in a.conns
        ]


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(1)
    yield pool
    pool.shutdown()


@pytest.fixture
def hub_node() -> Node[Any]:
    return Node(node.Options(coalesce_window=0.3))


@pytest.fixture
def broker() -> RecordingBroker:
    return RecordingBroker()


@pytest.fixture
def carried(hub_node: Node[Any]) -> Carried:
    return Carried(hub_node)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def subscriber(
    broker: RecordingBroker,
    hub_node: Node[Any],
    executor: ThreadPoolExecutor,
    carried: Carried,
    clock: FakeClock,
) -> Subscriber:
    return Subscriber(broker, hub_node, executor, Meters(broker), carried, clock)  # type: ignore[arg-type]


def open_screen(
    hub_node: Node[Any], conn: str, screen: int, school: int, rev: int = 1, now: float = 1000.0
) -> None:
    """Admit and open a display as admission does; what that says is not kept."""
    hub_node.admit_display(conn, screen, school, now)
    hub_node.open_display(conn, rev, None, [], now, dt.datetime.now(dt.UTC))
    hub_node.actions()


def event(kind: str, ts: float | None = None, **fields: Any) -> bytes:
    """A broker event on the wire (``ts``: the publisher's clock, when it sent one)."""
    stamp = {} if ts is None else {"ts": ts}
    return json.dumps({"e": kind, **fields, **stamp}).encode()


def invalidate(school: int, rev: int, ts: float | None = None) -> bytes:
    return event("invalidate", ts, school=school, rev=rev)


def command(screen: int, command_id: int, ts: float | None = None) -> bytes:
    return event("command", ts, screen=screen, id=command_id, name="reload", payload={})


# --- topics ---------------------------------------------------------------------------------
async def test_every_wanted_topic_is_subscribed_by_one_broker_command(
    subscriber: Subscriber, hub_node: Node[Any], broker: RecordingBroker
) -> None:
    """Three screens of two schools admitted together: one subscribe command carries their
    five topics (each school once); called again with nothing new, no command is sent."""
    open_screen(hub_node, "a", screen=11, school=1)
    open_screen(hub_node, "b", screen=12, school=1)
    open_screen(hub_node, "c", screen=13, school=2)
    await subscriber.subscribe_wanted()
    assert broker.commands == [
        ("subscribe", {"school:1", "school:2", "screen:11", "screen:12", "screen:13"})
    ]
    await subscriber.subscribe_wanted()
    assert len(broker.commands) == 1


async def test_topics_no_local_screen_listens_to_are_unsubscribed(
    subscriber: Subscriber, hub_node: Node[Any], broker: RecordingBroker
) -> None:
    """Two screens leave: their screen topics and the school nobody here shows any more are
    unsubscribed in one command; the school another screen still shows stays subscribed."""
    open_screen(hub_node, "a", screen=11, school=1)
    open_screen(hub_node, "b", screen=12, school=1)
    open_screen(hub_node, "c", screen=13, school=2)
    await subscriber.subscribe_wanted()
    hub_node.lost("b", None)
    hub_node.lost("c", None)
    await subscriber.unsubscribe_unwanted()
    assert broker.commands[1:] == [("unsubscribe", {"screen:12", "screen:13", "school:2"})]
    assert broker.topics == {"school:1", "screen:11"}
    await subscriber.unsubscribe_unwanted()
    assert len(broker.commands) == 2


async def test_a_topic_wanted_again_during_its_unsubscribe_ends_subscribed(
    subscriber: Subscriber, hub_node: Node[Any], broker: RecordingBroker
) -> None:
    """Broker commands run one at a time: a screen of a school admitted while that school's
    unsubscribe is on its way is subscribed after the unsubscribe has ended, never before,
    so the broker is left listening to the school."""
    open_screen(hub_node, "a", screen=11, school=1)
    await subscriber.subscribe_wanted()
    hub_node.lost("a", None)
    broker.hold = asyncio.Event()
    broker.entered.clear()
    leaving = asyncio.create_task(subscriber.unsubscribe_unwanted())
    await broker.entered.wait()  # the unsubscribe command is in flight
    open_screen(hub_node, "b", screen=12, school=1)
    coming = asyncio.create_task(subscriber.subscribe_wanted())
    for _ in range(5):  # let the subscribe run as far as it can (yields, no waiting)
        await asyncio.sleep(0)
    broker.hold.set()
    await asyncio.gather(leaving, coming)
    assert broker.log[2:] == [
        "unsubscribe begins",
        "unsubscribe ends",
        "subscribe begins",
        "subscribe ends",
    ]
    assert broker.topics == {"school:1", "screen:12"}


# --- events in --------------------------------------------------------------------------------
async def test_an_event_is_fed_to_the_node_and_carried_out(
    subscriber: Subscriber, hub_node: Node[Any], carried: Carried
) -> None:
    """An invalidation delivered on a school's topic reaches that school's screen (not
    another school's) and is counted as received by kind."""
    open_screen(hub_node, "a", screen=11, school=1, rev=4)
    open_screen(hub_node, "b", screen=12, school=2, rev=4)
    received = sample("hallboard_gateway_events_received_total", kind="invalidate")
    subscriber.on_message("school:1", invalidate(1, 5))
    assert carried.frames("a") == [{"type": "invalidate", "rev": 5}]
    assert carried.frames("b") == []
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_gateway_events_received_total", kind="invalidate") == received + 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "malformed"),
        (b"\xff\xfe not utf-8", "malformed"),
        (b"[" * 100_000, "malformed"),  # deeper than json's recursion limit
        (b"[1, 2]", "malformed"),
        (b'{"school": 1, "rev": 7}', "malformed"),  # no kind
        (b'{"e": "invalidate", "school": 1, "rev": "7"}', "malformed"),
        (b'{"e": "invalidate", "school": true, "rev": 7}', "malformed"),
        (b'{"e": "command", "screen": 11, "id": 3, "name": "reload"}', "malformed"),
        (b'{"e": "teleport", "school": 1}', "unknown"),
    ],
)
async def test_an_event_that_cannot_be_read_is_counted_logged_and_ignored(
    subscriber: Subscriber,
    hub_node: Node[Any],
    carried: Carried,
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    reason: str,
) -> None:
    """A malformed or unknown event raises nothing: it is counted by reason, logged in one
    warning, reaches no screen, and the next good event on the topic is delivered."""
    caplog.set_level(logging.WARNING, logger="hallboard.realtime.gateway")
    open_screen(hub_node, "a", screen=11, school=1, rev=4)
    ignored = sample("hallboard_gateway_events_ignored_total", reason=reason)
    subscriber.on_message("school:1", data)
    assert sample("hallboard_gateway_events_ignored_total", reason=reason) == ignored + 1
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert carried.rounds == []
    subscriber.on_message("school:1", invalidate(1, 5))
    assert carried.frames("a") == [{"type": "invalidate", "rev": 5}]


async def test_an_invalidation_held_back_by_coalescing_is_counted(
    subscriber: Subscriber, hub_node: Node[Any], carried: Carried
) -> None:
    """The first invalidation goes out at once; a second one within the coalescing window is
    held (counted as coalesced) and written nowhere yet."""
    open_screen(hub_node, "a", screen=11, school=1, rev=4)
    coalesced = sample("hallboard_gateway_coalesced_total")
    subscriber.on_message("school:1", invalidate(1, 5))
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_gateway_coalesced_total") == coalesced
    subscriber.on_message("school:1", invalidate(1, 6))
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_gateway_coalesced_total") == coalesced + 1
    assert carried.frames("a") == [{"type": "invalidate", "rev": 5}]


async def test_push_latency_is_observed_for_written_events_never_below_zero(
    subscriber: Subscriber, hub_node: Node[Any]
) -> None:
    """An event written to a screen is timed from its publisher's ``ts`` (five seconds ago:
    at least five seconds); one stamped by a clock ahead of ours counts as no time at all;
    one written to nobody, or without ``ts``, is not timed."""
    open_screen(hub_node, "a", screen=11, school=1, rev=4)
    count = sample("hallboard_push_latency_seconds_count")
    total = sample("hallboard_push_latency_seconds_sum")
    subscriber.on_message("school:1", invalidate(1, 5, ts=time.time() - 5))
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_push_latency_seconds_count") == count + 1
    assert sample("hallboard_push_latency_seconds_sum") >= total + 5
    total = sample("hallboard_push_latency_seconds_sum")
    subscriber.on_message("screen:11", command(11, 1, ts=time.time() + 3600))
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_push_latency_seconds_count") == count + 2
    assert sample("hallboard_push_latency_seconds_sum") == total
    subscriber.on_message("school:2", invalidate(2, 5, ts=time.time()))  # no screen of it here
    subscriber.on_message("screen:11", command(11, 2))  # no ts
    await asyncio.sleep(0)  # metrics are written once per turn of the loop
    assert sample("hallboard_push_latency_seconds_count") == count + 2


# --- push flags ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_check_push_closes_the_screens_whose_push_was_turned_off(
    subscriber: Subscriber, hub_node: Node[Any], carried: Carried, tenant: Tenant
) -> None:
    """Asked to check three screens: the one whose school turned push off and the one whose
    token was revoked are closed with 4409; the one still on push stays open."""
    on, _ = await in_thread(make_screen, tenant.school, "On")
    off, _ = await in_thread(make_screen, tenant.other_school, "Off")
    revoked, _ = await in_thread(make_screen, tenant.school, "Revoked")
    for conn, screen in (("on", on), ("off", off), ("revoked", revoked)):
        open_screen(hub_node, conn, screen.pk, screen.school_id)
    await in_thread(School.objects.filter(pk=tenant.other_school.pk).update, push="off")
    await in_thread(revoked.revoke_token)
    await subscriber.check_push(frozenset({on.pk, off.pk, revoked.pk}))
    closes = {(a.conn, a.code) for a in carried.actions if isinstance(a, node.Close)}
    assert closes == {("off", CloseCode.PUSH_DISABLED), ("revoked", CloseCode.PUSH_DISABLED)}


# --- resync ----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_resync_tells_every_local_screen_its_schools_current_state(
    subscriber: Subscriber, hub_node: Node[Any], carried: Carried, tenant: Tenant
) -> None:
    """After an outage, both screens of a school get the revision committed meanwhile and
    the alert raised meanwhile; a school the database no longer has is skipped."""
    rev = await in_thread(revision_of, tenant.school)
    open_screen(hub_node, "a", screen=11, school=tenant.school.pk, rev=rev)
    open_screen(hub_node, "b", screen=12, school=tenant.school.pk, rev=rev)
    open_screen(hub_node, "gone", screen=13, school=tenant.school.pk + 1000, rev=rev)
    raised = await in_thread(
        Alert.objects.create, organisation=tenant.organisation, school=None, headline="Storm"
    )
    await in_thread(School.objects.filter(pk=tenant.school.pk).update, revision=F("revision") + 3)
    latest = await in_thread(revision_of, tenant.school)
    assert latest > rev
    await subscriber.resync()
    for conn in ("a", "b"):
        alert, invalidated = carried.frames(conn)
        assert (alert["type"], alert["alert"]["id"]) == ("alert", raised.pk)
        assert invalidated == {"type": "invalidate", "rev": latest}
    assert carried.frames("gone") == []


async def test_resync_carries_out_fifty_schools_at_a_time(
    subscriber: Subscriber,
    hub_node: Node[Any],
    carried: Carried,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """120 schools with local screens are resynced in rounds of 50, 50 and 20 schools, each
    carried out before the next begins (screens do not all fetch their snapshot at once)."""
    for school in range(1, 121):
        open_screen(hub_node, f"s{school}", screen=1000 + school, school=school, rev=1)

    def current_state(schools: list[int]) -> tuple[dict[int, int], dict[int, Any]]:
        return dict.fromkeys(schools, 2), dict.fromkeys(schools)

    monkeypatch.setattr(db, "current_state", current_state)
    await subscriber.resync()
    told = [
        sorted(int(a.conns[0][1:]) for a in actions if isinstance(a, node.Send))
        for actions in carried.rounds
    ]
    assert told == [list(range(1, 51)), list(range(51, 101)), list(range(101, 121))]
    assert all(
        carried.frames(f"s{school}") == [{"type": "invalidate", "rev": 2}]
        for school in range(1, 121)
    )
