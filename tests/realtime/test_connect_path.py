"""The connect path: admitting a screen that reconnects reads, it does not write.

Marking a screen connected (push mode, the time, its last refusal cleared) used to be
an UPDATE inside the token-lookup transaction, with every screen of the batch locked
first: every handshake waited for it. It is now written by the gateway's next write
batch, after the hello (``db.Writes.connected``); it must still land.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.gateway import db
from hallboard.realtime.gateway.server import Gateway
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen
from tests.realtime.conftest import open_display, receive_type
from tests.realtime.gateway.test_server import eventually, in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _writes(queries: list[dict[str, str]]) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
        or "FOR UPDATE" in q["sql"].upper()
        or "FOR NO KEY UPDATE" in q["sql"].upper()
    ]


def test_admitting_bound_screens_neither_writes_nor_locks(tenant: Tenant) -> None:
    """A batch of screens reconnecting with their own devices is admitted by reads alone:
    no UPDATE and no row lock in the token-lookup transaction."""
    screens = [make_screen(tenant.school, f"S{n}") for n in range(5)]
    for n, (screen, _) in enumerate(screens):
        Screen.objects.filter(pk=screen.pk).update(device_key=f"device-{n:04d}")
    requests = [(token, f"device-{n:04d}") for n, (_, token) in enumerate(screens)]
    with CaptureQueriesContext(connection) as captured:
        results = db.authenticate_many(requests)
    assert all(isinstance(r, db.Accepted) for r in results)
    assert _writes(captured.captured_queries) == []


def test_a_binding_in_the_batch_still_locks_and_writes(tenant: Tenant) -> None:
    """An unbound screen in the batch is bound during admission (atomically, rows locked
    first); the bound screens beside it are admitted too."""
    bound, bound_token = make_screen(tenant.school, "Bound")
    Screen.objects.filter(pk=bound.pk).update(device_key="device-0001")
    fresh, fresh_token = make_screen(tenant.school, "Fresh")
    with CaptureQueriesContext(connection) as captured:
        results = db.authenticate_many([(bound_token, "device-0001"), (fresh_token, "dev-0002")])
    assert all(isinstance(r, db.Accepted) for r in results)
    assert _writes(captured.captured_queries)
    assert Screen.objects.get(pk=fresh.pk).device_key == "dev-0002"


def test_the_write_batch_marks_screens_connected(tenant: Tenant) -> None:
    """`Writes.connected` sets push mode and the connect time and clears a refusal; a screen
    that connected and then disconnected within one batch ends up polling; one that
    disconnected and connected again stays on push."""
    now = timezone.now()
    a, _ = make_screen(tenant.school, "A")
    b, _ = make_screen(tenant.school, "B")
    c, _ = make_screen(tenant.school, "C")
    Screen.objects.filter(pk=a.pk).update(  # refused before it connected
        push_refused_code=int(CloseCode.SCREEN_BOUND), push_refused_at=now - dt.timedelta(4)
    )
    batch = db.Writes()
    # As the gateway stamps them: connects and disconnects before the batch is written.
    second = dt.timedelta(seconds=1)
    batch.connected = {a.pk: now - 3 * second, b.pk: now - 3 * second, c.pk: now - second}
    batch.disconnected = {b.pk: now - 2 * second, c.pk: now - 2 * second}
    with CaptureQueriesContext(connection) as captured:
        db.write(batch)
    a_row, b_row, c_row = (Screen.objects.get(pk=s.pk) for s in (a, b, c))
    assert a_row.connection_mode == Screen.Mode.PUSH
    assert a_row.last_heartbeat_at is not None
    assert a_row.last_heartbeat_at >= now
    assert a_row.push_refused_code is None
    assert a_row.push_refused_at is None
    assert b_row.connection_mode == Screen.Mode.POLL
    assert c_row.connection_mode == Screen.Mode.PUSH
    # Connects cost a statement per kind, not per screen (nor a CASE per screen).
    marks = [q["sql"] for q in captured.captured_queries if "CASE" in q["sql"].upper()]
    assert marks == []


def test_a_refusal_after_the_connect_is_kept(tenant: Tenant) -> None:
    """A connect mark written late (in the batch after the hello) does not clear a refusal
    made after that connect (another device refused meanwhile); one made before it, it does."""
    now = timezone.now()
    late, _ = make_screen(tenant.school, "Late")
    early, _ = make_screen(tenant.school, "Early")
    second = dt.timedelta(seconds=1)
    Screen.objects.filter(pk=late.pk).update(push_refused_code=4403, push_refused_at=now)
    Screen.objects.filter(pk=early.pk).update(
        push_refused_code=4403, push_refused_at=now - 2 * second
    )
    batch = db.Writes()
    batch.connected = {late.pk: now - second, early.pk: now - second}
    db.write(batch)
    assert Screen.objects.get(pk=late.pk).push_refused_code == 4403
    assert Screen.objects.get(pk=early.pk).push_refused_code is None


def test_a_thousand_connects_are_marked_by_one_statement(tenant: Tenant) -> None:
    """However many screens connected since the last batch, marking them is one UPDATE:
    the write batch's transaction stays short in a reconnect storm."""
    screens = [make_screen(tenant.school, f"S{n}")[0] for n in range(1000)]
    now = timezone.now()
    batch = db.Writes()
    batch.connected = {s.pk: now for s in screens}
    with CaptureQueriesContext(connection) as captured:
        db.write(batch)
    updates = [q for q in captured.captured_queries if q["sql"].lstrip().startswith("UPDATE")]
    assert len(updates) == 1
    assert (
        Screen.objects.filter(pk__in=[s.pk for s in screens], connection_mode="ws").count() == 1000
    )


async def test_a_connect_is_marked_after_the_hello(gateway: Gateway, tenant: Tenant) -> None:
    """Through the gateway: a bound screen that connects gets its hello, and its connect
    mark (push mode, a fresh time, its earlier refusal cleared) lands in the database."""
    screen, token = await in_thread(make_screen, tenant.school, "Hall")
    before = timezone.now() - dt.timedelta(hours=1)
    await in_thread(
        lambda: Screen.objects.filter(pk=screen.pk).update(
            device_key="device-aaaa",
            connection_mode=Screen.Mode.POLL,
            last_heartbeat_at=before,
            push_refused_code=int(CloseCode.PUSH_DISABLED),
            push_refused_at=before,
        )
    )
    ws = await open_display(gateway, token, "device-aaaa")
    await receive_type(ws, "hello")

    def mark() -> tuple[str, bool, int | None]:
        s = Screen.objects.get(pk=screen.pk)
        fresh = s.last_heartbeat_at is not None and s.last_heartbeat_at > before
        return s.connection_mode, fresh, s.push_refused_code

    assert await eventually(mark, (Screen.Mode.PUSH, True, None)) == (Screen.Mode.PUSH, True, None)
    await ws.close()
