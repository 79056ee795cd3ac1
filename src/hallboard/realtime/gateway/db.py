"""What the gateway asks the database, in batches, run in worker threads (never on the loop).

Each function is plain synchronous Django code working on MANY sockets at once:
a reconnect storm of ten thousand screens becomes a few hundred queries, not
tens of thousands (one query looks up a whole batch of tokens; one UPDATE marks
a whole batch connected). ``run_db`` runs a function in the gateway's thread
pool and gives the connection back afterwards (to the pool on PostgreSQL),
like Channels' ``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from django.db import transaction
from django.utils import timezone

from hallboard.alerts.delivery import record_receipt, top_alerts
from hallboard.dbconn import give_back
from hallboard.display.auth import DEVICE_KEY
from hallboard.display.flags import push_enabled_for
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import Heartbeat
from hallboard.schools.models import School
from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Command, PushSettings, Screen
from hallboard.screens.tokens import hash_token

logger = logging.getLogger("hallboard.realtime.gateway")

P = ParamSpec("P")
T = TypeVar("T")

#: Pending commands younger than this are delivered when a screen connects.
COMMAND_TTL = dt.timedelta(minutes=10)
#: Close codes worth recording on the screen for the dashboard (its own fault or setting).
RECORDED_REFUSALS = frozenset({CloseCode.SCREEN_BOUND, CloseCode.PUSH_DISABLED})


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
    commands: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refused:
    code: CloseCode
    screen_id: int | None = None
    school_id: int | None = None


def _valid(token: str, device_key: str) -> bool:
    return bool(token) and len(token) <= 256 and DEVICE_KEY.fullmatch(device_key) is not None


def authenticate_many(requests: list[tuple[str, str]]) -> list[Accepted | Refused]:
    """For each (token, device key): the screen it may serve, or why not.

    One query for the tokens, binding for unbound screens, one UPDATE marking
    the accepted screens connected, one recording refusals, one for alerts and
    one for pending commands.
    """
    with transaction.atomic():  # one commit for the whole batch (bindings, marks)
        return _authenticate_many(requests)


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
    results: list[Accepted | Refused] = []
    refused: dict[CloseCode, list[int]] = defaultdict(list)
    accepted: list[_Row] = []
    for (_, device_key), digest in zip(requests, hashes, strict=True):
        if digest is None:
            results.append(Refused(CloseCode.POLICY_VIOLATION))
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
    ids = [r.screen_id for r in accepted]
    Screen.objects.filter(pk__in=ids).update(
        connection_mode=Screen.Mode.PUSH,
        last_heartbeat_at=now,
        push_refused_code=None,
        push_refused_at=None,
    )
    alerts = top_alerts({r.school_id: r.organisation_id for r in accepted}, now)
    commands = pending_commands(ids, now)
    return [
        Accepted(r.screen_id, r.school_id, r.rev, alerts.get(r.school_id), commands[r.screen_id])
        if isinstance(r, Accepted)
        else r
        for r in results
    ]


def pending_commands(screen_ids: list[int], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in Command.objects.filter(
        screen_id__in=screen_ids, status=Command.Status.PENDING, created_at__gte=now - COMMAND_TTL
    ).order_by("created_at"):
        found[c.screen_id].append({"id": c.pk, "name": c.name, "payload": c.payload})
    return found


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

    def __bool__(self) -> bool:
        return bool(
            self.heartbeats or self.delivered or self.acks or self.alert_acks or self.disconnected
        )


@dataclass(slots=True)
class Written:
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)


def _command_info(c: Command, status: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "school": c.screen.school_id,
        "screen": c.screen_id,
        "id": c.pk,
        "status": status,
        "at": at.isoformat(),
        "user": c.created_by_id,
    }


def write(batch: Writes) -> Written:
    """Apply heartbeats, deliveries, acknowledgements and disconnects in one transaction."""
    out = Written()
    now = timezone.now()
    with transaction.atomic():
        if batch.heartbeats:
            _write_heartbeats(batch)
        if batch.delivered:
            pending = list(
                Command.objects.select_related("screen").filter(
                    pk__in=batch.delivered, status=Command.Status.PENDING
                )
            )
            Command.objects.filter(pk__in=[c.pk for c in pending]).update(
                status=Command.Status.DELIVERED, delivered_at=now
            )
            out.delivered = [_command_info(c, "delivered", now) for c in pending]
        for screen_id, command_id in batch.acks:
            # Only a screen's own commands can be acknowledged by it.
            command = (
                Command.objects.select_related("screen")
                .filter(pk=command_id, screen_id=screen_id)
                .exclude(status=Command.Status.ACKNOWLEDGED)
                .first()
            )
            if command is None:
                continue
            Command.objects.filter(pk=command.pk).update(
                status=Command.Status.ACKNOWLEDGED, acknowledged_at=now
            )
            out.acknowledged.append(_command_info(command, "acknowledged", now))
        for screen_id, alert_id, state in batch.alert_acks:
            # Stored once per state; out of scope (another school's alert) is
            # logged, not fatal: a display bug must not cost its push channel.
            if record_receipt(screen_id, alert_id, state, "ws") is None:
                logger.info(
                    "screen %s acknowledged alert %s outside its scope", screen_id, alert_id
                )
        if batch.disconnected:
            # Unless the screen has connected again since (here or on another
            # replica: its connect stamps a later heartbeat), it now hears of
            # changes by polling. The batch's earliest disconnect is the bound,
            # so a reconnect is never overwritten.
            Screen.objects.filter(
                pk__in=list(batch.disconnected),
                connection_mode=Screen.Mode.PUSH,
                last_heartbeat_at__lte=min(batch.disconnected.values()),
            ).update(connection_mode=Screen.Mode.POLL)
    return out


def _write_heartbeats(batch: Writes) -> None:
    with_rev: list[Screen] = []
    without_rev: list[Screen] = []
    for screen_id, hb in batch.heartbeats.items():
        screen = Screen(
            pk=screen_id,
            last_heartbeat_at=batch.heartbeat_at[screen_id],
            connection_mode=hb.mode or Screen.Mode.PUSH,
            client_info={"uptime_s": hb.uptime_s, "health": hb.health},
            revision_shown=hb.rev,
        )
        (with_rev if hb.rev is not None else without_rev).append(screen)
    fields = ["last_heartbeat_at", "connection_mode", "client_info"]
    # One statement per few hundred screens (bulk_update), never a save():
    # heartbeats never bump the school's revision.
    Screen.objects.bulk_update(with_rev, [*fields, "revision_shown"], batch_size=500)
    Screen.objects.bulk_update(without_rev, fields, batch_size=500)
