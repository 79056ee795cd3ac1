"""The hub: topics, fan-out, first/last listeners, and the outbound policy."""

from __future__ import annotations

from hallboard.realtime.core import messages, topics
from hallboard.realtime.core.hub import Hub


def make_hub() -> Hub[str]:
    return Hub(max_pending=3, slow_after=10.0)


def test_first_and_last_listener_drive_upstream_subscriptions() -> None:
    """The first local listener of a topic is reported, and so is the last one leaving."""
    hub = make_hub()
    assert hub.add("a", [topics.school(1), topics.screen(10)]) == ["school:1", "screen:10"]
    assert hub.add("b", [topics.school(1), topics.screen(11)]) == ["screen:11"]
    assert sorted(hub.topics()) == ["school:1", "screen:10", "screen:11"]
    assert sorted(hub.remove("a")) == ["screen:10"]
    assert sorted(hub.remove("b")) == ["school:1", "screen:11"]
    assert hub.topics() == []
    assert hub.remove("b") == []  # removing twice is harmless


def test_publish_reaches_only_the_topics_listeners() -> None:
    """A school's message reaches its screens and never another school's."""
    hub = make_hub()
    hub.add("alpha-1", [topics.school(1)])
    hub.add("alpha-2", [topics.school(1)])
    hub.add("beta-1", [topics.school(2)])
    assert sorted(hub.deliver("school:1", messages.invalidate(3), rev=3)) == ["alpha-1", "alpha-2"]
    assert hub.deliver("school:3", messages.invalidate(1), rev=1) == []
    assert hub.stats.delivered == 2


def test_congested_connection_collapses_invalidations_to_the_newest() -> None:
    """While congested, invalidations collapse to one with the newest revision."""
    hub = make_hub()
    hub.add("slow", [topics.school(1)])
    hub.add("fast", [topics.school(1)])
    hub.congested("slow", now=0.0)
    for rev in (5, 6, 7):
        assert hub.deliver("school:1", messages.invalidate(rev), rev=rev) == ["fast"]
    assert hub.stats.collapsed == 2
    assert hub.drained("slow") == [messages.invalidate(7)]
    assert hub.drained("slow") == []  # nothing twice


def test_alerts_and_commands_queue_in_order_after_the_invalidation() -> None:
    """Non-collapsible frames are kept in order and written on drain."""
    hub = make_hub()
    hub.add("c", [topics.school(1), topics.screen(9)])
    hub.congested("c", now=0.0)
    hub.deliver("screen:9", '{"type":"command","id":1}')
    hub.deliver("school:1", messages.invalidate(4), rev=4)
    hub.deliver("school:1", '{"type":"alert","rev":5}')
    assert hub.drained("c") == [
        messages.invalidate(4),
        '{"type":"command","id":1}',
        '{"type":"alert","rev":5}',
    ]


def test_slow_client_after_grace_period() -> None:
    """A connection congested longer than slow_after is reported for closing."""
    hub = make_hub()
    hub.add("c", [topics.school(1)])
    # t=0   buffer over the high-water mark
    hub.congested("c", now=0.0)
    # t=9   still within the grace period
    assert hub.slow_clients(now=9.0) == []
    # t=10.5  over it: close with SLOW_CLIENT
    assert hub.slow_clients(now=10.5) == ["c"]
    assert hub.stats.slow_closed == 1
    # t=11  reported once; it gets nothing more while the adapter closes it
    assert hub.slow_clients(now=11.0) == []
    assert hub.deliver("school:1", messages.invalidate(9), rev=9) == []
    # the adapter removes it when the socket is gone: its topics are freed
    assert hub.remove("c") == ["school:1"]


def test_drained_in_time_is_not_slow() -> None:
    """A connection that drains within the grace period is not closed."""
    hub = make_hub()
    hub.add("c", [topics.school(1)])
    hub.congested("c", now=0.0)
    hub.drained("c")
    assert hub.slow_clients(now=60.0) == []


def test_queue_overflow_makes_a_slow_client_at_once() -> None:
    """More held alerts/commands than max_pending reports the connection at once."""
    hub = make_hub()
    hub.add("c", [topics.screen(9)])
    hub.congested("c", now=0.0)
    for n in range(4):
        hub.deliver("screen:9", f'{{"type":"command","id":{n}}}')
    assert hub.slow_clients(now=0.1) == ["c"]


def test_length_and_membership() -> None:
    """The hub counts its connections."""
    hub = make_hub()
    hub.add("a", [topics.CONTROL])
    assert len(hub) == 1
    assert "a" in hub
    assert hub.listeners("control") == frozenset({"a"})
    assert hub.connections() == ["a"]


def test_a_congested_connection_that_leaves_is_never_reported() -> None:
    """A connection removed while congested is forgotten by the slow-client watch."""
    hub = make_hub()
    hub.add("c", [topics.school(1)])
    hub.congested("c", now=0.0)
    hub.remove("c")
    assert hub.slow_clients(now=60.0) == []
