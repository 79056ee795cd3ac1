"""Revision is truth: every change a school's screens can see bumps its revision.

The rule (PRODUCT.md, principle 1): every create, update or delete of content a
school's screens show increments ``School.revision`` in the *same* database
transaction, with ``UPDATE ... SET revision = revision + 1`` (never
read-modify-write), and after the transaction commits, ``revisions_committed``
is sent once with every bumped school's new revision. The realtime layer connects
publishing to that signal; nothing here knows about push.

Content models get this by inheriting ``SchoolContent`` (``hallboard.schools.content``).
Code that changes many rows at once wraps the work in ``batch()`` so that each
school is bumped once, at the end, still inside the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from types import MappingProxyType

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.dispatch import Signal
from django.utils import timezone

logger = logging.getLogger(__name__)

#: Sent after the transaction that bumped schools' revisions has committed, once per
#: bump (an edit of every school of a district is one signal, not thousands).
#: Argument: ``revisions``, a mapping of school id to its revision after the bump, in
#: school id order.
revisions_committed = Signal()

_pending: ContextVar[set[int] | None] = ContextVar("hallboard_revision_batch", default=None)


def touch(school_ids: Iterable[int | None], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Record that content of these schools changed in the current transaction.

    Inside ``batch()`` the bump is deferred to the end of the batch; otherwise
    it happens now. Call it inside the transaction that made the change.
    """
    ids = {sid for sid in school_ids if sid is not None}
    if not ids:
        return
    pending = _pending.get()
    if pending is not None:
        pending.update(ids)
        return
    _bump(ids, using=using)


@contextmanager
def batch(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """One transaction in which each touched school is bumped exactly once, at the end."""
    if _pending.get() is not None:  # nested: the outer batch bumps
        yield
        return
    ids: set[int] = set()
    token = _pending.set(ids)
    try:
        with transaction.atomic(using=using):
            yield
            _pending.set(None)  # from here on, touch() bumps at once
            _bump(ids, using=using)
    finally:
        _pending.reset(token)


def advance(school_ids: Iterable[int], by: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Move these schools' revisions forward by ``by`` at once (``hallboard after-restore``).

    For a database restored from a backup: screens may show revisions made after
    the backup, which the restored schools would otherwise reach again with other
    content. Published after commit like any bump.
    """
    if by < 1:
        raise ValueError("by must be at least 1")
    with transaction.atomic(using=using):
        _bump(set(school_ids), using=using, by=by)


def _bump(school_ids: set[int], *, using: str, by: int = 1) -> None:
    from hallboard.schools.models import School

    connection = connections[using]
    table = connection.ops.quote_name(School._meta.db_table)
    sql = (
        f"UPDATE {table} SET revision = revision + %s, revision_changed_at = %s"  # noqa: S608 - table name is ours, quoted
        " WHERE id = %s RETURNING revision"
    )
    # When the current revision was made: a screen still showing an older one
    # after a grace period is reported stale (hallboard.screens.status).
    changed_at = timezone.now()
    revisions: dict[int, int] = {}
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        for school_id in sorted(school_ids):  # a fixed order avoids deadlocks between writers
            cursor.execute(sql, [by, changed_at, school_id])
            row = cursor.fetchone()
            if row is None:  # the school is being deleted with its content
                continue
            revisions[school_id] = int(row[0])
        if revisions:
            transaction.on_commit(partial(_committed, revisions), using=using, robust=True)


def _committed(revisions: dict[int, int]) -> None:
    # Robust: a receiver that fails is logged (django.dispatch) and the others still run.
    revisions_committed.send_robust(sender=None, revisions=MappingProxyType(revisions))
