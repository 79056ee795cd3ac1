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


def test_listeners_move_between_one_and_many_without_losing_anyone() -> None:
    """A topic's listeners stay exact as it goes from one listener to several and back:
    each delivery reaches exactly the current ones (the hub keeps a lone listener without a
    set, which this must not show)."""
    hub = make_hub()
    school = topics.school(1)
    assert hub.add("a", [school]) == [school]
    assert hub.listeners(school) == {"a"}
    assert hub.add("b", [school]) == []
    assert hub.add("c", [school]) == []
    assert sorted(hub.deliver(school, messages.invalidate(1), rev=1)) == ["a", "b", "c"]
    assert hub.remove("a") == []
    assert hub.remove("c") == []
    assert hub.listeners(school) == {"b"}
    assert hub.deliver(school, messages.invalidate(2), rev=2) == ["b"]
    assert hub.add("a", [school]) == []
    assert sorted(hub.listeners(school)) == ["a", "b"]
    assert hub.remove("b") == []
    assert hub.remove("a") == [school]
    assert hub.listeners(school) == frozenset()
    assert hub.deliver(school, messages.invalidate(3), rev=3) == []


def test_a_topic_named_twice_or_added_again_counts_once() -> None:
    """Adding a connection to a topic it already has, or naming a topic twice in one call,
    neither reports it as first again nor makes the connection receive a frame twice."""
    hub = make_hub()
    assert hub.add("a", ["school:1", "school:1", "screen:9"]) == ["school:1", "screen:9"]
    assert hub.add("a", ["school:1", "dash:1"]) == ["dash:1"]
    assert hub.deliver("school:1", messages.invalidate(1), rev=1) == ["a"]
    assert sorted(hub.remove("a")) == ["dash:1", "school:1", "screen:9"]


def test_every_connection_on_a_topic_shares_one_string_for_its_name() -> None:
    """Topic names are built per connection (``topics.school(id)``), but the hub keeps one
    string per name, however many connections list it."""
    hub = make_hub()
    for n in range(3):
        hub.add(f"c{n}", [f"school:{1000 + 1}"])
    names = [hub._outboxes[f"c{n}"].topics[0] for n in range(3)]
    assert names[0] == "school:1001"
    assert names[0] is names[1] is names[2]


def test_a_queue_is_made_only_for_a_connection_that_holds_frames() -> None:
    """An idle connection has no queue of its own; one that held frames gives it up when
    drained (the memory of 50,000 idle sockets)."""
    hub = make_hub()
    hub.add("c", ["screen:9"])
    assert hub._outboxes["c"].pending is None
    hub.congested("c", now=0.0)
    hub.deliver("screen:9", '{"type":"command","id":1}')
    assert hub._outboxes["c"].pending == ['{"type":"command","id":1}']
    assert hub.drained("c") == ['{"type":"command","id":1}']
    assert hub._outboxes["c"].pending is None


def test_with_no_room_to_queue_a_held_frame_is_dropped_at_once() -> None:
    """``max_pending=0`` queues nothing: a frame for a congested connection is dropped and
    the connection reported as slow."""
    hub: Hub[str] = Hub(max_pending=0, slow_after=10.0)
    hub.add("c", ["screen:9"])
    hub.congested("c", now=0.0)
    assert hub.deliver("screen:9", '{"type":"command","id":1}') == []
    assert hub.stats.dropped == 1
    assert hub.slow_clients(now=0.1) == ["c"]
