"""What the gateway asks the database, run in worker threads (never on the event loop).

Each function is plain synchronous Django code; ``run_db`` runs it in the
gateway's thread pool and closes connections that went stale, like Channels'
``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from django.db import close_old_connections, connections
from django.utils import timezone

from hallboard.display.auth import DEVICE_KEY
from hallboard.display.flags import push_enabled, push_enabled_for
from hallboard.realtime.core.close_codes import CloseCode
from hallboard.realtime.core.messages import Heartbeat
from hallboard.schools.models import School
from hallboard.screens.binding import Binding, bind_device
from hallboard.screens.models import Command, PushSettings, Screen
from hallboard.screens.tokens import hash_token

P = ParamSpec("P")
T = TypeVar("T")

#: Pending commands younger than this are delivered when a screen connects.
COMMAND_TTL = dt.timedelta(minutes=10)


def _fresh_connection(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # Give the connection back after every operation: with PostgreSQL it returns
    # to the pool (DATABASE_POOL); a worker thread never holds one while idle.
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


async def run_db(executor: ThreadPoolExecutor, func: Callable[P, T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, _fresh_connection, func, *args)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Accepted:
    screen_id: int
    school_id: int
    rev: int


def authenticate(token: str, device_key: str) -> Accepted | CloseCode:
    """The screen a socket may serve, or the close code to refuse it with."""
    if not token or not device_key:
        return CloseCode.MISSING_PARAMETERS
    if not DEVICE_KEY.fullmatch(device_key) or len(token) > 256:
        return CloseCode.POLICY_VIOLATION
    screen = (
        Screen.objects.select_related("school")
        .only(
            "id",
            "device_key",
            "allow_multi_device",
            "school__id",
            "school__revision",
            "school__push",
        )
        .filter(token_hash=hash_token(token))
        .first()
    )
    if screen is None:
        return CloseCode.INVALID_TOKEN
    if bind_device(screen, device_key) is Binding.REFUSED:
        return CloseCode.SCREEN_BOUND
    if not push_enabled(screen):
        return CloseCode.PUSH_DISABLED
    return Accepted(screen.pk, screen.school_id, screen.school.revision)


def revisions(school_ids: Iterable[int]) -> dict[int, int]:
    return dict(School.objects.filter(pk__in=list(school_ids)).values_list("pk", "revision"))


def revision(school_id: int) -> int:
    return revisions([school_id]).get(school_id, 0)


def push_states(screen_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each screen may still use push; a deleted or revoked screen may not."""
    flags = PushSettings.current()
    rows = Screen.objects.filter(pk__in=list(screen_ids), token_hash__isnull=False).values_list(
        "pk", "school__push"
    )
    return {pk: push_enabled_for(pk, school_push, flags) for pk, school_push in rows}


def record_heartbeat(screen_id: int, heartbeat: Heartbeat) -> None:
    fields: dict[str, Any] = {
        "last_heartbeat_at": timezone.now(),
        "connection_mode": heartbeat.mode or Screen.Mode.PUSH,
        "client_info": {"uptime_s": heartbeat.uptime_s, "health": heartbeat.health},
    }
    if heartbeat.rev is not None:
        fields["revision_shown"] = heartbeat.rev
    Screen.objects.filter(pk=screen_id).update(**fields)


def mark_connected(screen_id: int) -> None:
    Screen.objects.filter(pk=screen_id).update(
        connection_mode=Screen.Mode.PUSH, last_heartbeat_at=timezone.now()
    )


def pending_commands(screen_id: int) -> list[dict[str, Any]]:
    since = timezone.now() - COMMAND_TTL
    return [
        {"id": c.pk, "name": c.name, "payload": c.payload}
        for c in Command.objects.filter(
            screen_id=screen_id, status=Command.Status.PENDING, created_at__gte=since
        ).order_by("created_at")
    ]


def mark_delivered(command_ids: list[int]) -> None:
    Command.objects.filter(pk__in=command_ids, status=Command.Status.PENDING).update(
        status=Command.Status.DELIVERED, delivered_at=timezone.now()
    )


def acknowledge(screen_id: int, command_id: int) -> bool:
    """Record the screen's acknowledgement; only its own commands can be acknowledged."""
    return bool(
        Command.objects.filter(pk=command_id, screen_id=screen_id)
        .exclude(status=Command.Status.ACKNOWLEDGED)
        .update(status=Command.Status.ACKNOWLEDGED, acknowledged_at=timezone.now())
    )
