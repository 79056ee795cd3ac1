"""`hallboard init-secrets`: the install's secrets, generated once, never a default."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from hallboard.server.secretfiles import FILES, init_secrets


def test_first_start_generates_every_secret_with_its_mode(tmp_path: Path) -> None:
    """Each file is made, random and long, readable only by whom it must be."""
    written = init_secrets(tmp_path / "secrets")
    assert sorted(written) == sorted(FILES)
    for name, (mode, _) in FILES.items():
        path = tmp_path / "secrets" / name
        assert stat.S_IMODE(path.stat().st_mode) == mode, name
        assert len(path.read_text().strip()) >= 24, name
    assert stat.S_IMODE((tmp_path / "secrets/secret_key").stat().st_mode) == 0o600


def test_the_password_file_repeats_the_database_password(tmp_path: Path) -> None:
    """pgpass gives libpq the password the database was created with, for any host."""
    init_secrets(tmp_path)
    password = (tmp_path / "postgres_password").read_text()
    assert (tmp_path / "pgpass").read_text() == f"*:*:*:*:{password}\n"


def test_existing_secrets_are_kept(tmp_path: Path) -> None:
    """A restart or an upgrade never rotates a secret: existing files stay as they are, and
    a lost pgpass is made again from the existing database password."""
    init_secrets(tmp_path)
    before = {name: (tmp_path / name).read_text() for name in FILES}
    (tmp_path / "pgpass").unlink()
    assert init_secrets(tmp_path) == ["pgpass"]
    assert {name: (tmp_path / name).read_text() for name in FILES} == before


def test_each_install_gets_its_own_secrets(tmp_path: Path) -> None:
    """Nothing is a fixed default: two installs share no secret."""
    init_secrets(tmp_path / "a")
    init_secrets(tmp_path / "b")
    for name in FILES:
        assert (tmp_path / "a" / name).read_text() != (tmp_path / "b" / name).read_text()


def test_the_command_runs_before_the_secrets_exist(tmp_path: Path) -> None:
    """`hallboard init-secrets` works with HALLBOARD_SECRET_KEY_FILE already pointing at the
    file it is about to make (the settings are not read), and says what it did."""
    secrets_dir = tmp_path / "secrets"
    env = {**os.environ, "HALLBOARD_SECRET_KEY_FILE": str(secrets_dir / "secret_key")}
    command = [sys.executable, "-m", "hallboard", "init-secrets", str(secrets_dir)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert first.stdout.startswith(f"Generated in {secrets_dir}:")
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert "Generated" not in second.stdout
    assert second.stdout.startswith("Kept (already there):")
