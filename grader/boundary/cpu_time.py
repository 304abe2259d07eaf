"""How much CPU a worker has used, and whether the machine is too busy for wall-clock limits to be fair.

Time limits on a submission count the worker's own CPU time, so that neighbours on the machine
(other gradings, `-j` at the core count, an instructor's other work) cannot push an honest call over
its limit: a starved worker's CPU clock stands still while it waits for a core. Wall-clock time stays
as a generous backstop (`wall_backstop`), because a worker waiting on nothing (sleep, a blocked
read) uses no CPU and would otherwise never be stopped.

Where the worker has a cgroup, every process in it counts (v2: `cpu.stat` usage_usec; v1: the
processes the group lists); without one, the worker's process and its descendants. A process that
ended and was reaped counts through its parent's children's time (/proc/<pid>/stat cutime, cstime).

Trusted side only (the worker never imports it).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
WALL_FACTOR = 3.0        # the wall backstop: this many times the CPU limit ...
WALL_EXTRA_S = 30.0      # ... plus this much, for start-up, waiting on disk and the like
LOADED_SHARE = 0.5       # a call that got less than this share of a core while it computed was starved
IDLE_SHARE = 0.05        # ... and one below this was waiting on nothing (sleep): not starved


def wall_backstop(cpu_limit_s: float) -> float:
    """The wall-clock limit that ends a call whose CPU limit is `cpu_limit_s`, even if it never computes."""
    return WALL_FACTOR * cpu_limit_s + WALL_EXTRA_S


def _process_seconds(pid: int, *, with_children: bool = True) -> float:
    """utime + stime (+ the reaped children's cutime + cstime) of one process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # after the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based)
    used = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if with_children else 0)
    return used / TICKS


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [pid], {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier}
        found.extend(frontier)
    return found


def cpu_seconds(pid: int, cgroup_dirs: Iterable[Path] = ()) -> float:
    """CPU seconds used so far by the worker whose process is `pid` and whose cgroup is `cgroup_dirs`."""
    pids: list[int] | None = None
    for d in cgroup_dirs:
        stat = Path(d) / "cpu.stat"
        try:
            for line in stat.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            pass
        try:
            pids = [int(p) for p in (Path(d) / "cgroup.procs").read_text().split()]
            break
        except (OSError, ValueError):
            continue
    if pids is None:
        pids = _descendants(pid)
    return sum(_process_seconds(p) for p in pids)


def machine_loaded() -> bool:
    """More runnable work than cores (the 1-minute load average): wall-clock time is not the submission's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return os.getloadavg()[0] > cores


def starved(cpu_used_s: float, wall_s: float) -> bool:
    """A call that computed, but got well under a core: it waited for the machine, not on itself."""
    share = cpu_used_s / wall_s if wall_s > 0 else 1.0
    return IDLE_SHARE < share < LOADED_SHARE
