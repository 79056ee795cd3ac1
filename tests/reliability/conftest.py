"""One small hallboard of the tests' own for the reliability tools: a `hallboard serve` process
on SQLite in a temporary directory, with a throwaway Redis when a redis-server binary exists
(the in-process broker otherwise), started once for tests/reliability/ and stopped by PID."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reliability import faults, fuzz, soak  # noqa: E402 - the repository's reliability/
from reliability.stack import Stack, redis_binary  # noqa: E402


@pytest.fixture(scope="session")
def small_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One replica, two schools of four screens (plus the fault run's spare ones)."""
    stack = Stack(
        replicas=1,
        redis=redis_binary() is not None,
        schools=2,
        screens_per_school=4 + faults.SPARE_PER_SCHOOL,
        env_extra={**faults.RUN_ENV, **soak.RUN_ENV, **fuzz.RUN_ENV},
        work_dir=tmp_path_factory.mktemp("reliability"),
    )
    with stack:
        yield stack
