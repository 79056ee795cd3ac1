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


def test_slab_delta_counts_the_socket_caches_apart() -> None:
    """The growth between two slab readings: in all, per socket cache (only those that
    grew), and kmalloc-* apart; unreadable readings say so instead of a figure."""
    before = {"TCP": 1000, "filp": 100, "kmalloc-256": 50, "btrfs_inode": 10, "dentry": 5}
    after = {"TCP": 5000, "filp": 300, "kmalloc-256": 80, "btrfs_inode": 0, "dentry": 5}
    delta = procstat.slab_delta(before, after)
    assert delta == {
        "readable": True,
        "total_bytes": 4000 + 200 + 30 - 10,
        "socket_caches_bytes": 4200,
        "socket_caches": {"TCP": 4000, "filp": 200},
        "kmalloc_bytes": 30,
    }
    assert procstat.slab_delta(None, after) == {"readable": False}


def test_slab_reads_whole_slabs_of_each_cache() -> None:
    """Where /proc/slabinfo is readable (root), each cache's memory is its slabs times
    pages per slab: a page multiple, and the TCP cache is there."""
    readings = procstat.slab()
    if readings is None:
        assert not os.access("/proc/slabinfo", os.R_OK)
        return
    assert "TCP" in readings
    assert all(v % procstat.PAGE == 0 for v in readings.values())
