"""Metrics across several worker processes (prometheus_client's multiprocess mode).

``hallboard serve --role web --workers N`` starts N uvicorn workers; a scrape
reaches one of them, and must see the sum over all. prometheus_client does
that when ``PROMETHEUS_MULTIPROC_DIR`` names a directory *before* it is
imported in the workers: each process then keeps its values in memory-mapped
files there, and a scrape merges the files.

``directory()`` gives the workers that directory:

- ``PROMETHEUS_MULTIPROC_DIR`` unset (the usual case): a fresh temporary
  directory, removed when the server stops;
- set by the operator: that directory, emptied of other processes' files at
  start (files left by an earlier run would be added to this run's counters).

Live gauges (``livesum``, ``livemin``) must forget a worker that died (uvicorn
replaces it): every scrape first drops the live-gauge files of processes that
no longer exist (``mark_process_dead``). Counters and histograms keep a dead
worker's counts, as they should.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import multiprocess as prom_multiprocess

logger = logging.getLogger("hallboard.observability")

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID = re.compile(r"_(\d+)\.db$")


def path() -> Path | None:
    """The multiprocess directory this process writes to, if any."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def _pid_of(file: Path) -> int | None:
    match = _PID.search(file.name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clear_others(directory: Path) -> int:
    """Remove the metric files of every process but this one; how many were removed."""
    removed = 0
    for file in directory.glob("*.db"):
        if _pid_of(file) != os.getpid():
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def forget_dead(directory: Path) -> None:
    """Drop the live-gauge files of processes that exited."""
    for file in directory.glob("gauge_live*.db"):
        pid = _pid_of(file)
        if pid is not None and not _alive(pid):
            prom_multiprocess.mark_process_dead(pid, str(directory))


@contextlib.contextmanager
def directory() -> Iterator[Path]:
    """A clean multiprocess directory for the workers started inside the block.

    Sets ``PROMETHEUS_MULTIPROC_DIR`` for them (they inherit the environment).
    """
    given = os.environ.get(ENV)
    if given:
        chosen = Path(given)
        chosen.mkdir(parents=True, exist_ok=True)
        removed = clear_others(chosen)
        logger.info(
            "metrics of the workers are merged in %s (%d old files removed)", chosen, removed
        )
    else:
        chosen = Path(tempfile.mkdtemp(prefix="hallboard-metrics-"))
        os.environ[ENV] = str(chosen)
        logger.info("metrics of the workers are merged in %s", chosen)
    try:
        yield chosen
    finally:
        if not given:
            os.environ.pop(ENV, None)
            shutil.rmtree(chosen, ignore_errors=True)


def prepare() -> None:
    """At the start of a single serving process: drop an earlier run's files, if any."""
    directory = path()
    if directory is not None and directory.is_dir():
        clear_others(directory)


def pids() -> set[int]:
    """The processes whose figures ``registry()`` merges: every process with a file in this
    process's multiprocess directory (this one included); none without a directory."""
    directory = path()
    if directory is None or not directory.is_dir():
        return set()
    return {pid for file in directory.glob("*.db") if (pid := _pid_of(file)) is not None}


def own_registry() -> CollectorRegistry:
    """This process's own metrics, never its siblings': in multiprocess mode the default
    registry reads this process's values only (``registry()`` merges every process's)."""
    return REGISTRY


def registry() -> CollectorRegistry:
    """What to read this server's metrics from: every process's, or this process's."""
    directory = path()
    if directory is None:
        return REGISTRY
    forget_dead(directory)
    merged = CollectorRegistry(auto_describe=False)
    prom_multiprocess.MultiProcessCollector(merged, path=str(directory))
    return merged
