"""`hallboard loadtest setup` at any size: chunks of schools, each committed on its own, the
tokens made outside every transaction, so no transaction nears the connection's statement and
idle-in-transaction bounds (which are for requests). Small sizes with a small chunk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.db import connection

from hallboard.loadtest import fleet as fleets
from hallboard.schools.models import Organisation, School
from hallboard.screens import tokens
from hallboard.screens.models import Screen

ORIGINAL = tokens.new_token


@pytest.mark.django_db(transaction=True)
def test_each_chunk_commits_on_its_own_with_its_tokens_made_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With chunks of 4 screens (2 schools of 2), 5 schools are three transactions: when
    each chunk's tokens are made no transaction is open and the chunks before it are
    committed; every screen still works."""
    seen: list[tuple[bool, int]] = []

    def new_token() -> tuple[str, str]:
        committed = School.objects.filter(organisation__slug="lt").count()
        seen.append((connection.in_atomic_block, committed))
        return ORIGINAL()

    monkeypatch.setattr(fleets.tokens, "new_token", new_token)
    fleet, _ = fleets.setup(5, 2, org="lt", path=tmp_path / "lt.json", chunk_screens=4)
    assert not any(in_transaction for in_transaction, _ in seen)
    assert [committed for _, committed in seen] == [0, 0, 0, 0, 2, 2, 2, 2, 4, 4]
    assert len(fleet.screens) == 10
    assert len(fleet.schools) == len(fleet.announcements) == 5
    for creds in fleet.screens:
        screen = Screen.objects.get(pk=creds.id)
        assert screen.token_hash == tokens.hash_token(creds.token)
        assert screen.device_key == creds.dk
        assert screen.school_id == creds.school


@pytest.mark.django_db(transaction=True)
def test_a_setup_failing_part_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk that fails after others were committed: the organisation, its schools and
    screens are deleted, and no secrets file is written."""
    made = 0

    def new_token() -> tuple[str, str]:
        nonlocal made
        made += 1
        if made == 5:  # the second chunk
            raise RuntimeError("the database went away")
        return ORIGINAL()

    monkeypatch.setattr(fleets.tokens, "new_token", new_token)
    path = tmp_path / "lt.json"
    with pytest.raises(RuntimeError):
        fleets.setup(5, 2, org="lt", path=path, chunk_screens=4)
    assert not Organisation.objects.filter(slug="lt").exists()
    assert not Screen.objects.filter(school__organisation__slug="lt").exists()
    assert not path.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_slow_token_making_outlasts_no_idle_transaction_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends a session idle in a transaction past its bound: with the bound at
    50 ms and making each chunk's tokens taking longer than that (a busy machine), setup
    still succeeds, because no transaction is open meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute("SET idle_in_transaction_session_timeout = '50ms'")
    chunk_started: list[int] = []

    def new_token() -> tuple[str, str]:
        chunk_started.append(1)
        if len(chunk_started) % 4 == 1:  # the first token of each chunk
            time.sleep(0.2)
        return ORIGINAL()

    monkeypatch.setattr(fleets.tokens, "new_token", new_token)
    fleet, _ = fleets.setup(4, 2, org="lt", path=tmp_path / "lt.json", chunk_screens=4)
    assert Screen.objects.filter(school__organisation__slug="lt").count() == len(fleet.screens)
    assert len(fleet.screens) == 8
