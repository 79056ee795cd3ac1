"""``hallboard watch``: --once checks every enabled source now and fails when one fails
(the watching itself: tests/imports/test_watch.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.imports.models import WatchedSource
from tests.conftest import Tenant


def watch(*args: str) -> str:
    out = io.StringIO()
    call_command("watch", *args, stdout=out)
    return out.getvalue()


def test_school_without_once_is_refused(db: None) -> None:
    """--school only narrows a --once run; on its own it is an error."""
    with pytest.raises(CommandError, match="--school needs --once"):
        watch("--school", "alpha")


def test_once_with_no_sources_prints_an_empty_table(db: None) -> None:
    """Nothing to check: the table's title and columns, and success."""
    text = watch("--once")
    assert "Watched sources" in text
    assert "School" in text
    assert "Reason" in text


def test_once_reports_a_failing_source_and_fails(tenant: Tenant) -> None:
    """A source that cannot be read is checked now although not due, its row says "failed",
    and the command ends with an error counting it; a disabled source is not checked."""
    WatchedSource.objects.create(
        school=tenant.school, kind="folder", location="/nowhere/at/all", next_check_at=None
    )
    WatchedSource.objects.create(
        school=tenant.other_school, kind="folder", location="/nowhere/else", enabled=False
    )
    with pytest.raises(CommandError, match=r"^1 source\(s\) failing$"):
        watch("--once")
    source = WatchedSource.objects.get(school=tenant.school)
    assert source.last_checked_at is not None
    assert source.failing_since is not None
    assert WatchedSource.objects.get(school=tenant.other_school).last_checked_at is None
