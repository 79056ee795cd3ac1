"""The gateway's side of the broker: topics in and out, events in, a resync after an outage.

The node says which topics it wants and which it no longer needs; this
subscribes and unsubscribes them (one broker command each time, one at a time).
It parses what the broker delivers (``core.events``) and feeds it to the node,
counting and logging what it cannot read; it reads the push flags the node asks
to check, and after a broker outage tells the node every local school's current
state. What the node answers is carried out by the gateway (``carry_out``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hallboard.realtime.brokers import Broker
from hallboard.realtime.core import events
from hallboard.realtime.core.node import Node
from hallboard.realtime.gateway import db
from hallboard.realtime.gateway.connection import Socket
from hallboard.realtime.gateway.meters import Meters

logger = logging.getLogger("hallboard.realtime.gateway")


class Subscriber:
    def __init__(
        self,
        broker: Broker,
        node: Node[Socket],
        executor: ThreadPoolExecutor,
        meters: Meters,
        carry_out: Callable[[], int],
        clock: Callable[[], float],
    ) -> None:
        self.broker, self.node, self.executor, self.meters = broker, node, executor, meters
        self.carry_out, self.clock = carry_out, clock
        self._subscribing = asyncio.Lock()

    async def subscribe_wanted(self) -> None:
        """Subscribe every topic the node wants (one broker command for all of them)."""
        async with self._subscribing:
            wanted = self.node.take_subscribe()
            if wanted:
                await self.broker.subscribe(*wanted)

    async def unsubscribe_unwanted(self) -> None:
        async with self._subscribing:
            unwanted = self.node.take_unsubscribe()
            if unwanted:
                await self.broker.unsubscribe(*unwanted)

    def on_message(self, topic: str, data: bytes) -> None:
        """What the broker delivered on ``topic``: parsed, fed to the node, carried out."""
        try:
            received = events.parse(topic, data)
        except events.EventError as exc:
            self.meters.ignored[exc.reason].inc()
            logger.warning(
                "ignored an %s event %r on %s: %s", exc.reason, exc.kind, topic, exc.detail
            )
            return
        event = received.event
        self.meters.received(event.kind)
        coalesced = self.node.coalesced
        self.node.receive_event(event, self.clock())
        if self.node.coalesced != coalesced:
            self.meters.coalesced()
        written = self.carry_out()
        if written and received.ts is not None:
            # Clamped: the publisher may run on another host with another clock.
            self.meters.latency(max(0.0, time.time() - received.ts))

    async def check_push(self, screens: frozenset[int]) -> None:
        """The node asked for these screens' push flags (``node.CheckPush``)."""
        states = await db.run_db(self.executor, db.push_states, screens)
        self.node.push_states(screens, states)
        self.carry_out()

    async def resync(self) -> None:
        """After a broker outage: tell every local screen its school's current revision.

        Rate-limited in batches of schools so a large gateway does not make every
        display fetch its snapshot in the same instant.
        """
        school_ids = self.node.schools()
        revs, alerts = await db.run_db(self.executor, db.current_state, school_ids)
        for start in range(0, len(school_ids), 50):
            for school_id in school_ids[start : start + 50]:
                rev = revs.get(school_id)
                if rev is not None:
                    self.node.resync(school_id, rev, alerts.get(school_id))
            self.carry_out()
            await asyncio.sleep(0.05)
