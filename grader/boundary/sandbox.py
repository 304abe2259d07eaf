"""The sandbox as a command sees it: the rung probed once, the worker zygote checked once per rung,
the grader's folders closed on rung (c), the workers' scratch folder.

The best rung this machine allows (`grader.boundary.rungs`: the ladder, one object per rung) is
probed once per command (`grade`, `check`, `validate`), recorded in every result, and passed down
to every worker: a batch never mixes levels and never re-probes. Workers are started by
`grader.boundary.launch` (cold, or forked by the worker zygote) and boot with
`grader.boundary.inside.boot`; their filesystem is a `grader.boundary.mount_view.MountView`.

Every rung: a scrubbed environment, rlimits (CPU time, file size, open files, processes, address
space when no cgroup caps memory) set by the worker's boot before the submission is read, a cgroup
for memory and pids where the machine allows one (`grader.boundary.cgroups`), a new session killed
as a group (plus the cgroup, plus the worker's uid on rung c and for a root grader:
`grader.boundary.uid_slots`), output and message sizes capped by `grader.boundary.client`.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from grader.boundary.cgroups import cgroup_kind, sweep_empty_cgroups
from grader.boundary.launch import WORKER_ZYGOTE_ENV, start_worker, worker_environment
from grader.boundary.mount_view import ENGINE_DIR
from grader.boundary.rungs import LEVEL_TEXT, LEVELS, RUNGS, STRICT_LEVELS, Isolation, worker_uid_needed
from grader.boundary.uid_slots import UidSlot, own_workspace
from grader.core.errors import ToolkitError
from grader.core.spec import Limits

# what the trusted rooms use of the sandbox (reports: the rung's wording; commands, the plugin and the
# runner: the rung, the worker zygote's address for their workers)
__all__ = ["DEFAULT_SANDBOX", "LEVEL_TEXT", "SANDBOX_MODES", "STRICT_LEVELS", "WORKER_ZYGOTE_ENV", "Isolation",
           "hide_from_workers", "probe_isolation", "require_isolation", "worker_scratch", "worker_zygote",
           "zygote_environment"]

SANDBOX_MODES = ("auto", "strict", "off")
DEFAULT_SANDBOX = "auto"  # the best rung this machine allows


def _probe_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="dlgrade-probe-"))
    d.chmod(0o755)
    return d


def _remove_probe_dir(d: Path) -> None:
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(str(d) + ".root", ignore_errors=True)   # a namespace rung's view was built there


@functools.cache
def probe_isolation() -> Isolation:
    """The best rung this machine allows, each tried for real (starting the interpreter inside it)."""
    unreachable = []
    cgroup = cgroup_kind()
    probe = _probe_dir()
    # a root grader's worker runs as a uid of its own on rungs (a) and (b) too: probed that way
    slot = UidSlot() if worker_uid_needed("bwrap") else None
    if slot is not None:
        own_workspace(probe, slot.uid)  # held: no other grader kills or reuses it meanwhile
    try:
        for level in LEVELS[:-1]:
            why = RUNGS[level].why_not(probe, slot)
            if why is None:
                return RUNGS[level].isolation(tuple(unreachable), cgroup)
            unreachable.append(why)
        return RUNGS["none"].isolation(tuple(unreachable), cgroup)   # rung (d): no sandbox at all
    finally:
        if slot is not None:
            slot.release()
        _remove_probe_dir(probe)


def require_isolation(mode: str) -> Isolation:
    """The isolation for `--sandbox mode`, probed once per process; strict refuses rungs (c) and (d)."""
    if mode not in SANDBOX_MODES:
        raise ToolkitError(f"--sandbox must be one of {', '.join(SANDBOX_MODES)} (got {mode!r})")
    if mode == "off":
        return Isolation("off", cgroup=None)
    iso = probe_isolation()
    sweep_empty_cgroups()
    if mode == "strict" and not iso.full:
        raise ToolkitError("--sandbox strict needs bubblewrap or kernel namespaces, but " + (iso.warning or "neither works"))
    return iso


@contextlib.contextmanager
def worker_scratch():
    """Where the workers' copies live: outside the trusted run folder (0700), in a folder any uid may
    pass through but not list (0711), so a rung (c) worker reaches its own copy and nothing else."""
    path = Path(tempfile.mkdtemp(prefix="dlgrade-w-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hide_from_workers(iso: Isolation, *paths: Path | None):
    """A context: on rung (c), within it, the toolkit's checkout (its `.git`, every assignment and
    reference) and `paths` (the assignment, reference, submission, outputs of a command) are closed to
    every user but root (grader.boundary.closed_folders); on the other rungs the mount view hides them."""
    if iso.level != "uid":
        return contextlib.nullcontext([])
    from grader.boundary.closed_folders import closed_to_workers
    return closed_to_workers([ENGINE_DIR.parent, *paths])


# --- workers forked by a zygote (grader.boundary.zygote): the same rungs, without Python's start-up -------

def zygote_environment() -> dict[str, str]:
    """The worker zygote's own environment: a worker's, single-threaded (no thread pool may exist at a
    fork), with no CUDA device chosen (each child sets its own before CUDA starts)."""
    env = worker_environment(Path("/"), 1, "all")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


_zygote_levels: dict = {}   # Isolation -> None (a forked worker works there) or why not
log = logging.getLogger(__name__)
_zygote_lock = threading.Lock()


def worker_zygote(iso: Isolation, limits: Limits) -> str | None:
    """The address of this process's worker zygote (started on first use) if a worker it forks on rung
    `iso` answers; checked once per rung. None: workers start cold, which it says in the log once."""
    from grader.boundary import zygote
    z = zygote.shared(zygote.WORKER, zygote_environment(), isolated=True)
    if z is None:
        return None
    with _zygote_lock:
        if iso not in _zygote_levels:
            probe = _probe_dir()
            try:
                why = _probe_forked_worker(probe, limits, iso, z.address)
            finally:
                _remove_probe_dir(probe)
            _zygote_levels[iso] = why
            if why:
                log.warning(f"a worker forked on rung {iso.level!r} does not start ({why}); "
                            "starting workers cold (slower, equally isolated)")
        return z.address if _zygote_levels[iso] is None else None


def _probe_forked_worker(probe: Path, limits: Limits, iso: Isolation, address: str) -> str | None:
    """Why a forked worker on `probe` does not say hello (importing an engine file), or None."""
    from grader.boundary.inside.protocol import Channel, Op
    (probe / "probe.py").write_text("import os\n")
    worker = None
    try:
        worker = start_worker(probe, limits, isolation=iso, zygote=address)
        if not hasattr(worker.proc, "conn"):
            return "the worker was not forked"
        channel = Channel(worker.sock, max_frame_bytes=2 ** 20)
        channel.send({"op": Op.HELLO, "module_file": "probe.py", "seed": 0}, deadline=time.monotonic() + 30)
        body, _ = channel.recv(deadline=time.monotonic() + 30)
        if body.get("ok") is not True:
            return "the forked worker did not load a plain module"
        channel.send({"op": Op.BYE}, deadline=time.monotonic() + 5)
        return None
    except Exception as e:  # noqa: BLE001 - any failure means: start cold
        out = worker.proc.stdout.read1(4000).decode(errors="replace").strip() if worker and worker.proc.poll() is not None else ""
        return f"{type(e).__name__}: {e}" + (f" ({out.splitlines()[-1][:200]})" if out else "")
    finally:
        if worker is not None:
            worker.kill()

