"""The canary check: before the first submission, a worker on the command's rung must fail to reach
anything of the grader's.

The grader plants a canary file (world-readable on purpose: only the folder around it may keep it
from a worker) in each place a grading command touches: the toolkit's checkout, its `.git`, the
assignment and reference folders, the inputs, the output folder, a run folder made as the runner
makes them, and another worker's copy. A worker started exactly as a submission's would be
(`grader.boundary.client.WorkerSession`, same rung, same limits) loads `canary_probe.py` and tries to
read each of them, to find them by listing the folders they sit in, to read any path below the
grader's folders named on a command line it can see, and to signal and to trace the grader's processes. Anything it reached is a leak: the rung
is not used, and the message names the path.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.boundary.client import WorkerSession
from grader.boundary.mount_view import BOUNDARY_DIR
from grader.boundary.rungs import Isolation
from grader.boundary.sandbox import worker_scratch
from grader.boundary.uid_slots import UidSlot, own_workspace
from grader.core.errors import ToolkitError
from grader.core.spec import Limits

PROBE_FILE = "canary_probe.py"


@dataclass(frozen=True)
class CanaryReport:
    """What the canary worker reached on one rung."""
    level: str
    planted: dict = field(default_factory=dict)       # place -> the canary file's path there
    readable: tuple = ()                              # paths the worker could read or list
    signalled: tuple = ()                             # grader pids it could signal
    traced: tuple = ()                                # grader pids it could trace
    other_command_lines: int = 0                      # other users' command lines it could read

    @property
    def leaks(self) -> list[str]:
        """One line per thing the worker reached, naming it."""
        by_path = {**{str(p.parent): place for place, p in self.planted.items()},
                   **{str(p): place for place, p in self.planted.items()}}
        lines = [f"{path} ({by_path[path]})" if path in by_path else path for path in self.readable]
        lines += [f"the grader's process {pid} could be signalled" for pid in self.signalled]
        lines += [f"the grader's process {pid} could be traced" for pid in self.traced]
        return lines


def _grader_pids() -> list[int]:
    """This process and its children that run as its user (zygotes, trusted test processes; not the
    canary worker itself, which is a child of this process on the rungs without a launcher)."""
    me, pids = os.getpid(), [os.getpid()]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                owner = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me and owner == os.getuid():
                pids.append(int(entry))
    return pids


@contextlib.contextmanager
def _planted(places: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """A canary file in each existing folder of `places`, removed afterwards."""
    token = secrets.token_hex(8)
    planted = {}
    try:
        for place, folder in places.items():
            if folder is not None and Path(folder).is_dir():
                canary = Path(folder) / f".dlgrade-canary-{token}"
                try:
                    canary.write_text("canary\n")
                    canary.chmod(0o644)
                except OSError:  # not this user's to write (a normal user's grader, a root-owned checkout)
                    continue
                planted[place] = canary
        yield planted
    finally:
        for canary in planted.values():
            with contextlib.suppress(OSError):
                canary.unlink()


@contextlib.contextmanager
def _another_workers_copy(iso: Isolation, scratch: Path) -> Iterator[Path]:
    """A folder prepared as another worker's copy is (on rung c: owned by another worker uid, 0700)."""
    copy = scratch / "other-worker"
    copy.mkdir()
    slot = UidSlot() if iso.level == "uid" else None
    try:
        if slot is not None:
            own_workspace(copy, slot.uid)
        yield copy
    finally:
        if slot is not None:
            slot.release()


def probe_canaries(iso: Isolation, limits: Limits, places: dict[str, Path | None], *,
                   files: list[Path] = (), closed: list[Path] = ()) -> CanaryReport:
    """Plant canaries in `places` (name -> folder), start a worker on `iso` and report what it reached:
    the canaries (read, or seen in a listing), the `files` themselves (inputs that are files), and
    paths below `closed` named on command lines."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as run, worker_scratch() as scratch, \
            _another_workers_copy(iso, scratch) as other:
        places = {**places, "a run folder": Path(run), "another worker's copy": other}
        with _planted(places) as planted:
            pristine = Path(run) / "probe"
            pristine.mkdir()
            shutil.copyfile(BOUNDARY_DIR / PROBE_FILE, pristine / PROBE_FILE)
            readable = [str(p) for p in [*planted.values(), *files]]
            listable = [[str(p.parent), p.name] for p in planted.values()]
            session = WorkerSession(pristine, limits, module_file=PROBE_FILE, isolation=iso, scratch=scratch / "w")
            with session:
                session.ensure_started()
                answer = session.module.probe(readable, listable, [str(c) for c in closed], _grader_pids())
    if not isinstance(answer, dict):
        raise ToolkitError(f"the canary worker gave no report on rung {iso.level!r} ({str(answer)[:200]})")
    return CanaryReport(iso.level, planted=planted, readable=tuple(answer.get("readable") or ()),
                        signalled=tuple(answer.get("signalled") or ()), traced=tuple(answer.get("traced") or ()),
                        other_command_lines=int(answer.get("other_command_lines") or 0))


def require_no_leak(report: CanaryReport) -> None:
    """Refuse the rung when the canary worker reached anything; the message names what."""
    leaks = report.leaks
    if leaks:
        raise ToolkitError(f"the sandbox rung {report.level!r} is not used: a worker could reach "
                           + "; ".join(leaks[:8]) + (f" and {len(leaks) - 8} more" if len(leaks) > 8 else "")
                           + ". Close these to other users (chmod o-rwx) or install bubblewrap.")
