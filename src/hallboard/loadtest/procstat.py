"""What a server process costs, read from /proc: CPU time of all its threads, and RSS.

CPU comes from ``/proc/<pid>/task/*/schedstat`` (nanoseconds on the CPU per
thread, summed), which counts every thread (the gateway's database workers
too) with nanosecond resolution, unlike the tick-based ``stat`` fields. These
are the kernel's own figures for any process, so the load generator measures
hallboard and the seeds' stack the same way, without knowing their insides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class Sample:
    cpu_ns: int
    rss_bytes: int
    #: Of the CPU time, ticks in the kernel (system time): tick resolution only.
    system_ticks: int = 0
    user_ticks: int = 0


def cpu_ns(pid: int) -> int:
    """Nanoseconds all threads of ``pid`` have run (0 for threads that ended meanwhile)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return total


def user_system_ticks(pid: int) -> tuple[int, int]:
    """utime and stime of the whole process (all threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def rss_bytes(pid: int) -> int:
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * PAGE


def sample(pid: int) -> Sample | None:
    """The process's CPU and RSS now, or None when it does not exist (any more)."""
    try:
        user, system = user_system_ticks(pid)
        return Sample(cpu_ns(pid), rss_bytes(pid), system, user)
    except (FileNotFoundError, ProcessLookupError):
        return None


def sample_all(pids: list[int]) -> dict[int, Sample | None]:
    return {pid: sample(pid) for pid in pids}


def delta(
    before: dict[int, Sample | None], after: dict[int, Sample | None]
) -> dict[str, float | None]:
    """Summed over processes: CPU seconds used, the share of it in the kernel (from the
    tick counters: a rough figure over short intervals), and RSS change (bytes) between
    two samples.

    None when a process was missing at either end (it was restarted in between).
    """
    cpu = 0
    rss = 0
    system = user = 0
    for pid, b in before.items():
        a = after.get(pid)
        if a is None or b is None:
            return {"cpu_s": None, "system_share": None, "rss_delta_bytes": None, "rss_bytes": None}
        cpu += a.cpu_ns - b.cpu_ns
        rss += a.rss_bytes - b.rss_bytes
        system += a.system_ticks - b.system_ticks
        user += a.user_ticks - b.user_ticks
    total_rss = sum(a.rss_bytes for a in after.values() if a is not None)
    share = round(system / (system + user), 3) if system + user else None
    return {
        "cpu_s": cpu / 1e9,
        "system_share": share,
        "rss_delta_bytes": rss,
        "rss_bytes": total_rss,
    }


def cpu_jiffies() -> dict[str, tuple[int, int]]:
    """Per CPU of the machine: (busy, total) clock ticks since boot, from ``/proc/stat``.

    Busy is everything but idle and iowait; it includes the kernel's softirq
    work (loopback TCP is processed there), which no process's own times show.
    Empty where /proc/stat cannot be read.
    """
    out: dict[str, tuple[int, int]] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        ticks = [int(v) for v in rest.split()[:8]]
        total = sum(ticks)
        out[name[3:]] = (total - ticks[3] - ticks[4], total)
    return out


def cpu_busy(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, float]:
    """Share of the time each CPU was busy between two ``cpu_jiffies`` readings (0..1)."""
    out = {}
    for cpu, (busy_b, total_b) in before.items():
        if cpu not in after:
            continue
        busy_a, total_a = after[cpu]
        if total_a > total_b:
            out[cpu] = round((busy_a - busy_b) / (total_a - total_b), 3)
    return out


#: Slab caches a TCP socket end costs the kernel (Linux): the socket (TCP, or TCPv6),
#: its inode and dentry, the open file, its epoll entry and wait queue, and the
#: small allocations beside them (kmalloc-*: the socket's wait queue, filters...).
SOCKET_CACHES = (
    "TCP",
    "TCPv6",
    "sock_inode_cache",
    "dentry",
    "filp",
    "eventpoll_epi",
    "eventpoll_pwq",
    "request_sock_TCP",
    "tw_sock_TCP",
    "skbuff_head_cache",
)


def slab() -> dict[str, int] | None:
    """Bytes of memory per slab cache of the machine, from ``/proc/slabinfo``: its slabs times
    pages per slab (what the cache holds, partly filled slabs included); None where it
    cannot be read (it is root-only)."""
    try:
        lines = Path("/proc/slabinfo").read_text().splitlines()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in lines[2:]:
        fields = line.split()
        try:
            at = fields.index("slabdata")
            out[fields[0]] = int(fields[at + 2]) * int(fields[5]) * PAGE
        except (ValueError, IndexError):
            continue
    return out


def slab_delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, object]:
    """What the slab grew by between two readings: in all, in the socket caches (each),
    and in kmalloc-* (general allocations, part of them a socket's)."""
    if before is None or after is None:
        return {"readable": False}
    grew = {name: after.get(name, 0) - before.get(name, 0) for name in {*before, *after}}
    sockets = {name: grew.get(name, 0) for name in SOCKET_CACHES if grew.get(name, 0)}
    kmalloc = sum(v for name, v in grew.items() if name.startswith(("kmalloc-", "dma-kmalloc")))
    return {
        "readable": True,
        "total_bytes": sum(grew.values()),
        "socket_caches_bytes": sum(sockets.values()),
        "socket_caches": dict(sorted(sockets.items(), key=lambda kv: -kv[1])),
        "kmalloc_bytes": kmalloc,
    }
