"""Starting one worker on the command's rung: forked by the worker zygote when there is one, cold otherwise.

Both ways take the same steps in the same order: a cgroup (memory, pids) the worker is placed in
before its first instruction, a uid slot where the rung needs one (which then owns the workspace),
the rung's view of the filesystem, and one `BootPlan` (environment, rlimits, the drop to the
worker's uid, the copy into a quota'd workspace) that `grader.boundary.inside.boot` applies inside the
sandbox. Only how the process comes to exist differs:

    cold:   sh (waits until it is placed in its cgroup) -> the rung's launcher -> python boot
    forked: zygote child (waits for "go") -> the rung's entry (grader.boundary.inside.worker_fork) -> boot
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.boundary import zygote
from grader.boundary.inside.boot import BootPlan, cold_start
from grader.boundary.inside.fork_request import WorkerForkRequest
from grader.boundary.cgroups import Cgroup
from grader.boundary.mount_view import MountView, masked_files
from grader.boundary.rungs import RUNGS, STRICT_LEVELS, Isolation, Rung, boot_plan, worker_uid_needed
from grader.boundary.uid_slots import UidSlot, own_workspace
from grader.core.errors import ToolkitError
from grader.core.spec import Limits

log = logging.getLogger(__name__)
WORKER_ZYGOTE_ENV = "DLGRADE_WORKER_ZYGOTE"   # the zygote's address, for the trusted processes of a run
_cold_said = []


@dataclass
class WorkerProcess:
    """A started worker: its process, the grader's end of the socket, its cgroup, its uid slot."""
    proc: subprocess.Popen
    sock: socket.socket
    cgroup: Cgroup
    isolation: Isolation
    slot: UidSlot | None = None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.cgroup.kill_all()
        if self.slot is not None:
            self.slot.release()   # processes that left the group (setsid daemons) die by uid
            self.slot = None
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroup.remove()
        self.sock.close()


def worker_environment(workspace: Path, threads: int, gpu: str | None) -> dict[str, str]:
    """A worker's whole environment, built from scratch (nothing of the grader's passes)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": "/tmp",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/inductor", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # needed on some CPUs for correct results
        if key in os.environ:
            env[key] = os.environ[key]
    # gpu: None = no GPU; "all" = whatever the grader sees; "0", "1,2" = those devices
    if gpu is None:
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif gpu != "all":
        env["CUDA_VISIBLE_DEVICES"] = gpu
    elif "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def worker_rlimits(limits: Limits, *, memory_by_cgroup: bool, gpu: bool) -> dict[str, int]:
    mb = 1024 * 1024
    rl = {"RLIMIT_CPU": limits.cpu_time_s, "RLIMIT_FSIZE": limits.max_file_mb * mb, "RLIMIT_NOFILE": 1024,
          "RLIMIT_CORE": 0, "RLIMIT_NPROC": limits.max_processes}
    # the address-space limit is a blunt fallback: CUDA maps huge virtual ranges, so skip it there
    if not memory_by_cgroup and not gpu:
        rl["RLIMIT_AS"] = (limits.memory_mb + 1024) * mb
    return rl


@dataclass(frozen=True)
class Launch:
    """Everything decided about one worker before it exists, the same for both ways to start it."""
    rung: Rung
    isolation: Isolation
    workspace: Path
    plan: BootPlan
    view: MountView | None
    slot: UidSlot | None
    threads: int


def start_worker(workspace: Path, limits: Limits, *, isolation: Isolation, gpu: str | None = None,
                 threads: int = 1, zygote: str | None = None) -> WorkerProcess:
    """Start a worker on `workspace` (its own copy of the submission, which it may write to), on the
    rung `isolation` names. Nothing is probed here: the command decided the rung once. Forked by the
    worker zygote at `zygote` (default: $DLGRADE_WORKER_ZYGOTE, set by the runner) when there is one."""
    iso = isolation
    workspace = Path(workspace).resolve()
    parent, child = socket.socketpair()
    cgroup = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-{os.getpid()}-{time.monotonic_ns()}", limits)
    try:
        launch = _prepare(workspace, limits, iso, cgroup, gpu=gpu, threads=threads)
    except BaseException:
        cgroup.remove()
        parent.close()
        child.close()
        raise
    try:
        address = zygote or os.environ.get(WORKER_ZYGOTE_ENV)
        proc = _fork(address, launch, cgroup, child) if address else None
        if proc is None:
            proc = _start_cold(launch, cgroup, child)
    finally:
        child.close()
    return WorkerProcess(proc, parent, cgroup, iso, launch.slot)


def _prepare(workspace: Path, limits: Limits, iso: Isolation, cgroup: Cgroup, *, gpu: str | None,
             threads: int) -> Launch:
    rung = RUNGS[iso.level]
    quota = iso.level in STRICT_LEVELS and limits.max_disk_mb > 0
    slot = None
    if worker_uid_needed(iso.level):
        slot = UidSlot()
        own_workspace(workspace, slot.uid)
    view = rung.view(workspace, gpu=gpu is not None, disk_mb=limits.max_disk_mb if quota else None,
                     masks=masked_files(limits.hide), worker_uid=rung.drop_to(slot))
    rlimits = worker_rlimits(limits, memory_by_cgroup=cgroup.limits_memory, gpu=gpu is not None)
    plan = boot_plan(rung, env=worker_environment(workspace, threads, gpu), rlimits=rlimits, slot=slot, quota=quota)
    return Launch(rung, iso, workspace, plan, view, slot, threads)


def _start_cold(launch: Launch, cgroup: Cgroup, child: socket.socket) -> subprocess.Popen:
    command, env = cold_start(sys.executable, launch.plan, child.fileno())
    inner = launch.rung.cold_argv(launch.isolation, command, env, launch.view, launch.slot)
    argv = ["sh", "-c", 'read -r _; exec "$@"', "sh", *inner]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=[child.fileno()], cwd=launch.workspace, start_new_session=True, env=env)
    except OSError as e:
        cgroup.remove()
        if launch.slot is not None:
            launch.slot.release()
        raise ToolkitError(f"could not start the worker: {e}") from e
    _add_to(cgroup, proc.pid)  # before the shell lets the worker start, so every child is counted
    try:
        proc.stdin.write(b"go\n")
        proc.stdin.close()
    except OSError:
        pass
    return proc


def _fork(address: str, launch: Launch, cgroup: Cgroup, child: socket.socket) -> zygote.ForkedProcess | None:
    """A worker forked by the zygote at `address`, or None: start it cold (said once in the log)."""
    request = WorkerForkRequest(level=launch.isolation.level, workspace=str(launch.workspace), threads=launch.threads,
                                boot=launch.plan, **launch.rung.fork_request(launch.view, launch.slot, launch.isolation))
    out_r, out_w = os.pipe()
    try:
        return zygote.spawn(address, request, [child.fileno(), out_w], place=lambda pid: _add_to(cgroup, pid),
                            stdout=open(out_r, "rb", buffering=65536))
    except (zygote.Unavailable, OSError) as e:
        os.close(out_r)
        if not _cold_said:
            _cold_said.append(1)
            log.warning(f"the worker zygote cannot fork a worker ({e}); starting workers cold")
        return None
    finally:
        os.close(out_w)


def _add_to(cgroup: Cgroup, pid: int) -> None:
    try:
        cgroup.add(pid)
    except OSError:  # the worker runs on, bounded by its rlimits
        pass
