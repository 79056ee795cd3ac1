"""Helpers for the import tests: the hand-written fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.display.conftest import freeze, generous_rate_limit  # noqa: F401 - shared fixtures

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
