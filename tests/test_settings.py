"""Settings from files: NAME_FILE=/path reads NAME from that file (container, systemd secrets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHOW = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'hallboard.settings'; "
    "from django.conf import settings; print(repr(settings.SECRET_KEY)); "
    "print(repr(settings.METRICS_TOKEN))"
)


def _settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - a fixed snippet
        [sys.executable, "-c", SHOW],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_secret_is_read_from_its_file_without_the_line_break(tmp_path: Path) -> None:
    """The file's content is the value; a trailing newline (echo, an editor) is not part of
    it; the _FILE variable wins over the plain one."""
    (tmp_path / "key").write_text("from-the-file\n")
    (tmp_path / "token").write_text("token-from-file")
    result = _settings(
        {
            "HALLBOARD_SECRET_KEY_FILE": str(tmp_path / "key"),
            "HALLBOARD_SECRET_KEY": "from-the-environment",
            "METRICS_TOKEN_FILE": str(tmp_path / "token"),
        }
    )
    assert result.stdout.splitlines() == ["'from-the-file'", "'token-from-file'"], result.stderr


def test_a_missing_secret_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A _FILE variable naming a missing file stops every command with one line naming it."""
    missing = tmp_path / "nope"
    result = subprocess.run(
        [sys.executable, "-m", "hallboard", "check"],
        env={**os.environ, "HALLBOARD_SECRET_KEY_FILE": str(missing)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"hallboard: configuration error: HALLBOARD_SECRET_KEY_FILE={missing}: "
        "No such file or directory"
    )
