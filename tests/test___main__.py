"""The ``hallboard`` command (hallboard.__main__): hyphenated names, and no traceback when the
database has not been migrated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallboard.__main__ import main
from hallboard.server import secretfiles
from tests.conftest import Tenant


def test_commands_before_migrate_say_run_migrate_first(tmp_path: Path) -> None:
    """seed-demo, createscreen, createapikey, serve (and Django's createsuperuser) on an
    empty database end with "run `hallboard migrate` first", not a traceback."""
    env = {**os.environ, "HALLBOARD_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # a fresh SQLite database in tmp_path
    for command in (
        ["seed-demo"],
        ["createscreen", "--school", "x", "--name", "y"],
        ["createapikey", "--org", "x", "--role", "admin", "--name", "k"],
        ["serve", "--port", "0"],
        ["createsuperuser", "--noinput", "--username", "a", "--email", "a@example.org"],
    ):
        result = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "hallboard", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1, (command, result.stderr)
        assert "run `hallboard migrate` first" in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)


def test_hyphens_in_the_command_name_stand_for_underscores(
    tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hallboard after-restore` runs the after_restore management command (its summary line;
    Django closes the test's database connection after a command run this way, so the
    revisions themselves are checked in its own tests)."""
    main(["hallboard", "after-restore", "--step", "5"])
    assert capsys.readouterr().out == "Moved the revision of 2 schools forward by 5.\n"


def test_init_secrets_runs_before_django_reads_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hallboard init-secrets DIR` is handed to hallboard.server.secretfiles, and its exit
    status is the command's."""
    called: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        called.append(argv)
        return 3

    monkeypatch.setattr(secretfiles, "main", fake_main)
    with pytest.raises(SystemExit) as exit_:
        main(["anything", "init-secrets", str(tmp_path)])
    assert exit_.value.code == 3
    assert called == [[str(tmp_path)]]
