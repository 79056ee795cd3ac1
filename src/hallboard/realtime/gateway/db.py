"""What the gateway asks the database, in batches, run in worker threads (never on the loop).

Each function is plain synchronous Django code working on MANY sockets at once:
a reconnect storm of ten thousand screens becomes a few hundred queries, not
tens of thousands (one query looks up a whole batch of tokens).

Admission only reads when it can: a screen reconnecting with the device it is
bound to, push on, is looked up without a row lock or a write. Marking it
connected (push mode, the time, refusal cleared) is not on its handshake's
path: the gateway puts it in the next write batch (``Writes.connected``),
after the hello is sent. Only a binding or a refusal writes (and locks) during
admission. ``run_db`` runs a function in the gateway's thread
pool and gives the connection back afterwards (to the pool on PostgreSQL),
like Channels' ``database_sync_to_async``.

No peer may cost another anything, so a batch is written with three rules:

- **Locks in one order.** A batch transaction first locks every screen row it
  will change, in id order (``SELECT ... ORDER BY id FOR NO KEY UPDATE``), then
  the commands, in id order. Admission and write batches of any number of
  replicas (one screen may have sockets on several) then never deadlock.
- **A deadlock is retried** (``DEADLOCK_ATTEMPTS`` times, after a short random
  pause) and logged as a deadlock; one that persists fails the batch like an
  unavailable database.
- **One bad row costs only itself.** When the database refuses a batch for
  what is in it (a value out of range, a constraint), the batch is written
  again one row at a time (each in a savepoint): the rows the database refuses
  are reported (``Written.rejected``, ``Refused.rejected``), everything else is
  written. An unavailable database fails the whole batch at once instead:
  trying it row by row would only wait longer for the same answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, ParamSpec, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from hallboard.alerts.delivery import record_receipt, top_alerts
from hallboard.dbconn import give_back
from hallboard.display.auth import DEVICE_KEY, MAX_TOKEN_LENGTH
from hallboard.display.flags import push_enabled_for
from hallboard.observability import metrics
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import Heartbeat
from hallboard.schools.models import School
from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import COMMAND_TTL, Command, PushSettings, Screen
from hallboard.screens.tokens import hash_token

logger = logging.getLogger("hallboard.realtime.gateway")

P = ParamSpec("P")
T = TypeVar("T")

#: Close codes worth recording on the screen for the dashboard (its own fault or setting).
RECORDED_REFUSALS = frozenset({CloseCode.SCREEN_BOUND, CloseCode.PUSH_DISABLED})
#: Times a deadlocked batch is tried in all, and the longest pause before a retry (s).
DEADLOCK_ATTEMPTS = 4
DEADLOCK_PAUSE = 0.05
#: SQLSTATEs after which the same transaction may simply be run again.
_RETRYABLE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure

Failure = Literal["deadlock", "unavailable", "row"]


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return str(state) if state else None


def classify(exc: BaseException) -> Failure | None:
    """What a batch's exception means: a ``deadlock`` (run it again), the database
    ``unavailable`` (fail the batch), a ``row`` the database refuses for its values
    (write row by row), or None: not the database's (a bug: raised as it is)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return "deadlock" if _sqlstate(exc) in _RETRYABLE else "unavailable"
    if isinstance(exc, DatabaseError | ValueError | OverflowError | TypeError):
        # DataError, IntegrityError...; ValueError and OverflowError come from the
        # driver's adaptation of a value (SQLite: an integer over 64 bits).
        return "row"
    return None


def describe(exc: BaseException) -> str:
    """One line for the log: what kind of failure, and the database's first line."""
    kind = classify(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    if kind == "deadlock":
        return f"deadlock detected ({type(exc).__name__}: {first})"
    if kind == "unavailable":
        return f"database unavailable ({type(exc).__name__}: {first})"
    return f"{type(exc).__name__}: {first}"


def retrying_deadlocks(what: str, func: Callable[[], T]) -> T:
    """Run ``func`` (one transaction) again after a deadlock, up to DEADLOCK_ATTEMPTS in all."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return func()
        except DatabaseError as exc:
            if classify(exc) != "deadlock":
                raise
            metrics.gateway_db_deadlocks_total.labels(batch=what).inc()
            if attempt == DEADLOCK_ATTEMPTS:
                logger.warning(
                    "%s batch: %s; gave up after %d attempts", what, describe(exc), attempt
                )
                raise
            logger.warning(
                "%s batch: %s; retrying (attempt %d of %d)",
                what,
                describe(exc),
                attempt + 1,
                DEADLOCK_ATTEMPTS,
            )
            time.sleep(random.uniform(0.2, 1.0) * DEADLOCK_PAUSE * attempt)  # noqa: S311
    raise AssertionError("unreachable")


def lock_screens(screen_ids: Iterable[int]) -> None:
    """Lock these screens' rows for this transaction, in id order (PostgreSQL; a no-op on
    SQLite, which locks the whole database). Every batch that changes screens takes its
    locks this way first, so no two batches wait for each other in a cycle."""
    ids = sorted(set(screen_ids))
    if ids:
        list(
            Screen.objects.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update(no_key=True)
            .values_list("pk", flat=True)
        )


def _lock_commands(command_ids: Iterable[int]) -> None:
    ids = sorted(set(command_ids))
    if ids:
        list(
            Command.objects.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update(no_key=True)
            .values_list("pk", flat=True)
        )


def _fresh_connection(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return func(*args, **kwargs)
    finally:
        give_back()


async def run_db(executor: ThreadPoolExecutor, func: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, _fresh_connection, func, *args)


@dataclass(frozen=True, slots=True)
class Accepted:
    screen_id: int
    school_id: int
    rev: int
    alert: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Refused:
    code: CloseCode
    screen_id: int | None = None
    school_id: int | None = None
    #: The database refused this request's rows (why): the others of its batch were served.
    rejected: str | None = None


def token_well_formed(token: str) -> bool:
    """A token some screen could have: visible ASCII (no NUL), at most MAX_TOKEN_LENGTH.
    Any other is refused with 4401 without a lookup."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii() and token.isprintable()


def _valid(token: str, device_key: str) -> bool:
    return token_well_formed(token) and DEVICE_KEY.fullmatch(device_key) is not None


def authenticate_many(requests: list[tuple[str, str]]) -> list[Accepted | Refused]:
    """For each (token, device key): the screen it may serve, or why not.

    One query for the tokens, binding for unbound screens, one UPDATE recording
    refusals, one query for alerts and one for pending commands, in one
    transaction; screens are locked (in id order) only when the batch binds or
    refuses one. Accepted screens are marked connected later, by the gateway's
    write batch (``Writes.connected``): not on the handshake's path.
    A request whose rows the database refuses is refused with 1013 on its own
    (``Refused.rejected``); the others of its batch are served all the same.
    """

    def batch(part: list[tuple[str, str]]) -> list[Accepted | Refused]:
        def run() -> list[Accepted | Refused]:
            with transaction.atomic():  # one commit for the whole batch (bindings, marks)
                return _authenticate_many(part)

        return retrying_deadlocks("authentication", run)

    try:
        return batch(requests)
    except Exception as exc:
        if classify(exc) != "row":
            raise
    results: list[Accepted | Refused] = []
    for request in requests:
        try:
            results += batch([request])
        except Exception as exc:
            if classify(exc) != "row":
                raise
            results.append(Refused(CloseCode.TRY_AGAIN_LATER, rejected=describe(exc)))
    return results


@dataclass(slots=True)
class _Row:
    screen_id: int
    device_key: str | None
    allow_multi_device: bool | None
    school_id: int
    revision: int
    push: str
    organisation_id: int


def _rows(hashes: set[str]) -> dict[str, _Row]:
    # Tuples, not model instances: a storm looks up thousands per second.
    rows = Screen.objects.filter(token_hash__in=hashes).values_list(
        "token_hash",
        "id",
        "device_key",
        "allow_multi_device",
        "school_id",
        "school__revision",
        "school__push",
        "school__organisation_id",
    )
    return {
        digest: _Row(pk, dk, multi, school_id, revision, push, org_id)
        for digest, pk, dk, multi, school_id, revision, push, org_id in rows
        if digest is not None
    }


def _may_use(row: _Row, device_key: str) -> bool:
    if row.device_key == device_key:
        return True  # the common case (a reconnect): no model, no query
    screen = Screen(pk=row.screen_id, device_key=row.device_key, school_id=row.school_id)
    screen.allow_multi_device = row.allow_multi_device
    allowed = bind_device(screen, device_key) is not Binding.REFUSED
    row.device_key = screen.device_key  # a second socket of this batch sees the binding
    return allowed


def _authenticate_many(requests: list[tuple[str, str]]) -> list[Accepted | Refused]:
    now = timezone.now()
    hashes = [hash_token(token) if _valid(token, dk) else None for token, dk in requests]
    rows = _rows({h for h in hashes if h is not None})
    flags = PushSettings.current()
    if _writes_during_admission(requests, hashes, rows, flags):
        lock_screens(row.screen_id for row in rows.values())
    results: list[Accepted | Refused] = []
    refused: dict[CloseCode, list[int]] = defaultdict(list)
    accepted: list[_Row] = []
    for (_, device_key), digest in zip(requests, hashes, strict=True):
        if digest is None:  # the gateway checks this before; never looked up
            malformed_key = DEVICE_KEY.fullmatch(device_key) is None
            results.append(
                Refused(CloseCode.MISSING_PARAMETERS if malformed_key else CloseCode.INVALID_TOKEN)
            )
            continue
        row = rows.get(digest)
        if row is None:
            results.append(Refused(CloseCode.INVALID_TOKEN))
            continue
        code = None
        if not _may_use(row, device_key):
            code = CloseCode.SCREEN_BOUND
        elif not push_enabled_for(row.screen_id, row.push, flags):
            code = CloseCode.PUSH_DISABLED
        if code is not None:
            refused[code].append(row.screen_id)
            results.append(Refused(code, row.screen_id, row.school_id))
            continue
        accepted.append(row)
        results.append(Accepted(row.screen_id, row.school_id, row.revision, None))
    if refused:
        for code, ids in refused.items():
            Screen.objects.filter(pk__in=ids).update(
                push_refused_code=int(code), push_refused_at=now
            )
    if not accepted:
        return results
    # Pending commands are not read here: the admission reads them once it listens to the
    # screens' topics (``after_subscribe``), which also finds those committed meanwhile.
    alerts = top_alerts({r.school_id: r.organisation_id for r in accepted}, now)
    return [
        Accepted(r.screen_id, r.school_id, r.rev, alerts.get(r.school_id))
        if isinstance(r, Accepted)
        else r
        for r in results
    ]


def _writes_during_admission(
    requests: list[tuple[str, str]],
    hashes: list[str | None],
    rows: dict[str, _Row],
    flags: PushSettings,
) -> bool:
    """Whether admitting this batch writes: a device to bind (or refuse), push refused."""
    for (_, device_key), digest in zip(requests, hashes, strict=True):
        row = rows.get(digest) if digest is not None else None
        if row is None:
            continue
        if row.device_key != device_key or not push_enabled_for(row.screen_id, row.push, flags):
            return True
    return False


def pending_commands(screen_ids: list[int], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in Command.objects.filter(
        screen_id__in=screen_ids, status=Command.Status.PENDING, created_at__gte=now - COMMAND_TTL
    ).order_by("created_at"):
        found[c.screen_id].append({"id": c.pk, "name": c.name, "payload": c.payload})
    return found


def after_subscribe(
    schools: Iterable[int], screen_ids: list[int], now: dt.datetime
) -> tuple[dict[int, int], dict[int, dict[str, Any] | None], dict[int, list[dict[str, Any]]]]:
    """Read once the gateway listens to a batch's topics: what was committed between its
    token lookup and its subscription, and so reached no one here (the new schools'
    revisions and alerts, ``current_state``), and the admitted screens' pending commands
    (read only here: anything committed later comes as an event)."""
    schools = list(schools)
    revs, alerts = current_state(schools) if schools else ({}, {})
    return revs, alerts, pending_commands(screen_ids, now)


def current_state(
    schools: Iterable[int],
) -> tuple[dict[int, int], dict[int, dict[str, Any] | None]]:
    """Revisions and top alerts of these schools (after subscribing to them)."""
    rows = School.objects.filter(pk__in=list(schools)).values_list(
        "pk", "organisation_id", "revision"
    )
    revs = {pk: rev for pk, _, rev in rows}
    return revs, top_alerts({pk: org for pk, org, _ in rows}, timezone.now())


def push_states(screen_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each screen may still use push; a deleted or revoked screen may not."""
    flags = PushSettings.current()
    rows = Screen.objects.filter(pk__in=list(screen_ids), token_hash__isnull=False).values_list(
        "pk", "school__push"
    )
    return {pk: push_enabled_for(pk, school_push, flags) for pk, school_push in rows}


@dataclass(slots=True)
class Writes:
    """What sockets reported since the last flush, written in one transaction."""

    heartbeats: dict[int, Heartbeat] = field(default_factory=dict)
    heartbeat_at: dict[int, dt.datetime] = field(default_factory=dict)
    delivered: set[int] = field(default_factory=set)
    acks: list[tuple[int, int]] = field(default_factory=list)  # (screen, command)
    alert_acks: list[tuple[int, int, str]] = field(default_factory=list)  # (screen, alert, state)
    disconnected: dict[int, dt.datetime] = field(default_factory=dict)
    #: Screens admitted since (their hello sent), and when: marked connected (push mode).
    connected: dict[int, dt.datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.heartbeats
            or self.delivered
            or self.acks
            or self.alert_acks
            or self.disconnected
            or self.connected
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row of a write batch the database refused: its kind (a metric label), what it
    was (for the log line) and the database's error."""

    kind: str
    what: str
    error: str


@dataclass(slots=True)
class Written:
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _command_info(c: Command, status: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "school": c.screen.school_id,
        "screen": c.screen_id,
        "id": c.pk,
        "status": status,
        "at": at.isoformat(),
        "user": c.created_by_id,
    }


def _screens_of(batch: Writes) -> set[int]:
    return {
        *batch.connected,
        *batch.heartbeats,
        *batch.disconnected,
        *(screen_id for screen_id, _ in batch.acks),
        *(screen_id for screen_id, _, _ in batch.alert_acks),
    }


def _lock(batch: Writes) -> None:
    lock_screens(_screens_of(batch))
    _lock_commands([*batch.delivered, *(command_id for _, command_id in batch.acks)])


def write(batch: Writes) -> Written:
    """Apply heartbeats, deliveries, acknowledgements and disconnects in one transaction;
    if the database refuses the batch for a row in it, again row by row (module docstring)."""

    def whole() -> Written:
        out = Written()
        with transaction.atomic():
            _lock(batch)
            now = timezone.now()
            if batch.connected:
                _mark_connected(batch.connected, batch.disconnected, now)
            if batch.heartbeats:
                _write_heartbeats(batch.heartbeats, batch.heartbeat_at)
            if batch.delivered:
                _mark_delivered(batch.delivered, now, out)
            for screen_id, command_id in batch.acks:
                _acknowledge(screen_id, command_id, now, out)
            for screen_id, alert_id, state in batch.alert_acks:
                _receipt(screen_id, alert_id, state)
            if batch.disconnected:
                _mark_polling(batch.disconnected)
        return out

    try:
        return retrying_deadlocks("write", whole)
    except Exception as exc:
        if classify(exc) != "row":
            raise
    return retrying_deadlocks("write", partial(_write_rows, batch))


def _write_rows(batch: Writes) -> Written:
    out = Written()
    now = timezone.now()
    rows: list[tuple[str, str, Callable[[], object]]] = []
    for screen_id, at in batch.connected.items():
        what = f"the connect of screen {screen_id}"
        rows.append(
            (
                "connect",
                what,
                partial(_mark_connected, {screen_id: at}, batch.disconnected, now),
            )
        )
    for screen_id, hb in batch.heartbeats.items():
        what = f"the heartbeat of screen {screen_id}"
        rows.append(
            ("heartbeat", what, partial(_write_heartbeats, {screen_id: hb}, batch.heartbeat_at))
        )
    for command_id in sorted(batch.delivered):
        what = f"the delivery of command {command_id}"
        rows.append(("delivered", what, partial(_mark_delivered, {command_id}, now, out)))
    for screen_id, command_id in batch.acks:
        what = f"screen {screen_id}'s ack of command {command_id}"
        rows.append(("ack", what, partial(_acknowledge, screen_id, command_id, now, out)))
    for screen_id, alert_id, state in batch.alert_acks:
        what = f"screen {screen_id}'s ack ({state}) of alert {alert_id}"
        rows.append(("alert_ack", what, partial(_receipt, screen_id, alert_id, state)))
    for screen_id, at in batch.disconnected.items():
        what = f"the disconnect of screen {screen_id}"
        rows.append(("disconnect", what, partial(_mark_polling, {screen_id: at})))
    with transaction.atomic():
        _lock(batch)
        for kind, what, apply in rows:
            try:
                with transaction.atomic():  # a savepoint: a refused row rolls back alone
                    apply()
            except Exception as exc:
                if classify(exc) != "row":
                    raise
                out.rejected.append(Rejected(kind, what, describe(exc)))
    return out


def _mark_delivered(command_ids: Iterable[int], now: dt.datetime, out: Written) -> None:
    pending = list(
        Command.objects.select_related("screen").filter(
            pk__in=list(command_ids), status=Command.Status.PENDING
        )
    )
    Command.objects.filter(pk__in=[c.pk for c in pending]).update(
        status=Command.Status.DELIVERED, delivered_at=now
    )
    out.delivered += [_command_info(c, "delivered", now) for c in pending]


def _acknowledge(screen_id: int, command_id: int, now: dt.datetime, out: Written) -> None:
    # Only a screen's own commands can be acknowledged by it.
    command = (
        Command.objects.select_related("screen")
        .filter(pk=command_id, screen_id=screen_id)
        .exclude(status=Command.Status.ACKNOWLEDGED)
        .first()
    )
    if command is None:
        return
    Command.objects.filter(pk=command.pk).update(
        status=Command.Status.ACKNOWLEDGED, acknowledged_at=now
    )
    out.acknowledged.append(_command_info(command, "acknowledged", now))


def _receipt(screen_id: int, alert_id: int, state: str) -> None:
    # Stored once per state; out of scope (another school's alert) is
    # logged, not fatal: a display bug must not cost its push channel.
    if record_receipt(screen_id, alert_id, state, "ws") is None:
        logger.info("screen %s acknowledged alert %s outside its scope", screen_id, alert_id)


def _mark_connected(
    connected: dict[int, dt.datetime], disconnected: dict[int, dt.datetime], now: dt.datetime
) -> None:
    """Screens admitted since the last batch: on push since ``now`` (a few statements
    whatever their number: a storm's thousands of connects must not hold the transaction
    open for a statement per screen, or one CASE per screen).

    Written before the batch's disconnects: a screen that disconnected again within
    the batch is marked polling here; one that disconnected and then connected again
    stays on push (the disconnect's bound is older than ``now``)."""
    left = [s for s, at in connected.items() if s in disconnected and disconnected[s] >= at]
    gone = set(left)
    stays = [s for s in connected if s not in gone]
    if stays:
        Screen.objects.filter(pk__in=stays).update(
            connection_mode=Screen.Mode.PUSH, last_heartbeat_at=now
        )
    if left:
        Screen.objects.filter(pk__in=left).update(
            connection_mode=Screen.Mode.POLL, last_heartbeat_at=min(connected[s] for s in left)
        )
    # A refusal is cleared by a connect after it, not by one before it written late (a
    # second device refused while the first one's mark waited for this batch). Few
    # screens have one: one query finds them, one UPDATE clears those.
    refused = Screen.objects.filter(
        pk__in=list(connected), push_refused_code__isnull=False
    ).values_list("pk", "push_refused_at")
    clear = [pk for pk, at in refused if at is None or at <= connected[pk]]
    if clear:
        Screen.objects.filter(pk__in=clear).update(push_refused_code=None, push_refused_at=None)


def _mark_polling(disconnected: dict[int, dt.datetime]) -> None:
    # Unless the screen has connected again since (here or on another
    # replica: its connect stamps a later heartbeat), it now hears of
    # changes by polling. The batch's earliest disconnect is the bound,
    # so a reconnect is never overwritten.
    Screen.objects.filter(
        pk__in=list(disconnected),
        connection_mode=Screen.Mode.PUSH,
        last_heartbeat_at__lte=min(disconnected.values()),
    ).update(connection_mode=Screen.Mode.POLL)


def _write_heartbeats(heartbeats: dict[int, Heartbeat], at: dict[int, dt.datetime]) -> None:
    with_rev: list[Screen] = []
    without_rev: list[Screen] = []
    for screen_id, hb in heartbeats.items():
        screen = Screen(
            pk=screen_id,
            last_heartbeat_at=at[screen_id],
            connection_mode=hb.mode or Screen.Mode.PUSH,
            client_info=hb.client_info,
            revision_shown=hb.rev,
        )
        (with_rev if hb.rev is not None else without_rev).append(screen)
    fields = ["last_heartbeat_at", "connection_mode", "client_info"]
    # One statement per few hundred screens (bulk_update), never a save():
    # heartbeats never bump the school's revision.
    Screen.objects.bulk_update(with_rev, [*fields, "revision_shown"], batch_size=500)
    Screen.objects.bulk_update(without_rev, fields, batch_size=500)
