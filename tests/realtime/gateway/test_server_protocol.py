"""The gateway's own socket layer: handshake answers, batching, held frames, keepalive,
alerts in hello, and what it reports for the dashboard."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest

from hallboard.alerts.models import Alert
from hallboard.realtime.brokers.memory import MemoryBroker
from hallboard.realtime.core import topics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway.server import Gateway
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen, revision_of
from tests.realtime.conftest import (
    FakeClock,
    closed_with,
    open_display,
    receive_type,
    start_gateway,
)
from tests.realtime.gateway.test_server import eventually, in_thread

pytestmark = pytest.mark.django_db(transaction=True)


async def raw_request(gw: Gateway, request: bytes, *, read: bool = True) -> bytes:
    """Send raw bytes to the gateway port; the whole answer until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10) if read else b""
    writer.close()
    return answer


UPGRADE = (
    "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
)


async def test_health_check_on_the_gateway_port(gateway: Gateway) -> None:
    """GET /healthz on the gateway port answers 200 (load balancers check gateways too)."""
    answer = await raw_request(gateway, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b'{"status": "ok"}')


async def test_unknown_paths_are_404(gateway: Gateway) -> None:
    """Anything but the display path and health is 404, upgrade or not."""
    answer = await raw_request(gateway, UPGRADE.format(path="/ws/other/", version=13).encode())
    assert answer.startswith(b"HTTP/1.1 404 ")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /ws/display/?token=a&dk=b HTTP/1.1\r\nHost: x\r\n\r\n", b"426"),
        (UPGRADE.format(path="/ws/display/", version=8).encode(), b"426"),
        (UPGRADE.format(path="/ws/display/", version=13).replace("GET", "POST").encode(), b"405"),
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET /ws/display/ HTTP/1.1\r\nX-Pad: " + b"x" * 9000, b"431"),
    ],
)
async def test_bad_handshakes_get_an_http_error(
    gateway: Gateway, request_bytes: bytes, status: bytes
) -> None:
    """A request that is not a valid WebSocket upgrade is answered with the HTTP status."""
    answer = await raw_request(gateway, request_bytes)
    assert answer.split(b" ")[1] == status


async def test_a_silent_connection_is_dropped_after_the_open_timeout(tenant: Tenant) -> None:
    """A client that never finishes its handshake is dropped (slowloris)."""
    gw = await start_gateway(open_timeout=0.5)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /ws/display/ HTTP/1.1\r\n")  # and then nothing
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()
    finally:
        await gw.shutdown()


async def test_many_sockets_at_once_are_each_admitted_once(tenant: Tenant) -> None:
    """Forty sockets connecting together (batched lookups) all get their own hello."""
    gw = await start_gateway()
    try:
        screens = [await in_thread(make_screen, tenant.school, f"S{n}") for n in range(40)]
        sockets = await asyncio.gather(
            *(open_display(gw, token, f"device-{n:04d}") for n, (_, token) in enumerate(screens))
        )
        hellos = await asyncio.gather(*(receive_type(ws, "hello") for ws in sockets))
        assert sorted(h["screen"] for h in hellos) == sorted(s.pk for s, _ in screens)
        assert gw.accepted == 40
        connected = await eventually(
            lambda: Screen.objects.filter(school=tenant.school, connection_mode="ws").count(), 40
        )
        assert connected == 40
        for ws in sockets:
            await ws.close()
    finally:
        await gw.shutdown()


async def test_closing_marks_the_screen_polling(gateway: Gateway, tenant: Tenant) -> None:
    """When its socket closes, a screen is recorded as hearing of changes by polling."""
    screen, token = await in_thread(make_screen, tenant.school, "Hall")
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    assert await eventually(lambda: Screen.objects.get(pk=screen.pk).connection_mode, "ws") == "ws"
    await ws.close()
    mode = await eventually(lambda: Screen.objects.get(pk=screen.pk).connection_mode, "poll")
    assert mode == "poll"


async def test_a_refused_push_is_recorded_on_the_screen(gateway: Gateway, tenant: Tenant) -> None:
    """A screen refused with 4403 keeps that code for the dashboard until accepted again."""
    screen, token = await in_thread(make_screen, tenant.school, "Hall")
    first = await open_display(gateway, token, "device-aaaa")
    await receive_type(first, "hello")
    second = await open_display(gateway, token, "device-bbbb")
    assert await closed_with(second) == CloseCode.SCREEN_BOUND
    code = await eventually(lambda: Screen.objects.get(pk=screen.pk).push_refused_code, 4403)
    assert code == 4403
    await first.close()
    again = await open_display(gateway, token, "device-aaaa")
    await receive_type(again, "hello")
    assert (
        await eventually(lambda: Screen.objects.get(pk=screen.pk).push_refused_code, None) is None
    )
    await again.close()


async def test_hello_carries_the_active_alert(gateway: Gateway, tenant: Tenant) -> None:
    """A screen connecting during an alert gets it in hello (re-delivery on reconnect)."""
    alert = await in_thread(
        Alert.objects.create,
        organisation=tenant.organisation,
        school=None,
        headline="Lockdown",
        kind="lockdown",
        severity="extreme",
    )
    _, token = await in_thread(make_screen, tenant.school, "Late")
    ws = await open_display(gateway, token)
    hello = await receive_type(ws, "hello")
    assert hello["alert"]["id"] == alert.pk
    assert hello["alert"]["headline"] == "Lockdown"
    await ws.close()


async def test_an_alert_and_its_all_clear_are_pushed_with_what_to_show(
    gateway: Gateway, tenant: Tenant
) -> None:
    """An alert push carries the alert to show; the all-clear says which one ended."""
    _, token = await in_thread(make_screen, tenant.school, "Hall")
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    alert = await in_thread(
        Alert.objects.create,
        organisation=tenant.organisation,
        school=tenant.school,
        headline="Fire",
    )
    pushed = await receive_type(ws, "alert")
    assert pushed["alert"]["id"] == alert.pk
    assert "cleared" not in pushed

    def clear() -> None:
        a = Alert.objects.get(pk=alert.pk)
        a.cleared_at = dt.datetime.now(dt.UTC)
        a.save()

    await in_thread(clear)
    cleared = await receive_type(ws, "alert")
    assert cleared == {"type": "alert", "alert": None, "cleared": alert.pk}
    # A screen connecting after the all-clear gets no alert.
    late = await open_display(gateway, token, "device-0001")
    assert (await receive_type(late, "hello"))["alert"] is None
    await ws.close()
    await late.close()


async def test_a_more_severe_alert_stays_on_screen_when_a_lesser_one_ends(
    gateway: Gateway, tenant: Tenant
) -> None:
    """Clearing a minor alert while an extreme one is active pushes the extreme one."""
    extreme = await in_thread(
        Alert.objects.create,
        organisation=tenant.organisation,
        school=tenant.school,
        headline="Evacuate",
        severity="extreme",
    )
    minor = await in_thread(
        Alert.objects.create,
        organisation=tenant.organisation,
        school=tenant.school,
        headline="Drill later",
        severity="minor",
    )
    _, token = await in_thread(make_screen, tenant.school, "Hall")
    ws = await open_display(gateway, token)
    assert (await receive_type(ws, "hello"))["alert"]["id"] == extreme.pk
    await in_thread(lambda: Alert.objects.get(pk=minor.pk).delete())
    pushed = await receive_type(ws, "alert")
    assert pushed == {
        "type": "alert",
        "alert": pushed["alert"],
        "cleared": minor.pk,
    }
    assert pushed["alert"]["id"] == extreme.pk
    await ws.close()


async def test_frames_published_before_hello_are_held_not_lost(tenant: Tenant) -> None:
    """An event arriving while a socket is being admitted reaches it right after hello."""
    broker = MemoryBroker()
    gw = await start_gateway(broker)
    try:
        screen, token = await in_thread(make_screen, tenant.school, "Hall")
        school_id = tenant.school.pk
        rev = await in_thread(revision_of, tenant.school)
        original = gw.admission._open

        def open_late(pending: Any, result: Any, *rest: Any) -> None:
            # The command arrives between the lookup and hello.
            event = {"e": "command", "screen": screen.pk, "id": 99, "name": "reload", "payload": {}}
            gw.on_broker_message(topics.screen(screen.pk), json.dumps(event).encode())
            event = {"e": "invalidate", "school": school_id, "rev": rev + 7}
            gw.on_broker_message(topics.school(school_id), json.dumps(event).encode())
            original(pending, result, *rest)

        gw.admission._open = open_late  # type: ignore[method-assign]
        ws = await open_display(gw, token)
        hello = await receive_type(ws, "hello")
        assert hello["rev"] == rev + 7  # hello already says the newest revision
        assert (await receive_type(ws, "invalidate"))["rev"] == rev + 7
        assert (await receive_type(ws, "command"))["id"] == 99
        await ws.close()
    finally:
        await gw.shutdown()


async def test_a_silent_socket_is_pinged_and_dropped_without_pong(tenant: Tenant) -> None:
    """A socket silent past the ping interval is pinged; one that never answers is dropped."""
    clock = FakeClock()
    gw = await start_gateway(clock=clock, ping_interval=1.0)
    try:
        _, token = await in_thread(make_screen, tenant.school, "Hall")
        # A client that answers pings (websockets does) stays open across several intervals.
        alive = await open_display(gw, token, "device-0001")
        await receive_type(alive, "hello")
        # A raw client that never answers anything.
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(
            UPGRADE.format(path=f"/ws/display/?token={token}&dk=device-0001", version=13).encode()
        )
        seen = b""
        while b"\x81" not in seen:  # its hello (a text frame) arrives: it is open
            seen += await asyncio.wait_for(reader.read(100), 10)
        # t+1.5..2.5  both silent past the ping interval: both pinged
        sweep_for(gw, clock, 1.5)
        while b"\x89" not in seen:  # a ping frame (opcode 9) arrives
            seen += await asyncio.wait_for(reader.read(100), 10)
        for _ in range(400):  # the library client answers its ping (a pong): one is waiting
            if sum(p.ping_sent_at is None for p in gw.node.peers.values()) == 1:
                break
            await asyncio.sleep(0.025)
        # t+4.0..5.0  no answer from the raw client for longer than the interval: dropped
        sweep_for(gw, clock, 1.5)
        await asyncio.wait_for(_until_closed(reader), 10)  # then dropped: EOF
        writer.close()
        assert alive.state.name == "OPEN"
        await alive.close()
    finally:
        await gw.shutdown()


def sweep_for(gw: Gateway, clock: FakeClock, seconds: float) -> None:
    """Move the clock on by ``seconds``, then let the gateway's sweep look at every socket:
    it looks at a slice of them every 0.1 s (each once per ping interval), so it ticks ten
    times 0.1 s apart (this test's ping interval is 1 s)."""
    clock.advance(seconds)
    for _ in range(10):
        gw.tick()
        clock.advance(0.1)


async def _until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(100):
        pass


async def test_dashboards_hear_of_connects_and_disconnects(
    gateway: Gateway, tenant: Tenant
) -> None:
    """The gateway tells the school's dashboard topic when a screen connects and leaves."""
    frames: list[dict[str, Any]] = []
    listener = MemoryBroker()

    def collect(topic: str, data: bytes) -> None:
        # Every staff frame takes this path (the web side's too): the gateway's only.
        gateway_events = ("connected", "disconnected")
        frames.extend(f for f in json.loads(data)["frames"] if f.get("event") in gateway_events)

    async def noop() -> None:
        return None

    await listener.start(collect, noop)
    await listener.subscribe(topics.dashboard(tenant.school.pk))
    try:
        screen, token = await in_thread(make_screen, tenant.school, "Hall")
        ws = await open_display(gateway, token)
        await receive_type(ws, "hello")
        await ws.close()
        for _ in range(200):
            if len(frames) >= 2:
                break
            await asyncio.sleep(0.025)
        events = [(f["screen"], f["event"]) for f in frames]
        assert events[:2] == [(screen.pk, "connected"), (screen.pk, "disconnected")]
    finally:
        await listener.close()


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_are_encoded_as_websockets_would(size: int) -> None:
    """The gateway's own text-frame header equals websockets' for every length class."""
    from websockets.frames import Frame, Opcode

    from hallboard.realtime.gateway.connection import encode_frame

    text = "x" * size
    assert encode_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(
        mask=False, extensions=[]
    )
