"""The node: what each connection is sent, when, and when one is closed, on a timeline.

Every test drives the node with explicit times (``now``) and reads the actions it
answers with, as the gateway's glue does: no event loop, no socket, no clock.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hallboard.realtime.core import events, messages
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.node import (
    RENEW_REASON,
    AlertAcked,
    CheckPush,
    Close,
    CommandAcked,
    CommandsDelivered,
    Dash,
    Drop,
    HeartbeatSeen,
    Node,
    Options,
    Ping,
    ScreenLeft,
    Send,
    Store,
)

TODAY = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
SCHOOL, OTHER = 1, 2


def make(**options: Any) -> Node[str]:
    """A node with a 2 s coalescing window, a 30 s ping interval and one sweep a second
    (the timelines below count in whole seconds)."""
    defaults = {"coalesce_window": 2.0, "ping_interval": 30.0, "sweep_every": 1.0}
    return Node(Options(**{**defaults, **options}))


def open_display(
    n: Node[str],
    conn: str,
    screen: int,
    now: float = 0.0,
    *,
    school: int = SCHOOL,
    rev: int = 5,
    alert: dict[str, Any] | None = None,
    commands: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Admit and open a display as the glue does; the frames it opens with, decoded."""
    n.admit_display(conn, screen, school, now)
    frames = n.open_display(conn, rev, alert, commands or [], now, TODAY)
    return [json.loads(f) for f in frames]


def sent(actions: list[Any]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The frames of the Send actions: (connections, decoded frame)."""
    return [(a.conns, json.loads(a.text)) for a in actions if isinstance(a, Send)]


def test_a_display_opens_with_hello_and_its_pending_commands() -> None:
    """hello carries the school's revision, the screen and its alert; pending commands follow
    and are stored as delivered; the dashboards hear that the screen connected."""
    n = make()
    first = n.admit_display("a", 11, SCHOOL, 0.0)
    assert first is True  # the first screen of its school here: re-read its state
    assert n.take_subscribe() == {"school:1", "screen:11"}
    frames = n.open_display("a", 5, None, [{"id": 3, "name": "reload"}], 0.0, TODAY)
    assert [json.loads(f) for f in frames] == [
        {"type": "hello", "rev": 5, "screen": 11, "heartbeat_s": 30, "alert": None},
        {"type": "command", "id": 3, "name": "reload"},
    ]
    assert n.actions() == [
        Store(CommandsDelivered((3,))),
        Dash(SCHOOL, {"type": "screen", "school": SCHOOL, "screen": 11, "event": "connected"}),
    ]
    # A second screen of the school is not the first: nothing more to subscribe for it.
    assert n.admit_display("b", 12, SCHOOL, 0.0) is False
    assert n.take_subscribe() == {"screen:12"}


def test_events_arriving_during_admission_follow_hello() -> None:
    """An invalidation and a command published between the lookup and hello are held; hello
    already says the newest revision, and the held frames follow it."""
    n = make()
    n.admit_display("a", 11, SCHOOL, 0.0)
    n.receive_event(events.Invalidate(SCHOOL, 9), 0.1)
    n.receive_event(events.Command(11, 4, "identify", {}), 0.1)
    assert n.actions() == []  # nothing is written to a socket that is not open
    hello = open_display_frames(n, "a")
    assert hello[0]["rev"] == 9
    assert [frame for _, frame in sent(n.actions())] == [
        {"type": "invalidate", "rev": 9},
        {"type": "command", "id": 4, "name": "identify"},
    ]


def test_a_pending_command_has_a_pushed_commands_shape() -> None:
    """A command the lookup found (id, name, payload as stored) follows hello with its
    payload's fields beside id and name, exactly as the same command pushed later."""
    n = make()
    n.admit_display("a", 11, SCHOOL, 0.0)
    stored = {"id": 3, "name": "message", "payload": {"text": "Hi", "seconds": 5}}
    frames = n.open_display("a", 5, None, [stored], 0.0, TODAY)
    n.receive_event(events.Command(11, 4, "message", {"text": "Hi", "seconds": 5}), 1.0)
    pushed = sent(n.actions())[-1][1]
    assert json.loads(frames[1]) == {**pushed, "id": 3}
    assert pushed == {"type": "command", "id": 4, "name": "message", "text": "Hi", "seconds": 5}


def test_a_command_both_held_and_looked_up_is_sent_once_and_stored() -> None:
    """A command whose event came during admission is held by the hub; if the lookup (or
    the re-read after subscribing) also found it, hello is not followed by a second copy,
    and the held command is stored as delivered when the screen opens."""
    n = make()
    n.admit_display("a", 11, SCHOOL, 0.0)
    n.receive_event(events.Command(11, 4, "identify", {}), 0.1)
    assert n.actions() == []
    frames = n.open_display("a", 5, None, [{"id": 4, "name": "identify"}], 0.2, TODAY)
    assert [json.loads(f)["type"] for f in frames] == ["hello"]
    actions = n.actions()
    assert [frame for _, frame in sent(actions)] == [
        {"type": "command", "id": 4, "name": "identify"}
    ]
    assert Store(CommandsDelivered((4,))) in actions


def test_a_held_command_of_a_slow_screen_stays_pending() -> None:
    """A screen that became slow before it opened is closed as it opens: what the hub held
    for it may be lost, so its held command is not stored as delivered (the next
    connection's lookup sends it again)."""
    n = make(slow_after=1.0)
    n.admit_display("a", 11, SCHOOL, 0.0)
    n.receive_event(events.Command(11, 4, "identify", {}), 0.1)
    n.tick(5.0)  # still not open after slow_after: marked slow
    n.actions()
    n.open_display("a", 5, None, [], 5.0, TODAY)
    actions = n.actions()
    assert not [a for a in actions if isinstance(a, Store)]
    assert [a.code for a in actions if isinstance(a, Close)] == [CloseCode.SLOW_CLIENT]


def open_display_frames(n: Node[str], conn: str) -> list[dict[str, Any]]:
    return [json.loads(f) for f in n.open_display(conn, 5, None, [], 0.2, TODAY)]


def test_invalidations_coalesce_and_the_latest_trails() -> None:
    """First change at once; a burst inside the window trails at its end with the latest
    revision; next_wakeup names that end."""
    n = make()
    open_display(n, "a", 11)
    n.actions()
    # t=0  the first change goes out at once
    n.receive_event(events.Invalidate(SCHOOL, 6), 0.0)
    assert sent(n.actions()) == [(("a",), {"type": "invalidate", "rev": 6})]
    # t=0.5, 1.0  held; the node counts what it held
    n.receive_event(events.Invalidate(SCHOOL, 7), 0.5)
    n.receive_event(events.Invalidate(SCHOOL, 8), 1.0)
    assert n.actions() == []
    assert n.coalesced == 2
    assert n.next_wakeup() == 1.0  # the keepalive sweep (opened at 0, every second) first
    # t=1.9  the window is not over
    n.tick(1.9)
    assert sent(n.actions()) == []
    assert n.next_wakeup() == 2.0
    assert n.next_wakeup() == 2.0  # asked again, nothing moved: the same answer
    # t=2.0  one trailing message with the latest revision
    n.tick(2.0)
    assert sent(n.actions()) == [(("a",), {"type": "invalidate", "rev": 8})]


def test_alerts_are_never_coalesced_and_later_screens_open_with_them() -> None:
    """An alert goes out at once, even inside a coalescing window, and a screen that opens
    afterwards gets it in hello."""
    n = make()
    open_display(n, "a", 11)
    n.receive_event(events.Invalidate(SCHOOL, 6), 0.0)
    n.actions()
    alert = {"id": 7, "title": "Drill"}
    n.receive_event(events.AlertChanged(SCHOOL, alert, None), 0.1)
    assert sent(n.actions()) == [(("a",), {"type": "alert", "alert": alert})]
    assert open_display(n, "b", 12, 0.2, alert=None)[0]["alert"] == alert


def test_an_expired_alert_gives_way_to_the_fresher_lookup() -> None:
    """Expiry is not an event: a screen opening after the alert expired gets what its own
    lookup found."""
    n = make()
    expired = {"id": 7, "expires_at": "2026-11-30T07:59:00+00:00"}
    open_display(n, "a", 11, alert=expired)
    assert open_display(n, "b", 12, alert=None)[0]["alert"] is None
    lasting = {"id": 8, "expires_at": "2026-11-30T09:00:00+00:00"}
    n.receive_event(events.AlertChanged(SCHOOL, lasting), 1.0)
    assert open_display(n, "c", 13, alert=None)[0]["alert"] == lasting


def test_a_command_is_stored_as_delivered_only_with_its_frame() -> None:
    """A command for a screen is sent to that screen only; the Send says to store it as
    delivered once written. A command for a screen not here sends nothing."""
    n = make()
    open_display(n, "a", 11)
    open_display(n, "b", 12)
    n.actions()
    n.receive_event(events.Command(12, 4, "message", {"text": "Hi"}), 1.0)
    (action,) = n.actions()
    assert isinstance(action, Send)
    assert action.conns == ("b",)
    assert json.loads(action.text) == {"type": "command", "id": 4, "name": "message", "text": "Hi"}
    assert action.then == CommandsDelivered((4,))
    n.receive_event(events.Command(99, 5, "reload", {}), 1.0)
    assert n.actions() == []


def test_a_revoked_token_closes_the_open_screen_only() -> None:
    """close closes the screen's open socket with its code, once; a socket of that screen
    still being admitted is not closed (its lookup is fresher than the event)."""
    n = make()
    open_display(n, "a", 11)
    n.admit_display("a2", 11, SCHOOL, 0.0)
    open_display(n, "b", 12)
    n.actions()
    n.receive_event(events.CloseScreen(11, CloseCode.INVALID_TOKEN), 1.0)
    n.receive_event(events.CloseScreen(11, CloseCode.INVALID_TOKEN), 1.1)
    assert n.actions() == [Close("a", CloseCode.INVALID_TOKEN)]


def test_changed_flags_close_the_screens_now_off() -> None:
    """flags asks the glue to look the displays up; the answer closes those off (or gone)
    with 4409; a screen admitted after the lookup is left alone."""
    n = make()
    open_display(n, "a", 11)
    open_display(n, "b", 12)
    n.admit_staff("s", 3, [SCHOOL], 0.0)
    n.actions()
    n.receive_event(events.FlagsChanged(), 1.0)
    (check,) = n.actions()
    assert check == CheckPush(frozenset({11, 12}))
    open_display(n, "c", 13)
    n.actions()
    n.push_states(check.screens, {11: True})  # 12: off or deleted
    assert n.actions() == [Close("b", CloseCode.PUSH_DISABLED)]


def test_staff_frames_reach_the_staff_sockets_of_their_topic() -> None:
    """A school's dashboard frames go to staff sockets of that school; a user's to that
    user's sockets; both once open."""
    n = make()
    n.admit_staff("s1", 3, [SCHOOL], 0.0)
    n.admit_staff("s2", 4, [OTHER], 0.0)
    assert n.take_subscribe() == {"user:3", "dash:1", "user:4", "dash:2"}
    n.open_staff("s1", 0.0)
    n.open_staff("s2", 0.0)
    frame = {"type": "revision", "school": SCHOOL, "rev": 3}
    n.receive_event(events.StaffFrames.dashboard(SCHOOL, frame), 1.0)
    n.receive_event(events.StaffFrames.user(4, {"type": "command", "id": 1}), 1.0)
    assert sent(n.actions()) == [(("s1",), frame), (("s2",), {"type": "command", "id": 1})]


def test_what_a_display_sends_becomes_pongs_and_writes() -> None:
    """ping → pong; heartbeat → stored, with a dashboard frame only when the revision shown
    changed; acknowledgements of commands and alerts → stored."""
    n = make()
    open_display(n, "a", 11)
    n.actions()
    beat = b'{"type":"heartbeat","rev":5,"mode":"ws","uptime_s":1}'
    n.receive_message("a", b'{"type":"ping"}', 1.0)
    n.receive_message("a", beat, 2.0)
    n.receive_message("a", beat, 3.0)
    n.receive_message("a", b'{"type":"ack","id":4}', 4.0)
    n.receive_message("a", b'{"type":"ack","alert":7,"state":"shown"}', 5.0)
    actions = n.actions()
    assert actions[0] == Send(("a",), messages.PONG, "pong")
    beats = [a.item for a in actions if isinstance(a, Store) and isinstance(a.item, HeartbeatSeen)]
    assert [b.frame for b in beats] == [
        {"type": "screen", "school": SCHOOL, "screen": 11, "event": "heartbeat"},
        None,
    ]
    assert actions[3:] == [Store(CommandAcked(11, 4)), Store(AlertAcked(11, 7, "shown"))]


def test_bad_messages_close_with_their_code_and_a_reason_to_log() -> None:
    """Malformed JSON, a binary-looking text, a message the socket may not send (staff sockets
    only ping) and a frame over the limit close once, with 1008 or 1009 and the detail."""
    cases = [
        ("display", b"{nope", CloseCode.POLICY_VIOLATION),
        ("display", b"\xff\xfe", CloseCode.POLICY_VIOLATION),
        ("display", b'{"type":"ping","x":"' + b"y" * 5000 + b'"}', CloseCode.MESSAGE_TOO_BIG),
        ("staff", b'{"type":"heartbeat","rev":1,"mode":"ws","uptime_s":1}', 1008),
    ]
    for kind, data, code in cases:
        n = make()
        if kind == "display":
            open_display(n, "c", 11)
        else:
            n.admit_staff("c", 3, [SCHOOL], 0.0)
            n.open_staff("c", 0.0)
        n.actions()
        n.receive_message("c", data, 1.0)
        n.receive_message("c", b'{"type":"ping"}', 1.1)  # closing: nothing more is answered
        (close,) = n.actions()
        assert isinstance(close, Close)
        assert close.code == code
        assert close.detail


def test_a_flood_of_messages_closes_with_1008() -> None:
    """Past the burst, messages faster than the rate close the socket as a policy violation."""
    n = make()
    open_display(n, "a", 11)
    n.actions()
    for _ in range(11):
        n.receive_message("a", b'{"type":"ping"}', 1.0)
    actions = n.actions()
    assert actions[-1] == Close("a", CloseCode.POLICY_VIOLATION, None, "too many messages")
    assert len(actions) == 11  # ten pongs, then the close


def test_a_silent_socket_is_pinged_then_dropped() -> None:
    """Silent for the ping interval: pinged; silent for another: dropped. Any traffic counts."""
    n = make(ping_interval=2.0)
    open_display(n, "a", 11, 0.0)
    open_display(n, "b", 12, 0.0)
    n.actions()
    # One slice a second: each socket is looked at once per ping interval (a at t=2, 4, ...).
    timeline = []
    for t in range(1, 9):
        assert n.next_wakeup() == t
        n.seen("b", float(t))  # b keeps talking
        n.tick(float(t))
        timeline += [(t, action) for action in n.actions()]
    # t=2  a silent for 2 s: not over the interval yet; t=4  pinged; t=6  2 s after the
    # ping; t=8  4 s after it, no answer: dropped. b is never pinged.
    assert timeline == [(4, Ping("a")), (8, Drop("a", "ping_timeout"))]


def test_by_default_pings_go_out_in_small_slices_each_socket_once_per_interval() -> None:
    """With the default sweep (a slice every 0.1 s), 6,000 silent sockets are pinged a few
    dozen at a time, never hundreds at once, and each exactly once in its ping interval."""
    n: Node[str] = Node(Options(ping_interval=30.0, max_connections=10_000))
    for i in range(6000):
        open_display(n, f"s{i}", i, 0.0)
    n.actions()
    pinged: list[str] = []
    largest = 0
    t = 30.05  # all silent for just over the interval from here on
    while t < 60.05:
        n.tick(t)
        pings = [a.conn for a in n.actions() if isinstance(a, Ping)]
        largest = max(largest, len(pings))
        pinged += pings
        t = n.next_wakeup() or t + 0.1
    assert sorted(pinged) == sorted(f"s{i}" for i in range(6000))
    assert largest <= 6000 * 0.1 / 30.0 + 1  # 21: a slice, not a burst


def test_a_pong_saves_a_pinged_socket() -> None:
    """A socket that answers the ping (any traffic) is not dropped."""
    n = make(ping_interval=1.0)
    open_display(n, "a", 11, 0.0)
    n.actions()
    n.tick(1.5)
    assert n.actions() == [Ping("a")]
    n.seen("a", 1.6)
    for t in (2.5, 3.0):
        n.tick(t)
    assert n.actions() == []


def test_a_socket_congested_too_long_is_closed_as_slow() -> None:
    """Congested past slow_after: closed with 4408 at the next check; frames meanwhile are
    held, and a socket that drains in time gets the newest revision."""
    n = make(slow_after=1.0, coalesce_window=0.0)
    open_display(n, "slow", 11)
    open_display(n, "ok", 12)
    n.actions()
    n.congested("slow", 0.0)
    n.congested("ok", 0.0)
    assert n.next_wakeup() == 0.25  # the slow-client check
    n.receive_event(events.Invalidate(SCHOOL, 6), 0.1)
    n.receive_event(events.Invalidate(SCHOOL, 7), 0.2)
    assert n.actions() == []
    n.drained("ok")
    assert sent(n.actions()) == [(("ok",), {"type": "invalidate", "rev": 7})]
    n.tick(0.5)
    assert n.actions() == []
    n.tick(1.1)
    assert n.actions() == [Close("slow", CloseCode.SLOW_CLIENT, None, "slow client")]


def test_staff_sockets_renew_after_their_max_age() -> None:
    """A staff socket older than staff_max_age is closed with 1001 (reconnect, fresh ticket)."""
    n = make(staff_max_age=10.0)
    n.admit_staff("s", 3, [SCHOOL], 0.0)
    n.open_staff("s", 0.0)
    n.seen("s", 9.5)
    n.tick(9.5)
    assert n.actions() == []
    n.tick(10.5)
    assert n.actions() == [Close("s", CloseCode.GOING_AWAY, RENEW_REASON)]


def test_a_lost_screen_frees_its_topics_and_its_schools_state() -> None:
    """The last screen of a school leaving: its topics are unsubscribed, the school's state
    and pending trailing message forgotten; the disconnect is stored and told."""
    n = make()
    open_display(n, "a", 11, rev=5)
    n.take_subscribe()
    n.receive_event(events.Invalidate(SCHOOL, 6), 0.0)
    n.receive_event(events.Invalidate(SCHOOL, 7), 0.5)  # held
    n.actions()
    n.lost("a", 4401)
    assert n.unwanted()
    assert n.take_unsubscribe() == {"school:1", "screen:11"}
    assert n.schools() == []
    assert n.next_wakeup() is None
    assert n.actions() == [
        Store(ScreenLeft(11)),
        Dash(
            SCHOOL,
            {
                "type": "screen",
                "school": SCHOOL,
                "screen": 11,
                "event": "disconnected",
                "code": 4401,
            },
        ),
    ]
    n.lost("a", None)  # twice: nothing more
    assert n.actions() == []


def test_a_socket_lost_before_its_subscription_never_subscribes() -> None:
    """Admitted and gone before the glue subscribed: its topics are neither subscribed nor
    unsubscribed."""
    n = make()
    n.admit_display("a", 11, SCHOOL, 0.0)
    n.lost("a", None)
    assert n.take_subscribe() == set()
    assert n.take_unsubscribe() == set()


def test_capacity_counts_open_and_pending_sockets() -> None:
    """Sockets waiting for their lookup count against max_connections, as admitted ones do."""
    n = make(max_connections=2)
    n.pending = 1
    assert not n.at_capacity()
    n.admit_display("a", 11, SCHOOL, 0.0)
    assert n.at_capacity()
    assert len(n) == 1


def test_a_resync_tells_every_school_its_state() -> None:
    """After a broker outage: every local screen gets its school's current revision, and the
    alert when it changed meanwhile; a school with no screen left here is skipped."""
    n = make()
    open_display(n, "a", 11, rev=5)
    n.school_alert(SCHOOL, None)
    n.actions()
    alert = {"id": 7}
    n.resync(SCHOOL, 9, alert)
    n.resync(OTHER, 3, None)
    assert sent(n.actions()) == [
        (("a",), {"type": "alert", "alert": alert}),
        (("a",), {"type": "invalidate", "rev": 9}),
    ]
    assert n.latest_rev(SCHOOL) == 9
    assert n.alert(SCHOOL) == alert
    n.school_state(SCHOOL, 4)  # never backwards
    assert n.latest_rev(SCHOOL) == 9


def test_a_refusal_of_a_known_screen_is_told_to_its_dashboards() -> None:
    """A lookup that found the screen but refused it (bound elsewhere) makes a refused frame;
    one that found nothing makes none."""
    n = make()
    n.refused(SCHOOL, 11, CloseCode.SCREEN_BOUND)
    n.refused(None, None, CloseCode.INVALID_TOKEN)
    assert n.actions() == [
        Dash(
            SCHOOL,
            {"type": "screen", "school": SCHOOL, "screen": 11, "event": "refused", "code": 4403},
        )
    ]


def test_frames_for_a_closing_socket_are_counted_as_dropped() -> None:
    """A socket reported as slow gets nothing more: the frame's Send counts it as dropped."""
    n = make(slow_after=0.0)
    open_display(n, "a", 11)
    n.actions()
    n.congested("a", 0.0)
    n.tick(1.0)
    n.actions()
    n.receive_event(events.AlertChanged(SCHOOL, None, 3), 1.0)
    assert n.actions() == [Send((), messages.alert(None, 3), "alert", 1)]


def test_a_topic_wanted_again_before_it_was_unsubscribed_stays_subscribed() -> None:
    """A school's last screen leaves and another arrives before the glue unsubscribed: the
    topic is neither unsubscribed nor subscribed again."""
    n = make()
    open_display(n, "a", 11)
    n.take_subscribe()
    n.lost("a", None)
    n.admit_display("b", 11, SCHOOL, 1.0)
    assert n.take_unsubscribe() == set()
    assert n.take_subscribe() == set()


def test_a_closing_socket_is_neither_swept_nor_answered() -> None:
    """Once its closing handshake began (either side), a socket gets no ping, no pong and no
    close; unknown connections are ignored."""
    n = make(ping_interval=1.0)
    open_display(n, "a", 11, 0.0)
    n.actions()
    n.closing("a")
    n.receive_message("a", b'{"type":"ping"}', 0.5)
    n.receive_event(events.CloseScreen(11, CloseCode.INVALID_TOKEN), 0.5)
    for t in range(1, 5):
        n.tick(float(t))
    assert n.actions() == []
    n.seen("gone", 1.0)
    n.closing("gone")
    n.receive_message("gone", b'{"type":"ping"}', 1.0)
    n.drained("gone")
    assert n.actions() == []


def test_a_staff_socket_leaving_tells_no_dashboard() -> None:
    """Only displays' comings and goings are dashboard frames."""
    n = make()
    open_display(n, "a", 11)
    n.admit_staff("s", 3, [SCHOOL], 0.0)
    n.open_staff("s", 0.0)
    n.actions()
    n.lost("s", 1001)
    assert n.actions() == []
    assert n.next_wakeup() == 1.0  # the display is still swept
    assert n.take_unsubscribe() == set()  # never subscribed: the glue had not yet asked


def test_an_alert_for_a_school_without_open_screens_is_not_remembered() -> None:
    """The alert a school shows is tracked from its first open screen on (its lookup says it);
    an alert event before that is held for the admitted socket, not remembered."""
    n = make()
    n.admit_display("a", 11, SCHOOL, 0.0)
    n.receive_event(events.AlertChanged(SCHOOL, {"id": 7}), 0.1)
    assert n.alert(SCHOOL) is None
    hello = open_display_frames(n, "a")
    assert hello[0]["alert"] is None  # what the lookup found
    assert sent(n.actions()) == [(("a",), {"type": "alert", "alert": {"id": 7}})]


def test_a_resync_with_the_same_alert_sends_only_the_revision() -> None:
    """An unchanged alert is not sent again after a broker outage."""
    n = make()
    open_display(n, "a", 11, alert={"id": 7})
    n.actions()
    n.resync(SCHOOL, 6, {"id": 7})
    assert sent(n.actions()) == [(("a",), {"type": "invalidate", "rev": 6})]


def test_a_socket_reported_slow_before_it_opened_is_closed_as_slow_once_open() -> None:
    """A lookup slower than slow_after leaves a held socket reported slow by the hub, which
    then gives it nothing more: it is opened (the handshake completes) and closed with 4408
    at once, so it reconnects and loses nothing, instead of staying open and deaf."""
    n = make(slow_after=1.0)
    n.admit_display("a", 11, SCHOOL, 0.0)
    # t=1.5  its lookup is still running: the hub reports it, the node cannot close it yet
    n.tick(1.5)
    assert n.actions() == []
    # t=2.0  the lookup answers: hello, then the close
    frames = n.open_display("a", 5, None, [], 2.0, TODAY)
    assert json.loads(frames[0])["type"] == "hello"
    assert Close("a", CloseCode.SLOW_CLIENT, None, "slow client") in n.actions()
