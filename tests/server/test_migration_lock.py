"""The migration lock: replicas starting together migrate once, and wait as long as it takes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from hallboard.server import dbready


def test_sqlite_replicas_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the lock is a file lock beside the database: a second holder waits."""
    name = str(tmp_path / "db.sqlite3")
    fake: Any = type("C", (), {"vendor": "sqlite", "settings_dict": {"NAME": name}})()
    monkeypatch.setitem(connections._connections.__dict__, "lockdb", fake)  # type: ignore[attr-defined]
    order: list[str] = []
    inside = threading.Event()
    leave = threading.Event()

    def first() -> None:
        with dbready.migration_lock("lockdb"):
            order.append("first in")
            inside.set()
            leave.wait(5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    threading.Timer(0.2, leave.set).start()
    with dbready.migration_lock("lockdb", waiting=lambda: order.append("second waits")):
        order.append("second in")
    thread.join()
    assert order == ["first in", "second waits", "first out", "second in"]
