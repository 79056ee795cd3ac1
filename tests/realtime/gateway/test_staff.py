"""The staff socket (/ws/staff/) with real WebSocket clients: tickets, frames, close codes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from websockets.asyncio.client import ClientConnection, connect

from hallboard.realtime import publish
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from hallboard.screens.models import PushSettings
from hallboard.staff import tickets
from hallboard.timetable.models import Announcement
from tests.conftest import Tenant, make_screen, make_user, revision_of, sample
from tests.realtime.conftest import (
    TIMEOUT,
    FakeClock,
    RedisProcess,
    closed_with,
    open_display,
    receive,
    receive_type,
    start_gateway,
)
from tests.realtime.gateway.test_server import in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def staff_url(gw: Any, ticket: str | None) -> str:
    query = f"?ticket={ticket}" if ticket is not None else ""
    return f"ws://127.0.0.1:{gw.port}/ws/staff/{query}"


#: The staff page's origin: tickets are issued to it and the socket sends it (as a browser does).
ORIGIN = "http://testserver"


async def open_staff(gw: Any, ticket: str | None, origin: str = ORIGIN) -> ClientConnection:
    return await connect(staff_url(gw, ticket), open_timeout=TIMEOUT, origin=origin)  # type: ignore[arg-type]


async def ticket_for(user: Any, **kwargs: Any) -> str:
    kwargs.setdefault("origin", ORIGIN)
    return str(await in_thread(tickets.issue, user, **kwargs))


@pytest.fixture
def alpha_admin(tenant: Tenant) -> Any:
    return make_user("alpha-admin", "admin", school=tenant.school)


async def nothing_arrives(ws: ClientConnection, seconds: float = 0.5) -> bool:
    """True if no frame arrives within ``seconds`` (used after a later frame proved delivery)."""
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def test_hello_names_the_user_and_the_schools_of_the_ticket(
    gateway: Gateway, tenant: Tenant
) -> None:
    """On accept the staff socket gets hello with the user id and the ticket's schools."""
    user = await in_thread(make_user, "district-it", "admin", organisation=tenant.organisation)
    ws = await open_staff(gateway, await ticket_for(user))
    assert await receive(ws) == {
        "type": "hello",
        "user": user.pk,
        "schools": sorted([tenant.school.pk, tenant.other_school.pk]),
    }
    await ws.close()


async def test_frames_of_the_tickets_schools_and_user_are_forwarded_and_no_others(
    gateway: Gateway, tenant: Tenant, alpha_admin: Any
) -> None:
    """dash:<alpha> and user:<me> frames arrive as published; beta's and other users' do not."""
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    other = tenant.other_school.pk
    publish.dashboard(other, {"type": "screen", "school": other, "screen": 9, "event": "changed"})
    publish.user(alpha_admin.pk + 1, {"type": "command", "screen": 1, "id": 1})
    mine = {"type": "screen", "school": tenant.school.pk, "screen": 3, "event": "heartbeat"}
    publish.dashboard(tenant.school.pk, mine)
    assert await receive(ws) == mine
    to_me = {"type": "command", "school": tenant.school.pk, "screen": 3, "id": 7}
    publish.user(alpha_admin.pk, {**to_me, "status": "delivered", "at": "2026-11-23T08:00:00Z"})
    assert (await receive(ws))["status"] == "delivered"
    assert await nothing_arrives(ws)
    await ws.close()


async def test_an_edit_reaches_the_dashboard_as_a_revision_frame(
    gateway: Gateway, tenant: Tenant, alpha_admin: Any
) -> None:
    """Creating an announcement in alpha sends alpha's dashboards its new revision."""
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    await in_thread(Announcement.objects.create, school=tenant.school, title="Now")
    frame = await receive_type(ws, "revision")
    assert frame == {
        "type": "revision",
        "school": tenant.school.pk,
        "rev": await in_thread(revision_of, tenant.school),
    }
    await ws.close()


async def test_ping_gets_pong(gateway: Gateway, alpha_admin: Any) -> None:
    """A staff socket may ping."""
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    await ws.send('{"type":"ping"}')
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_missing_malformed_and_tampered_tickets_close_4401(
    gateway: Gateway, alpha_admin: Any
) -> None:
    """No ticket, garbage, or a ticket with one character changed: closed with 4401."""
    good = await ticket_for(alpha_admin)
    tampered = good[:-1] + ("x" if good[-1] != "x" else "y")
    for ticket in (None, "", "garbage", tampered):
        ws = await open_staff(gateway, ticket)
        assert await closed_with(ws) == CloseCode.INVALID_TOKEN, ticket
    assert gateway.refused[CloseCode.INVALID_TOKEN] == 4


async def test_an_expired_ticket_closes_4401(
    gateway: Gateway, alpha_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ticket older than 60 s is refused with 4401."""
    ticket = await ticket_for(alpha_admin)
    later = time.time() + 61
    monkeypatch.setattr(signing.time, "time", lambda: later)
    ws = await open_staff(gateway, ticket)
    assert await closed_with(ws) == CloseCode.INVALID_TOKEN
    assert ws.close_reason == "invalid or expired ticket"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type":"heartbeat","rev":1}', CloseCode.POLICY_VIOLATION),
        ('{"type":"subscribe","school":99}', CloseCode.POLICY_VIOLATION),
        ("not json", CloseCode.POLICY_VIOLATION),
        (b"\x00binary", CloseCode.POLICY_VIOLATION),
        ('{"type":"ping","pad":"' + "x" * 5000 + '"}', CloseCode.MESSAGE_TOO_BIG),
    ],
)
async def test_anything_but_ping_closes_with_a_policy_code(
    gateway: Gateway, alpha_admin: Any, frame: str | bytes, code: CloseCode
) -> None:
    """Staff sockets may only ping: other messages close 1008, oversized ones 1009."""
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    await ws.send(frame)
    assert await closed_with(ws) == code


async def test_a_staff_socket_is_closed_1001_after_its_maximum_age(
    tenant: Tenant, alpha_admin: Any
) -> None:
    """After staff_max_age the gateway closes with 1001, so the page renews its ticket."""
    clock = FakeClock()
    gw = await start_gateway(clock=clock, staff_max_age=5.0)
    try:
        ws = await open_staff(gw, await ticket_for(alpha_admin))
        await receive_type(ws, "hello")
        # t+4  younger than its maximum age: still open; t+6  older: closed with 1001
        clock.advance(4.0)
        gw.tick()
        assert gw.closed_by_server[CloseCode.GOING_AWAY] == 0
        clock.advance(2.0)
        gw.tick()
        assert await closed_with(ws) == CloseCode.GOING_AWAY
        assert ws.close_reason == "reconnect with a fresh ticket"
        for _ in range(200):  # the handler frees its topics once the close completes
            if not gw.hub.topics():
                break
            await asyncio.sleep(0.01)
        assert gw.hub.topics() == []
    finally:
        await gw.shutdown()


async def test_switching_push_off_closes_displays_but_not_staff_sockets(
    gateway: Gateway, tenant: Tenant, alpha_admin: Any
) -> None:
    """Push flags concern screens: a dashboard stays connected when push goes off."""
    _, token = await in_thread(make_screen, tenant.school)
    display = await open_display(gateway, token)
    await receive_type(display, "hello")
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    await in_thread(PushSettings.objects.create, enabled=False)
    assert await closed_with(display) == CloseCode.PUSH_DISABLED
    await ws.send('{"type":"ping"}')
    assert await receive_type(ws, "pong") == {"type": "pong"}
    await ws.close()


async def test_staff_sockets_count_against_capacity(tenant: Tenant, alpha_admin: Any) -> None:
    """Over the connection limit a staff socket is closed with 1013 like a display."""
    gw = await start_gateway(max_connections=1)
    try:
        ticket = await ticket_for(alpha_admin)
        first = await open_staff(gw, ticket)
        await receive_type(first, "hello")
        second = await open_staff(gw, ticket)
        assert await closed_with(second) == CloseCode.TRY_AGAIN_LATER
        await first.close()
    finally:
        await gw.shutdown()


async def test_shutdown_closes_staff_sockets_with_1001(tenant: Tenant, alpha_admin: Any) -> None:
    """A gateway going away closes dashboards with 1001 too (they reconnect elsewhere)."""
    gw = await start_gateway()
    ws = await open_staff(gw, await ticket_for(alpha_admin))
    await receive_type(ws, "hello")
    await gw.shutdown()
    assert await closed_with(ws) == CloseCode.GOING_AWAY


async def test_a_dashboard_on_another_replica_gets_web_side_frames_through_redis(
    tenant: Tenant, alpha_admin: Any, redis_process: RedisProcess, tmp_path: Path, settings: Any
) -> None:
    """A staff socket held by a gateway process of its own receives what this process
    publishes, through Redis."""
    from tests.realtime.brokers.test_redis import GatewayProcess, Port

    settings.REDIS_URL = redis_process.url
    replica = await in_thread(GatewayProcess, redis_process.url, tmp_path)
    try:
        ws = await open_staff(Port(replica.port), await ticket_for(alpha_admin))
        await receive_type(ws, "hello", timeout=15)
        await in_thread(Announcement.objects.create, school=tenant.school, title="Far")
        frame = await receive_type(ws, "revision", timeout=15)
        assert frame["rev"] == await in_thread(revision_of, tenant.school)
        await ws.close()
    finally:
        await in_thread(replica.stop)


async def test_a_ticket_opens_one_socket_only(gateway: Gateway, alpha_admin: Any) -> None:
    """Single use: the second socket with the same ticket is refused with 4401."""
    ticket = await ticket_for(alpha_admin)
    first = await open_staff(gateway, ticket)
    await receive_type(first, "hello")
    second = await open_staff(gateway, ticket)
    assert await closed_with(second) == CloseCode.INVALID_TOKEN
    assert second.close_reason == "invalid or expired ticket"
    await first.close()


async def test_a_ticket_is_refused_from_another_origin(gateway: Gateway, alpha_admin: Any) -> None:
    """A ticket issued to the staff page's origin is refused from another site's page,
    and from a client that sends no Origin at all."""
    ticket = await ticket_for(alpha_admin)
    for origin in ("https://evil.example", None):
        ws = await open_staff(gateway, ticket, origin=origin)  # type: ignore[arg-type]
        assert await closed_with(ws) == CloseCode.INVALID_TOKEN
    ws = await open_staff(gateway, ticket)  # unused still: the right origin gets in
    await receive_type(ws, "hello")
    await ws.close()


async def test_an_address_failing_tickets_is_refused_1013(
    gateway: Gateway, alpha_admin: Any, settings: Any
) -> None:
    """After AUTH_FAILURE_RATE bad tickets from one address, even a good one gets 1013
    (try again later) until the wait is over; counted in hallboard_auth_throttled_total."""
    settings.AUTH_FAILURE_RATE = "3/minute"
    before = sample("hallboard_auth_throttled_total", kind="socket")
    for _ in range(3):
        ws = await open_staff(gateway, "garbage")
        assert await closed_with(ws) == CloseCode.INVALID_TOKEN
    ws = await open_staff(gateway, await ticket_for(alpha_admin))
    assert await closed_with(ws) == CloseCode.TRY_AGAIN_LATER
    assert ws.close_reason == "too many failed attempts; try again later"
    assert sample("hallboard_auth_throttled_total", kind="socket") == before + 1
