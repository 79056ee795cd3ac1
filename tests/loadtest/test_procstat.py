"""The machine-wide CPU figures the load generator reports beside the server's own."""

from __future__ import annotations

import os

from hallboard.loadtest import procstat


def test_cpu_busy_is_the_busy_share_of_each_cpu_between_two_readings() -> None:
    """Busy ticks over all ticks per CPU; a CPU missing or without time passing is left out."""
    before = {"0": (100, 1000), "1": (500, 1000), "2": (0, 10)}
    after = {"0": (150, 1100), "1": (590, 1100), "3": (5, 5)}
    assert procstat.cpu_busy(before, after) == {"0": 0.5, "1": 0.9}
    assert procstat.cpu_busy(before, before) == {}


def test_cpu_jiffies_reads_every_cpu_of_this_machine() -> None:
    """/proc/stat gives each CPU's busy and total ticks, busy never above total."""
    readings = procstat.cpu_jiffies()
    assert len(readings) == os.cpu_count()
    assert all(0 <= busy <= total for busy, total in readings.values())
