"""The gateway's database batches (hallboard.realtime.gateway.db): many sockets per query,
each request answered on its own merits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.utils import timezone

from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.validation import Heartbeat
from hallboard.realtime.gateway import db
from hallboard.schools.models import School
from hallboard.screens.models import COMMAND_TTL, Command, Screen
from tests.conftest import Tenant, make_screen, revision_of

pytestmark = pytest.mark.django_db

DK = "device-0001"


def test_one_batch_answers_every_kind_of_request(tenant: Tenant) -> None:
    """In one call: a bound screen, an unbound one (bound now), another device, an unknown
    token, a malformed key and an impossible token each get their own answer, in order."""
    bound, bound_token = make_screen(tenant.school, name="Bound")
    Screen.objects.filter(pk=bound.pk).update(device_key=DK)
    fresh, fresh_token = make_screen(tenant.school, name="Fresh")
    results = db.authenticate_many(
        [
            (bound_token, DK),
            (fresh_token, "device-0002"),
            (bound_token, "device-9999"),
            ("hbs_unknown", DK),
            (bound_token, "bad"),
            ("nul\x00token", DK),
        ]
    )
    assert results[0] == db.Accepted(bound.pk, tenant.school.pk, revision_of(tenant.school), None)
    assert isinstance(results[1], db.Accepted)
    assert results[1].screen_id == fresh.pk
    assert Screen.objects.get(pk=fresh.pk).device_key == "device-0002"  # bound by the batch
    assert results[2] == db.Refused(CloseCode.SCREEN_BOUND, bound.pk, tenant.school.pk)
    assert results[3] == db.Refused(CloseCode.INVALID_TOKEN)
    assert results[4] == db.Refused(CloseCode.MISSING_PARAMETERS)
    assert results[5] == db.Refused(CloseCode.INVALID_TOKEN)


def test_accepted_screens_are_marked_and_refusals_recorded(tenant: Tenant) -> None:
    """Accepted screens are marked as on push by the write batch after their hello (not
    by the lookup: off the handshake's path); a screen refused for its binding or its
    push flags carries the refusal for the dashboard."""
    screen, token = make_screen(tenant.school)
    refused_at = timezone.now() - dt.timedelta(minutes=1)
    Screen.objects.filter(pk=screen.pk).update(
        device_key=DK, push_refused_code=4409, push_refused_at=refused_at
    )
    (accepted,) = db.authenticate_many([(token, DK)])
    assert isinstance(accepted, db.Accepted)
    assert Screen.objects.get(pk=screen.pk).connection_mode != Screen.Mode.PUSH
    db.write(db.Writes(connected={screen.pk: timezone.now()}))
    marked = Screen.objects.get(pk=screen.pk)
    assert (marked.connection_mode, marked.push_refused_code) == (Screen.Mode.PUSH, None)
    assert marked.last_heartbeat_at is not None
    db.authenticate_many([(token, "device-9999")])
    assert Screen.objects.get(pk=screen.pk).push_refused_code == CloseCode.SCREEN_BOUND


def test_push_off_for_the_school_is_refused_with_4409(tenant: Tenant) -> None:
    """A school whose push is switched off: its screens are refused with 4409, and
    push_states says they may not use push."""
    screen, token = make_screen(tenant.school)
    School.objects.filter(pk=tenant.school.pk).update(push=School.Push.OFF)
    [result] = db.authenticate_many([(token, DK)])
    assert result == db.Refused(CloseCode.PUSH_DISABLED, screen.pk, tenant.school.pk)
    assert db.push_states([screen.pk]) == {screen.pk: False}


def test_a_revoked_screen_may_not_use_push(tenant: Tenant) -> None:
    """push_states leaves out screens without a token (revoked) and deleted ones."""
    kept, _ = make_screen(tenant.school, name="Kept")
    revoked, _ = make_screen(tenant.school, name="Revoked")
    revoked.revoke_token()
    assert db.push_states([kept.pk, revoked.pk, 999_999]) == {kept.pk: True}


def test_pending_commands_are_delivered_within_their_ttl(tenant: Tenant) -> None:
    """Commands still pending and younger than COMMAND_TTL (the screens' model's) are
    handed to a connecting screen, oldest first; older or delivered ones are not."""
    screen, _ = make_screen(tenant.school)
    now = timezone.now()
    old = Command.objects.create(screen=screen, name="reload")
    first = Command.objects.create(screen=screen, name="identify", payload={"seconds": 5})
    second = Command.objects.create(screen=screen, name="reload")
    done = Command.objects.create(screen=screen, name="reload", status=Command.Status.DELIVERED)
    Command.objects.filter(pk=old.pk).update(created_at=now - COMMAND_TTL - dt.timedelta(seconds=1))
    Command.objects.filter(pk=first.pk).update(
        created_at=now - COMMAND_TTL + dt.timedelta(seconds=5)
    )
    found = db.pending_commands([screen.pk], now)
    assert [c["id"] for c in found[screen.pk]] == [first.pk, second.pk]
    assert found[screen.pk][0] == {"id": first.pk, "name": "identify", "payload": {"seconds": 5}}
    assert done.pk not in [c["id"] for c in found[screen.pk]]


def test_current_state_reads_revisions(tenant: Tenant) -> None:
    """Revisions (and top alerts) of the schools asked for; unknown ones left out."""
    revs, alerts = db.current_state([tenant.school.pk, 999_999])
    assert revs == {tenant.school.pk: revision_of(tenant.school)}
    assert alerts.get(tenant.school.pk) is None


def test_a_write_batch_stores_heartbeats_and_disconnects(tenant: Tenant) -> None:
    """Heartbeats store what the screen reported; a disconnect marks a screen on push as
    polling, unless it connected again after the disconnect (a later heartbeat)."""
    beating, _ = make_screen(tenant.school, name="Beating")
    leaving, _ = make_screen(tenant.school, name="Leaving")
    back, _ = make_screen(tenant.school, name="Back again")
    now = timezone.now()
    Screen.objects.filter(pk=leaving.pk).update(
        connection_mode=Screen.Mode.PUSH, last_heartbeat_at=now - dt.timedelta(seconds=30)
    )
    Screen.objects.filter(pk=back.pk).update(
        connection_mode=Screen.Mode.PUSH, last_heartbeat_at=now + dt.timedelta(seconds=1)
    )
    batch = db.Writes()
    assert not batch
    batch.heartbeats[beating.pk] = Heartbeat(rev=7, mode="ws", uptime_s=3.0, health={"e": 0})
    batch.heartbeat_at[beating.pk] = now
    batch.disconnected[leaving.pk] = now
    batch.disconnected[back.pk] = now
    assert batch
    written = db.write(batch)
    assert written.rejected == []
    stored = Screen.objects.get(pk=beating.pk)
    assert (stored.revision_shown, stored.client_info) == (7, {"uptime_s": 3.0, "health": {"e": 0}})
    assert Screen.objects.get(pk=leaving.pk).connection_mode == Screen.Mode.POLL
    assert Screen.objects.get(pk=back.pk).connection_mode == Screen.Mode.PUSH


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OperationalError("server closed the connection"), "unavailable"),
        (InterfaceError("connection already closed"), "unavailable"),
        (DataError("value out of range"), "row"),
        (IntegrityError("violates foreign key"), "row"),
        (OverflowError("int too big"), "row"),
        (KeyError("a bug"), None),
    ],
)
def test_failures_are_classified(exc: BaseException, kind: str | None) -> None:
    """The database away fails a batch; a refused value costs its row; a bug is raised."""
    assert db.classify(exc) == kind
    assert db.describe(exc).split(" ", 1)[0] in {"database", type(exc).__name__ + ":"}


def test_a_deadlock_is_recognised_by_its_sqlstate() -> None:
    """SQLSTATE 40P01 (deadlock detected) or 40001 (serialization): run it again."""

    class Cause(Exception):
        sqlstate = "40P01"

    exc = OperationalError("deadlock detected")
    exc.__cause__ = Cause()
    assert db.classify(exc) == "deadlock"
    assert db.describe(exc).startswith("deadlock detected")


@pytest.mark.parametrize(
    ("token", "well_formed"),
    [
        ("hbs_abc", True),
        ("", False),
        ("t" * 256, True),
        ("t" * 257, False),
        ("a b", True),
        ("tab\there", False),
        ("nul\x00", False),
        ("café", False),
    ],
)
def test_tokens_no_screen_can_have_are_never_looked_up(token: str, well_formed: bool) -> None:
    """Visible ASCII of 1 to 256 characters; anything else is refused without a query."""
    assert db.token_well_formed(token) is well_formed
