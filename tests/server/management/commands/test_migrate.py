"""``hallboard migrate``: Django's migrate inside the migration lock, one process at a time
(the lock itself: tests/server/test_dbready.py and test_migration_lock.py)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import pytest
from django.core.management import call_command

from hallboard.server.management.commands import migrate


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The databases whose migration lock was taken, in order; the lock says it must wait."""
    calls: list[str] = []

    @contextlib.contextmanager
    def migration_lock(alias: str, waiting: Callable[[], None]) -> Iterator[None]:
        calls.append(alias)
        waiting()  # as when another process holds the lock
        yield
        calls.append("released")

    monkeypatch.setattr(migrate, "migration_lock", migration_lock)
    return calls


@pytest.mark.django_db
def test_migrate_runs_inside_the_lock_and_says_it_waits(taken: list[str]) -> None:
    """The lock of the database migrated is taken, Django's migrate runs, and a waiting
    process tells the operator why nothing happens yet."""
    out = io.StringIO()
    call_command("migrate", "--database", "default", stdout=out)
    assert taken == ["default", "released"]
    text = out.getvalue()
    assert text.startswith("Another process is migrating this database: waiting for it.\n")
    assert "No migrations to apply." in text


@pytest.mark.django_db
def test_verbosity_zero_waits_silently(taken: list[str]) -> None:
    """--verbosity 0 prints nothing, not even the wait."""
    out = io.StringIO()
    call_command("migrate", verbosity=0, stdout=out)
    assert taken == ["default", "released"]
    assert out.getvalue() == ""
