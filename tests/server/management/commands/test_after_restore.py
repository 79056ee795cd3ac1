"""`hallboard after-restore`: screens showing revisions newer than a restored backup refetch."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hallboard.schools.models import School
from hallboard.schools.revision import revisions_committed
from hallboard.server.management.commands.after_restore import STEP
from tests.conftest import Tenant, revision_of


@pytest.mark.django_db
def test_every_school_moves_past_what_screens_may_show(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    """Each school's revision moves forward by STEP, once, and is published like any change,
    so connected screens fetch the restored content."""
    before = {s.pk: revision_of(s) for s in School.objects.all()}
    published: list[tuple[int, int]] = []

    def record(revisions: dict[int, int], **_: Any) -> None:
        published.extend(revisions.items())

    revisions_committed.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            out = io.StringIO()
            call_command("after_restore", stdout=out)
    finally:
        revisions_committed.disconnect(record)
    after = {s.pk: revision_of(s) for s in School.objects.all()}
    assert after == {pk: rev + STEP for pk, rev in before.items()}
    assert sorted(published) == sorted(after.items())
    assert f"forward by {STEP:,}" in out.getvalue()


@pytest.mark.django_db
def test_the_step_must_move_forward(tenant: Tenant) -> None:
    """--step 0 or less is refused."""
    with pytest.raises(CommandError, match="at least 1"):
        call_command("after_restore", "--step", "0")
