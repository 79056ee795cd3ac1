"""One peer's bad input costs nobody else (defect 2 of issue 11).

Client messages are checked by one validator (``realtime.core.validation``) on the
socket and over HTTP alike; a batch the database refuses for one row is written
again row by row, so only that row is lost (counted and logged); the same for the
authentication batch. Run on SQLite and on PostgreSQL (DATABASE_URL), where a NUL or
an integer out of range made whole batches fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hallboard.alerts.models import Alert, AlertReceipt
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.validation import Heartbeat
from hallboard.realtime.gateway import db
from hallboard.realtime.gateway.server import Gateway
from hallboard.screens.models import Command, Screen
from tests.conftest import Tenant, make_screen, sample
from tests.display.conftest import ScreenClient
from tests.realtime.conftest import closed_with, open_display, receive_type
from tests.realtime.gateway.test_server import eventually, in_thread

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = Screen._meta.db_table


def poison(condition_sqlite: str, condition_pg: str) -> Iterator[None]:
    """A trigger that makes the database refuse updates of some screen rows, as it would
    refuse a value out of its range: the row, not the database, is the problem."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION hb_poison() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'poisoned row' USING ERRCODE = '22023'; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER hb_poison BEFORE UPDATE ON {TABLE} FOR EACH ROW "
                f"WHEN ({condition_pg}) EXECUTE FUNCTION hb_poison()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER hb_poison BEFORE UPDATE ON {TABLE} WHEN {condition_sqlite} "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER hb_poison ON {TABLE}")
                cursor.execute("DROP FUNCTION hb_poison()")
            else:
                cursor.execute("DROP TRIGGER hb_poison")


@pytest.fixture
def poisoned_name(tenant: Tenant) -> Iterator[None]:
    """Any update of the screen named "Poisoned" (once it has its token) is refused."""
    condition = "OLD.name = 'Poisoned' AND OLD.token_hash IS NOT NULL"
    yield from poison(condition, condition)


@pytest.fixture
def poisoned_rev(tenant: Tenant) -> Iterator[None]:
    """A screen may not record revision 666 as shown (a value the database refuses)."""
    yield from poison("NEW.revision_shown = 666", "NEW.revision_shown = 666")


# --- one validator, both paths ------------------------------------------------------------

BAD_HEARTBEATS = [
    pytest.param('{"rev": 9223372036854775808}', id="rev-2**63"),
    pytest.param('{"rev": 1, "uptime_s": NaN}', id="uptime-NaN"),
    pytest.param('{"health": {"fps": Infinity}}', id="health-Infinity"),
    pytest.param('{"health": {"fps": -Infinity}}', id="health-minus-Infinity"),
    pytest.param('{"health": {"big": 1e999}}', id="health-1e999"),
    pytest.param('{"health": {"note": "a\\u0000b"}}', id="NUL-in-value"),
    pytest.param('{"health": {"a\\u0000": 1}}', id="NUL-in-key"),
    pytest.param('{"health": {"n": 99999999999999999999}}', id="int-over-64-bits"),
    pytest.param('{"health": ' + "[" * 1500 + "]" * 1500 + "}", id="nested-1500"),
    pytest.param('{"health": {"a": {"b": {"c": {"d": {"e": {}}}}}}}', id="nested-7"),
]


@pytest.mark.parametrize("body", BAD_HEARTBEATS)
async def test_a_heartbeat_out_of_the_databases_range_is_refused_on_both_paths(
    gateway: Gateway, tenant: Tenant, body: str
) -> None:
    """The same heartbeat is refused over HTTP (400 invalid_body) and on the socket (1008),
    and nothing of it is stored."""
    screen, token = await in_thread(make_screen, tenant.school)
    response = await in_thread(ScreenClient(token).heartbeat, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_body"
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send('{"type":"heartbeat",' + body[1:])  # the same text, with its type
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION
    stored = await in_thread(lambda: Screen.objects.get(pk=screen.pk).revision_shown)
    assert stored is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"alert": 0, "state": "shown"}', id="id-0"),
        pytest.param('{"alert": 9223372036854775808, "state": "shown"}', id="id-2**63"),
        pytest.param('{"alert": 1, "state": "shown\\u0000"}', id="NUL"),
        pytest.param('{"alert": 1, "state": "shown", "x": NaN}', id="NaN"),
    ],
)
async def test_an_alert_ack_out_of_range_is_refused_on_both_paths(
    gateway: Gateway, tenant: Tenant, body: str
) -> None:
    """Alert ids are 1..2**63-1 and the message is within the database's limits, on both."""
    _, token = await in_thread(make_screen, tenant.school)
    response = await in_thread(ScreenClient(token).ack, body)
    assert response.status_code == 400
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send('{"type":"ack",' + body[1:])
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION


async def test_client_info_is_capped_the_same_on_both_paths(
    gateway: Gateway, tenant: Tenant
) -> None:
    """health over 2 KiB (in a message under 4 KiB) is refused over HTTP and on the socket."""
    _, token = await in_thread(make_screen, tenant.school)
    body = '{"health": {"pad": "' + "x" * 3000 + '"}}'
    assert (await in_thread(ScreenClient(token).heartbeat, body)).status_code == 400
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send('{"type":"heartbeat",' + body[1:])
    assert await closed_with(ws) == CloseCode.MESSAGE_TOO_BIG


async def test_a_bad_heartbeat_costs_no_other_screen_its_ack(
    gateway: Gateway, tenant: Tenant
) -> None:
    """One display sends a heartbeat the database could not store, another acknowledges an
    alert at the same moment: the first is closed with 1008, the ack is recorded."""
    _, bad_token = await in_thread(make_screen, tenant.school, "Bad")
    good, good_token = await in_thread(make_screen, tenant.school, "Good")
    alert = await in_thread(
        Alert.objects.create, organisation=tenant.organisation, school=tenant.school, headline="F"
    )
    bad = await open_display(gateway, bad_token, "device-0001")
    ok = await open_display(gateway, good_token, "device-0002")
    await receive_type(bad, "hello")
    await receive_type(ok, "hello")
    await asyncio.gather(
        bad.send('{"type":"heartbeat","rev":9223372036854775808,"health":{"x":"\\u0000"}}'),
        ok.send(f'{{"type":"ack","alert":{alert.pk},"state":"shown"}}'),
    )
    assert await closed_with(bad) == CloseCode.POLICY_VIOLATION
    shown = await eventually(
        lambda: AlertReceipt.objects.filter(
            alert=alert, screen=good, shown_at__isnull=False
        ).exists(),
        True,
    )
    assert shown
    await ok.close()


# --- a batch the database refuses for one row -----------------------------------------------


def batch_with(bad: Heartbeat, tenant: Tenant) -> tuple[db.Writes, dict[str, Any]]:
    """A batch of everything screens report: one bad heartbeat among good rows."""
    poisoned, _ = make_screen(tenant.school, "Poisoned")
    good, _ = make_screen(tenant.school, "Good")
    other, _ = make_screen(tenant.other_school, "Other school")
    alert = Alert.objects.create(organisation=tenant.organisation, headline="Fire")
    delivered = Command.objects.create(screen=good, name="reload")
    acked = Command.objects.create(screen=other, name="identify")
    now = timezone.now()
    Screen.objects.filter(pk=other.pk).update(connection_mode="ws", last_heartbeat_at=now)
    writes = db.Writes()
    writes.heartbeats = {poisoned.pk: bad, good.pk: Heartbeat(5, "ws", 1.0, {"fps": 60})}
    writes.heartbeat_at = {poisoned.pk: now, good.pk: now}
    writes.delivered = {delivered.pk}
    writes.acks = [(other.pk, acked.pk)]
    writes.alert_acks = [(other.pk, alert.pk, "shown")]
    writes.disconnected = {other.pk: timezone.now()}
    ids = {
        "poisoned": poisoned.pk,
        "good": good.pk,
        "other": other.pk,
        "alert": alert.pk,
        "delivered": delivered.pk,
        "acked": acked.pk,
    }
    return writes, ids


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("trigger", id="row-refused-by-the-database"),
        pytest.param("rev", id="rev-over-64-bits-past-validation"),
    ],
)
def test_a_write_batch_with_a_row_the_database_refuses_writes_every_other_row(
    tenant: Tenant, bad: str, request: pytest.FixtureRequest
) -> None:
    """The whole batch fails; it is written again row by row: the bad heartbeat is
    reported as rejected, every other heartbeat, delivery, ack, alert ack and disconnect
    is written."""
    if bad == "trigger":
        request.getfixturevalue("poisoned_name")
        heartbeat = Heartbeat(3, "ws", 1.0, {})
    else:
        heartbeat = Heartbeat(2**63, "ws", 1.0, {})  # what the validator would refuse
    writes, ids = batch_with(heartbeat, tenant)
    written = db.write(writes)
    assert [(r.kind, r.what) for r in written.rejected] == [
        ("heartbeat", f"the heartbeat of screen {ids['poisoned']}")
    ]
    assert Screen.objects.get(pk=ids["good"]).revision_shown == 5
    assert Screen.objects.get(pk=ids["poisoned"]).revision_shown is None
    assert Command.objects.get(pk=ids["delivered"]).status == Command.Status.DELIVERED
    assert Command.objects.get(pk=ids["acked"]).status == Command.Status.ACKNOWLEDGED
    assert AlertReceipt.objects.filter(alert_id=ids["alert"], screen_id=ids["other"]).exists()
    assert Screen.objects.get(pk=ids["other"]).connection_mode == "poll"
    assert [i["id"] for i in written.delivered] == [ids["delivered"]]
    assert [i["id"] for i in written.acknowledged] == [ids["acked"]]


async def test_a_refused_row_is_counted_and_logged_once(
    gateway: Gateway, tenant: Tenant, poisoned_rev: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway counts the rejected row (hallboard_gateway_rows_rejected_total) and logs
    one line for it; the socket stays open and its next heartbeat is written."""
    caplog.set_level(logging.INFO)
    screen, token = await in_thread(make_screen, tenant.school)
    before = sample("hallboard_gateway_rows_rejected_total", kind="heartbeat")
    ws = await open_display(gateway, token)
    await receive_type(ws, "hello")
    await ws.send('{"type":"heartbeat","rev":666}')
    for _ in range(200):
        if sample("hallboard_gateway_rows_rejected_total", kind="heartbeat") > before:
            break
        await asyncio.sleep(0.025)
    assert sample("hallboard_gateway_rows_rejected_total", kind="heartbeat") == before + 1
    lines = [r for r in caplog.records if "database refused" in r.getMessage()]
    assert len(lines) == 1
    assert f"screen {screen.pk}" in lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]
    await ws.send('{"type":"heartbeat","rev":7}')
    assert await eventually(lambda: Screen.objects.get(pk=screen.pk).revision_shown, 7) == 7
    await ws.close()


# --- the authentication batch ---------------------------------------------------------------


def test_an_authentication_the_database_refuses_is_refused_alone(
    tenant: Tenant, poisoned_name: None
) -> None:
    """In one batch: a token with a NUL (4401), a screen whose row the database refuses
    (1013, reported), and good ones (accepted): the good ones are served."""
    poisoned, poisoned_token = make_screen(tenant.school, "Poisoned")
    goods = [make_screen(tenant.school, f"Good {n}") for n in range(3)]
    requests = [
        (goods[0][1], "device-0000"),
        ("hbs_\x00" + goods[1][1][4:], "device-0001"),
        (poisoned_token, "device-0002"),
        (goods[1][1], "device-0003"),
        (goods[2][1], "device-0004"),
    ]
    results = db.authenticate_many(requests)
    assert isinstance(results[0], db.Accepted)
    assert results[1] == db.Refused(CloseCode.INVALID_TOKEN)
    assert isinstance(results[2], db.Refused)
    assert results[2].code == CloseCode.TRY_AGAIN_LATER
    assert results[2].rejected is not None
    assert [r.screen_id for r in results[3:] if isinstance(r, db.Accepted)] == [
        goods[1][0].pk,
        goods[2][0].pk,
    ]
    assert not Screen.objects.filter(pk=poisoned.pk).exclude(device_key=None).exists()


async def test_a_token_with_a_nul_gets_4401_and_its_neighbours_their_hello(
    gateway: Gateway, tenant: Tenant
) -> None:
    """Sockets connecting together, one with a NUL in its token: it is refused with 4401,
    every other gets its hello (never 1013)."""
    screens = [await in_thread(make_screen, tenant.school, f"S{n}") for n in range(4)]
    bad = open_display(gateway, "hbs_%00abc", "device-0009")
    goods = [
        open_display(gateway, token, f"device-{n:04d}") for n, (_, token) in enumerate(screens)
    ]
    sockets = await asyncio.gather(bad, *goods)
    assert await closed_with(sockets[0]) == CloseCode.INVALID_TOKEN
    hellos = await asyncio.gather(*(receive_type(ws, "hello") for ws in sockets[1:]))
    assert sorted(h["screen"] for h in hellos) == sorted(s.pk for s, _ in screens)
    for ws in sockets[1:]:
        await ws.close()
