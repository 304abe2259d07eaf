"""Per-worker cgroups: memory and pids capped where the machine lets the grader write a cgroup.

A worker is placed in its cgroup before its first instruction runs (the cold start's shell waits
for it; a forked worker waits for the zygote's "go"), so every process it starts is counted. Where
no cgroup is writable, the rlimits the boot code sets hold alone (`grader.boundary.inside.boot`).
"""
from __future__ import annotations

import glob
import os
import signal
import time
from pathlib import Path

from grader.core.spec import Limits


def cgroup_kind() -> str | None:
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists() and {"pids", "memory"} <= set(v2.read_text().split()) and os.access("/sys/fs/cgroup", os.W_OK):
        return "v2"
    if os.access("/sys/fs/cgroup/pids", os.W_OK) and os.access("/sys/fs/cgroup/memory", os.W_OK):
        return "v1"
    return None


def sweep_empty_cgroups() -> None:
    """Remove the cgroups of earlier runs that were killed before they could clean up. The kernel
    refuses to remove a cgroup that still has processes, so a running neighbour's stays."""
    for d in glob.glob("/sys/fs/cgroup/dlgrade-*") + glob.glob("/sys/fs/cgroup/*/dlgrade-*"):
        owner = next((part for part in os.path.basename(d).split("-")[1:] if part.isdigit()), None)
        if owner is not None and os.path.exists(f"/proc/{owner}"):
            continue  # a running grader's, perhaps made a moment ago and still empty
        try:
            os.rmdir(d)
        except OSError:
            pass


class Cgroup:
    """A per-worker cgroup capping memory and pids; a no-op where cgroups are not writable."""

    def __init__(self, kind: str | None, name: str, limits: Limits):
        self.dirs: list[Path] = []
        self.kind = kind
        try:
            if kind == "v2":
                d = Path("/sys/fs/cgroup") / name
                d.mkdir()
                (d / "memory.max").write_text(str(limits.memory_mb * 1024 * 1024))
                (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
                (d / "pids.max").write_text(str(limits.max_processes))
                self.dirs = [d]
            elif kind == "v1":
                pids, mem = Path("/sys/fs/cgroup/pids") / name, Path("/sys/fs/cgroup/memory") / name
                pids.mkdir()
                self.dirs.append(pids)
                (pids / "pids.max").write_text(str(limits.max_processes))
                mem.mkdir()
                self.dirs.append(mem)
                (mem / "memory.limit_in_bytes").write_text(str(limits.memory_mb * 1024 * 1024))
        except OSError:
            self.remove()
            self.kind = None

    @property
    def limits_memory(self) -> bool:
        return self.kind is not None

    def add(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control", "memory.failcnt"):
                f = d / name
                if f.exists():
                    text = f.read_text()
                    if name == "memory.failcnt" and text.strip() not in ("", "0"):
                        return True
                    for line in text.splitlines():
                        k, _, v = line.partition(" ")
                        if k in ("oom_kill", "oom") and v.strip() not in ("", "0"):
                            return True
        return False

    def kill_all(self) -> None:
        for d in self.dirs:
            if (d / "cgroup.kill").exists():
                try:
                    (d / "cgroup.kill").write_text("1")
                except OSError:
                    pass
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.01)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
        self.dirs = []
