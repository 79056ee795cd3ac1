"""Admission and write batches on PostgreSQL never deadlock; a deadlock is retried (defect 6).

One screen may have several sockets (several devices, several replicas): one of them
connecting (an admission batch) while another's heartbeat and disconnect are written
(a write batch) used to lock the same screen rows in opposite orders. Both batches now
lock every screen they change first, in id order; a deadlock that happens anyway (with
a transaction that is not the gateway's) is retried and logged as a deadlock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.validation import Heartbeat
from hallboard.realtime.gateway import db
from hallboard.screens.models import Screen
from tests.conftest import Tenant, make_screen, sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABLE = Screen._meta.db_table


def in_thread(func: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``func`` in a thread with its own database connection; its result or error."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = func()
        except BaseException as exc:  # reported to the test
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def pause_after_first_update(mine: threading.Event, theirs: threading.Event) -> Any:
    """An execute wrapper: after this thread's first UPDATE of a screen, say so and wait
    (at most 2 s) until the other thread has made its first one too."""
    paused = False

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal paused
        result = execute(sql, params, many, context)
        if not paused and sql.lstrip().upper().startswith("UPDATE") and TABLE in sql:
            paused = True
            mine.set()
            theirs.wait(timeout=2)
        return result

    return wrapper


def test_admission_and_write_batches_on_the_same_screens_do_not_deadlock(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Screen A (several devices) connects a socket while its other socket's heartbeat is
    written; screen B is refused a socket while its other socket's disconnect is written.
    Each batch stops after its first UPDATE until the other has made one: with locks
    taken in one order both complete, and no deadlock happens."""
    caplog.set_level(logging.INFO)
    a, a_token = make_screen(tenant.school, "A", allow_multi_device=True)
    b, b_token = make_screen(tenant.school, "B", allow_multi_device=False)
    now = timezone.now()
    Screen.objects.filter(pk=a.pk).update(device_key="device-a001")
    Screen.objects.filter(pk=b.pk).update(
        device_key="device-b001", connection_mode="ws", last_heartbeat_at=now - dt.timedelta(1)
    )
    writes = db.Writes()
    writes.heartbeats = {a.pk: Heartbeat(4, "ws", 1.0, {})}
    writes.heartbeat_at = {a.pk: now}
    writes.disconnected = {b.pk: now}
    deadlocks = sample("hallboard_gateway_db_deadlocks_total", batch="authentication") + sample(
        "hallboard_gateway_db_deadlocks_total", batch="write"
    )
    auth_updated, write_updated = threading.Event(), threading.Event()

    def admit() -> Any:
        with connection.execute_wrapper(pause_after_first_update(auth_updated, write_updated)):
            # B refused (its refusal is recorded first), then A accepted.
            return db.authenticate_many([(b_token, "device-b002"), (a_token, "device-a002")])

    def write() -> Any:
        with connection.execute_wrapper(pause_after_first_update(write_updated, auth_updated)):
            # A's heartbeat first, then B's disconnect.
            return db.write(writes)

    admitting, admitted = in_thread(admit)
    writing, written = in_thread(write)
    admitting.join(30)
    writing.join(30)
    assert "error" not in admitted, admitted.get("error")
    assert "error" not in written, written.get("error")
    refused, accepted = admitted["result"]
    assert refused == db.Refused(CloseCode.SCREEN_BOUND, b.pk, tenant.school.pk)
    assert isinstance(accepted, db.Accepted)
    assert Screen.objects.get(pk=a.pk).revision_shown == 4
    assert Screen.objects.get(pk=b.pk).push_refused_code == CloseCode.SCREEN_BOUND
    assert Screen.objects.get(pk=b.pk).connection_mode == "poll"
    after = sample("hallboard_gateway_db_deadlocks_total", batch="authentication") + sample(
        "hallboard_gateway_db_deadlocks_total", batch="write"
    )
    assert after == deadlocks
    assert not [r for r in caplog.records if "deadlock" in r.getMessage()]


def test_a_deadlocked_write_batch_is_retried_and_logged_as_a_deadlock(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Another transaction holds screen B and then asks for A while the write batch holds
    A and waits for B: PostgreSQL aborts the batch (its deadlock check runs first); the
    batch is run again, succeeds once the other has committed, and the log says
    "deadlock", not "database unavailable"."""
    caplog.set_level(logging.INFO)
    a, _ = make_screen(tenant.school, "A")
    b, _ = make_screen(tenant.school, "B")
    now = timezone.now()
    writes = db.Writes()
    writes.heartbeats = {a.pk: Heartbeat(8, "ws", 1.0, {}), b.pk: Heartbeat(9, "ws", 1.0, {})}
    writes.heartbeat_at = {a.pk: now, b.pk: now}
    before = sample("hallboard_gateway_db_deadlocks_total", batch="write")
    holds_b = threading.Event()

    def other() -> bool:
        from django.db import transaction

        with transaction.atomic(), connection.cursor() as cursor:
            # Its own deadlock check waits long: the gateway's batch is the one aborted.
            cursor.execute("SET LOCAL deadlock_timeout = '10s'")
            cursor.execute(f"SELECT id FROM {TABLE} WHERE id = %s FOR UPDATE", [b.pk])  # noqa: S608 - our table
            holds_b.set()
            for _ in range(400):  # until the batch waits for B (it holds A by then)
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0]:
                    break
                threading.Event().wait(0.025)
            else:
                return False
            cursor.execute(f"UPDATE {TABLE} SET name = name WHERE id = %s", [a.pk])  # noqa: S608 - our table
        return True

    def write() -> Any:
        holds_b.wait(10)
        return db.write(writes)

    other_thread, other_out = in_thread(other)
    writing, written = in_thread(write)
    other_thread.join(60)
    writing.join(60)
    assert other_out.get("result") is True, other_out
    assert "error" not in written, written.get("error")
    assert written["result"].rejected == []
    assert Screen.objects.get(pk=a.pk).revision_shown == 8
    assert Screen.objects.get(pk=b.pk).revision_shown == 9
    assert sample("hallboard_gateway_db_deadlocks_total", batch="write") == before + 1
    lines = [r.getMessage() for r in caplog.records if "deadlock" in r.getMessage()]
    assert len(lines) == 1
    assert "deadlock detected" in lines[0]
    assert "retrying" in lines[0]
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
