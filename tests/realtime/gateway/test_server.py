"""The gateway with real WebSocket clients: every message type and close code."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from django.db import connections
from websockets.asyncio.client import connect

from hallboard.alerts.models import Alert
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway import db
from hallboard.realtime.gateway.server import Gateway
from hallboard.schools.models import School
from hallboard.screens.models import Command, PushSettings, Screen
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, revision_of
from tests.realtime.conftest import (
    FakeClock,
    closed_with,
    open_display,
    receive,
    receive_type,
    start_gateway,
    url,
)

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ORM code off the event loop, as the web app does in its own threads."""

    def run() -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connections.close_all()

    return asyncio.to_thread(run)


async def eventually(read: Any, expected: Any) -> Any:
    """Poll ``read`` (ORM, in a thread) until it returns ``expected``; return the last value."""
    value = None
    for _ in range(200):
        value = await in_thread(read)
        if value == expected:
            break
        await asyncio.sleep(0.025)
    return value


@pytest.fixture
def screen(tenant: Tenant) -> tuple[Screen, str]:
    return make_screen(tenant.school)


async def test_hello_carries_the_current_revision(
    gateway: Gateway, tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """On accept the server says hello with the school's revision, the screen id, no alert."""
    ws = await open_display(gateway, screen[1])
    hello = await receive(ws)
    assert hello == {
        "type": "hello",
        "rev": await in_thread(revision_of, tenant.school),
        "screen": screen[0].pk,
        "heartbeat_s": 30,
        "alert": None,
    }
    await ws.close()


async def test_ping_gets_pong(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """A ping is answered with a pong."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await ws.send('{"type":"ping"}')
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_an_edit_is_pushed_as_invalidate(
    gateway: Gateway, tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """Creating an announcement pushes an invalidate with the new revision."""
    ws = await open_display(gateway, screen[1])
    hello = await receive_type(ws, "hello")
    await in_thread(Announcement.objects.create, school=tenant.school, title="Now")
    assert await receive_type(ws, "invalidate") == {"type": "invalidate", "rev": hello["rev"] + 1}
    await ws.close()


async def test_another_schools_edit_is_not_pushed(
    gateway: Gateway, tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """A screen of alpha receives nothing when beta changes."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await in_thread(Announcement.objects.create, school=tenant.other_school, title="Beta")
    await in_thread(Announcement.objects.create, school=tenant.school, title="Alpha")
    invalidate = await receive_type(ws, "invalidate")
    assert invalidate["rev"] == await in_thread(revision_of, tenant.school)
    await ws.close()


async def test_a_burst_is_coalesced_and_the_last_revision_arrives(
    gateway: Gateway, tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """Five quick edits: the first goes out at once, the last revision always arrives."""

    def burst() -> int:
        for n in range(5):
            Announcement.objects.create(school=tenant.school, title=f"n{n}")
        return revision_of(tenant.school)

    ws = await open_display(gateway, screen[1])
    hello = await receive_type(ws, "hello")
    last = await in_thread(burst)
    revs = []
    while not revs or revs[-1] < last:
        revs.append((await receive_type(ws, "invalidate"))["rev"])
    assert revs[0] == hello["rev"] + 1
    assert revs[-1] == last
    assert len(revs) < 5  # coalesced
    assert revs == sorted(revs)
    await ws.close()


async def test_alert_is_pushed(
    gateway: Gateway, tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """Raising an alert pushes an alert message to the school's screens."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    raised = await in_thread(
        Alert.objects.create, organisation=tenant.organisation, school=None, headline="Storm"
    )
    alert = await receive_type(ws, "alert")
    assert (alert["alert"]["id"], alert["alert"]["headline"]) == (raised.pk, "Storm")
    await ws.close()


async def test_command_is_delivered_and_acknowledged(
    gateway: Gateway, screen: tuple[Screen, str]
) -> None:
    """A command reaches its screen, is marked delivered, and the ack is recorded."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    command = await in_thread(
        Command.objects.create, screen=screen[0], name="identify", payload={"seconds": 5}
    )
    pushed = await receive_type(ws, "command")
    assert pushed == {"type": "command", "id": command.pk, "name": "identify", "seconds": 5}
    await ws.send(f'{{"type":"ack","id":{command.pk}}}')
    status = await eventually(
        lambda: Command.objects.get(pk=command.pk).status, Command.Status.ACKNOWLEDGED
    )
    assert status == Command.Status.ACKNOWLEDGED
    await ws.close()


async def test_pending_commands_are_delivered_on_connect(
    gateway: Gateway, screen: tuple[Screen, str]
) -> None:
    """A command stored while the screen was away arrives right after hello."""
    command = await in_thread(Command.objects.create, screen=screen[0], name="reload")
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    assert (await receive_type(ws, "command"))["id"] == command.pk
    delivered = await eventually(
        lambda: Command.objects.get(pk=command.pk).status, Command.Status.DELIVERED
    )
    assert delivered == Command.Status.DELIVERED
    await ws.close()


async def test_a_command_made_during_the_screens_admission_is_delivered_once(
    gateway: Gateway, screen: tuple[Screen, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command committed after the screen's token lookup but before the gateway listens
    to the screen's topic (its event reaches no one here) still arrives right after hello,
    once, and is stored as delivered: the gateway reads pending commands again once it
    listens."""
    made: list[Command] = []
    lookup = db.authenticate_many

    def lookup_then_command(requests: list[tuple[str, str]]) -> Any:
        results = lookup(requests)
        made.append(Command.objects.create(screen=screen[0], name="identify", payload={}))
        return results

    monkeypatch.setattr(db, "authenticate_many", lookup_then_command)
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    assert (await receive_type(ws, "command"))["id"] == made[0].pk
    delivered = await eventually(
        lambda: Command.objects.get(pk=made[0].pk).status, Command.Status.DELIVERED
    )
    assert delivered == Command.Status.DELIVERED
    await ws.send('{"type":"heartbeat","rev":1,"mode":"ws"}')
    # Nothing after the heartbeat's turn but what the gateway sends anyway: no second copy.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(receive_type(ws, "command"), 0.5)
    await ws.close()


async def test_heartbeat_updates_the_screen(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """A heartbeat over the socket records revision shown, mode and client figures."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await ws.send('{"type":"heartbeat","rev":41,"mode":"ws","uptime_s":5,"health":{"errors":2}}')

    def recorded() -> tuple[int | None, str, dict[str, object]]:
        s = Screen.objects.get(pk=screen[0].pk)
        return s.revision_shown, s.connection_mode, s.client_info

    # Written in the gateway's next database batch, not on the socket's turn.
    assert await eventually(recorded, (41, "ws", {"uptime_s": 5, "health": {"errors": 2}})) == (
        41,
        "ws",
        {"uptime_s": 5, "health": {"errors": 2}},
    )
    await ws.close()


async def test_missing_parameters_close_4400(gateway: Gateway, tenant: Tenant) -> None:
    """No token or no device key closes with 4400."""
    for bad in (url(gateway, None), url(gateway, "hbs_x", None)):
        ws = await connect(bad)
        assert await closed_with(ws) == CloseCode.MISSING_PARAMETERS


async def test_invalid_token_closes_4401(gateway: Gateway, tenant: Tenant) -> None:
    """An unknown token closes with 4401."""
    ws = await connect(url(gateway, "hbs_unknown"))
    assert await closed_with(ws) == CloseCode.INVALID_TOKEN


async def test_bound_screen_closes_4403(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """A second device on a bound screen closes with 4403."""
    first = await open_display(gateway, screen[1], "device-aaaa")
    await receive_type(first, "hello")
    second = await open_display(gateway, screen[1], "device-bbbb")
    assert await closed_with(second) == CloseCode.SCREEN_BOUND
    await first.close()


async def test_push_disabled_closes_4409(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """A screen whose school has push off is refused with 4409."""
    await in_thread(School.objects.filter(pk=screen[0].school_id).update, push="off")
    ws = await open_display(gateway, screen[1])
    assert await closed_with(ws) == CloseCode.PUSH_DISABLED


async def test_capacity_closes_1013(tenant: Tenant) -> None:
    """Over WS_MAX_CONNECTIONS a new socket is closed with 1013."""
    gw = await start_gateway(max_connections=1)
    try:
        _, token_a = await in_thread(make_screen, tenant.school, "A")
        _, token_b = await in_thread(make_screen, tenant.school, "B")
        first = await open_display(gw, token_a)
        await receive_type(first, "hello")
        second = await open_display(gw, token_b)
        assert await closed_with(second) == CloseCode.TRY_AGAIN_LATER
        assert gw.refused[CloseCode.TRY_AGAIN_LATER] == 1
        await first.close()
    finally:
        await gw.shutdown()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", CloseCode.POLICY_VIOLATION),
        ('{"type":"publish","topic":"school:1"}', CloseCode.POLICY_VIOLATION),
        ('{"type":"ping","pad":"' + "x" * 5000 + '"}', CloseCode.MESSAGE_TOO_BIG),
    ],
)
async def test_bad_client_messages_close_with_policy_codes(
    gateway: Gateway, screen: tuple[Screen, str], frame: str, code: CloseCode
) -> None:
    """Malformed, forbidden and oversized messages close with 1008 / 1009."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await ws.send(frame)
    assert await closed_with(ws) == code


async def test_too_many_messages_close_1008(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """A client flooding pings is closed with 1008."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    for _ in range(30):
        try:
            await ws.send('{"type":"ping"}')
        except Exception:  # closed mid-flood is the expected outcome
            break
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION


async def test_revoking_the_token_closes_the_socket(
    gateway: Gateway, screen: tuple[Screen, str]
) -> None:
    """Rotating or revoking a token closes that screen's live socket with 4401."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await in_thread(lambda: Screen.objects.get(pk=screen[0].pk).revoke_token())
    assert await closed_with(ws) == CloseCode.INVALID_TOKEN


async def test_switching_push_off_closes_4409(gateway: Gateway, screen: tuple[Screen, str]) -> None:
    """Turning the global push switch off closes open sockets with 4409."""
    ws = await open_display(gateway, screen[1])
    await receive_type(ws, "hello")
    await in_thread(PushSettings.objects.create, enabled=False)
    assert await closed_with(ws) == CloseCode.PUSH_DISABLED


async def test_shutdown_drains_with_1001(tenant: Tenant) -> None:
    """A graceful shutdown closes every socket with 1001, in batches."""
    gw = await start_gateway(drain_batch=2)
    sockets = []
    for n in range(5):
        _, token = await in_thread(make_screen, tenant.school, f"S{n}")
        ws = await open_display(gw, token, f"device-{n:04d}")
        await receive_type(ws, "hello")
        sockets.append(ws)
    await gw.shutdown()
    assert [await closed_with(ws) for ws in sockets] == [CloseCode.GOING_AWAY] * 5


async def test_back_pressure_collapses_then_flushes_the_newest_revision(
    tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """While the transport is paused, invalidations collapse; on resume the newest is sent."""
    clock = FakeClock()
    gateway = await start_gateway(clock=clock)
    ws = await open_display(gateway, screen[1])
    hello = await receive_type(ws, "hello")
    (server_side,) = gateway.hub.connections()
    server_side.pause_writing()  # what asyncio does when the send buffer is over its limit
    school_id = tenant.school.pk
    for n in range(3):
        event = {"e": "invalidate", "school": school_id, "rev": hello["rev"] + 1 + n}
        gateway.on_broker_message(f"school:{school_id}", json.dumps(event).encode())
        clock.advance(0.4)  # past the coalescing window (0.3 s) each time
    server_side.resume_writing()
    assert await receive_type(ws, "invalidate") == {"type": "invalidate", "rev": hello["rev"] + 3}
    assert gateway.hub.stats.collapsed == 2  # three invalidations, one written
    await ws.close()
    await gateway.shutdown()


async def test_a_socket_paused_too_long_is_closed_as_slow(
    tenant: Tenant, screen: tuple[Screen, str]
) -> None:
    """A socket whose send buffer stays full past the grace period is closed with 4408."""
    clock = FakeClock()
    gw = await start_gateway(clock=clock, slow_after=0.2)
    try:
        ws = await open_display(gw, screen[1])
        await receive_type(ws, "hello")
        (server_side,) = gw.hub.connections()
        server_side.pause_writing()
        # t+0.1  within the grace period: still open; t+0.3  past it: closed as slow
        clock.advance(0.1)
        gw.tick()
        assert gw.hub.stats.slow_closed == 0
        clock.advance(0.2)
        gw.tick()
        assert await closed_with(ws) == CloseCode.SLOW_CLIENT
        assert gw.hub.stats.slow_closed == 1
    finally:
        await gw.shutdown()


async def test_shutdown_waits_for_the_write_in_progress(
    tenant: Tenant, screen: tuple[Screen, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat batch being written when the gateway stops is finished before shutdown
    returns: nothing is left running in the database threads of a stopped gateway."""
    from hallboard.realtime.gateway import db as gateway_db

    real_write = gateway_db.write
    started, finished = asyncio.Event(), []
    loop = asyncio.get_running_loop()

    def slow_write(batch: Any) -> Any:
        if batch.heartbeats:
            loop.call_soon_threadsafe(started.set)
            time.sleep(0.5)
        written = real_write(batch)
        if batch.heartbeats:
            finished.append(True)
        return written

    monkeypatch.setattr(gateway_db, "write", slow_write)
    gw = await start_gateway()
    ws = await open_display(gw, screen[1])
    await receive_type(ws, "hello")
    await ws.send('{"type":"heartbeat","rev":1,"mode":"ws","uptime_s":5}')
    await asyncio.wait_for(started.wait(), 10)
    await gw.shutdown()
    assert finished == [True]
