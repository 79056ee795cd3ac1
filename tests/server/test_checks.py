"""`hallboard check --deploy`: the development secret key is reported, a real one is not."""

from __future__ import annotations

from typing import Any

from hallboard.server import checks


def test_the_development_key_is_a_deploy_warning(settings: Any) -> None:
    """Running on the public development key is warning hallboard.W001, with a hint."""
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    [warning] = checks.secret_key_is_set(None)
    assert warning.id == "hallboard.W001"
    assert "HALLBOARD_SECRET_KEY" in warning.hint


def test_a_real_key_passes(settings: Any) -> None:
    """Any other key: nothing to report."""
    settings.SECRET_KEY = "x" * 50 + "-a-key-of-this-install"
    assert checks.secret_key_is_set(None) == []
