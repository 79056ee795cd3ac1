"""docs/configuration.md stays true: it documents every variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_is_documented() -> None:
    """Each env.<type>("NAME") in settings.py has a row in docs/configuration.md, and back."""
    settings = (ROOT / "src/hallboard/settings.py").read_text()
    read = set(re.findall(r'env\.[a-z_]+\(\s*"([A-Z][A-Z0-9_]+)"', settings))
    assert read, "no environment variables found: the pattern no longer matches settings.py"
    documented = set(
        re.findall(
            r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "docs/configuration.md").read_text(), re.M
        )
    )
    assert read - documented == set(), "read by settings.py but not documented"
    assert documented - read == set(), "documented but not read by settings.py"
