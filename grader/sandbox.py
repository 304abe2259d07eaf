"""Starting the worker in a sandbox: the one place that decides what student code can touch.

The worker process (see `grader.worker`) is started as:

    sh (waits until it is placed in its cgroup) -> prlimit (rlimits) -> bwrap (namespaces) -> python

What the worker CAN touch: a read-only view of the system directories and of the Python
installation, the engine package `grader/` (read-only, it holds no tests or answers), its own
writable workspace (a copy of the submission) mounted at the same path, a private /tmp, and one
socket to the grader. With a GPU, the /dev/nvidia* devices.

What it CANNOT touch: the network (own network namespace), the grader's processes (own PID
namespace; the grader's PIDs are invisible), the repository, hidden tests, reference solutions,
other submissions, the output folder, the grader's home, the grader's environment (it gets a
scrubbed one). Its memory, processes and threads, CPU time, file sizes and open files are
capped; its output is capped by the reader in `grader.remote`.

When bubblewrap is missing, the fallback keeps the network namespace (via `unshare`) and the
rlimits but cannot hide the filesystem: `Isolation.warning` says so loudly, and strict mode
refuses to run.
"""
from __future__ import annotations

import functools
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ToolkitError
from grader.spec import Limits

ENGINE_DIR = Path(__file__).resolve().parent          # grader/
NOBODY = 65534
SANDBOX_MODES = ("auto", "strict", "off")


@dataclass(frozen=True)
class Isolation:
    """What this machine lets us do, probed once per process."""
    bwrap: str | None
    unshare_net: tuple[str, ...]  # the `unshare` prefix that gives a network namespace here, or ()
    cgroup: str | None          # "v2", "v1" or None
    warning: str | None

    @property
    def full(self) -> bool:
        return self.bwrap is not None


def _try(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=None)
def probe_isolation() -> Isolation:
    bwrap = shutil.which("bwrap")
    if bwrap and not _try([bwrap, *_bwrap_fs_args(Path("/tmp"), gpu=False), "--", sys.executable, "-I", "-c", "pass"]):
        bwrap = None
    unshare_net: tuple[str, ...] = ()
    for prefix in (("unshare", "--net", "--"), ("unshare", "--user", "--map-root-user", "--net", "--")):
        if _try([*prefix, "true"]):
            unshare_net = prefix
            break
    cgroup = _cgroup_kind()
    warning = None
    if bwrap is None:
        warning = ("bubblewrap (bwrap) is not available: student code runs WITHOUT filesystem isolation and can "
                   "read any file this user can. Install it (Debian/Ubuntu: apt-get install bubblewrap).")
        if not unshare_net:
            warning += " Network isolation is also unavailable."
    return Isolation(bwrap, unshare_net, cgroup, warning)


def require_isolation(mode: str) -> Isolation:
    if mode not in SANDBOX_MODES:
        raise ToolkitError(f"--sandbox must be one of {', '.join(SANDBOX_MODES)} (got {mode!r})")
    iso = probe_isolation()
    if mode == "strict" and not iso.full:
        raise ToolkitError("--sandbox strict needs full isolation, but " + (iso.warning or "it is unavailable"))
    return iso


# --- the command line ----------------------------------------------------------------------------

def _python_roots() -> list[Path]:
    """Directories the worker's Python needs: the installation, the venv, extra site dirs."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for p in sys.path:
        if p and ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir():
            roots.add(Path(p).resolve())
    # keep the outermost of nested directories
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def _bwrap_fs_args(workspace: Path, *, gpu: bool) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/ssl/certs"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    args += ["--ro-bind", str(ENGINE_DIR), str(ENGINE_DIR)]
    if gpu:
        for dev in sorted(glob.glob("/dev/nvidia*")):
            args += ["--dev-bind", dev, dev]
        for d in ("/sys", "/usr/local/nvidia", "/usr/local/cuda", "/etc/OpenCL"):
            if os.path.isdir(d):
                args += ["--ro-bind", d, d]
    args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    return args


def _environment(workspace: Path, threads: int, gpu: str | None) -> dict[str, str]:
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


def _rlimits(limits: Limits, *, memory_by_cgroup: bool, gpu: bool) -> list[str]:
    mb = 1024 * 1024
    args = ["prlimit", f"--cpu={limits.cpu_time_s}", f"--fsize={limits.max_file_mb * mb}",
            "--nofile=1024", "--core=0", f"--nproc={limits.max_processes}"]
    # the address-space limit is a blunt fallback: CUDA maps huge virtual ranges, so skip it there
    if not memory_by_cgroup and not gpu:
        args.append(f"--as={(limits.memory_mb + 1024) * mb}")
    return args + ["--"]


# --- cgroups (pids and memory) -------------------------------------------------------------------

def _cgroup_kind() -> str | None:
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists() and {"pids", "memory"} <= set(v2.read_text().split()) and os.access("/sys/fs/cgroup", os.W_OK):
        return "v2"
    if os.access("/sys/fs/cgroup/pids", os.W_OK) and os.access("/sys/fs/cgroup/memory", os.W_OK):
        return "v1"
    return None


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


# --- the worker process --------------------------------------------------------------------------

@dataclass
class WorkerProcess:
    """A started worker: its process, the grader's end of the socket, and its cgroup."""
    proc: subprocess.Popen
    sock: socket.socket
    cgroup: Cgroup
    isolation: Isolation

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.cgroup.kill_all()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroup.remove()
        self.sock.close()


def start_worker(workspace: Path, limits: Limits, *, sandbox: str = "auto", gpu: str | None = None,
                 threads: int = 1) -> WorkerProcess:
    """Start a worker for the submission copied into `workspace` (which it may write to)."""
    iso = require_isolation(sandbox)
    workspace = Path(workspace).resolve()
    parent, child = socket.socketpair()
    cgroup = Cgroup(iso.cgroup if sandbox != "off" else None, f"dlgrade-{os.getpid()}-{time.monotonic_ns()}", limits)
    boot = f"import sys; sys.path.insert(0, {str(ENGINE_DIR.parent)!r}); from grader.worker import main; main()"
    python = [sys.executable, "-I", "-c", boot, str(child.fileno())]
    if sandbox == "off":
        inner = python
    elif iso.bwrap:
        env = _environment(workspace, threads, gpu)
        inner = [iso.bwrap, *_bwrap_fs_args(workspace, gpu=gpu is not None), "--clearenv"]
        for k, v in env.items():
            inner += ["--setenv", k, v]
        inner += ["--", *python]
    else:
        if os.geteuid() == 0:
            os.chown(workspace, NOBODY, NOBODY)
            drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs"]
        else:
            drop = ["setpriv", "--no-new-privs"]
        net = list(iso.unshare_net)
        inner = [*net, *drop, *python]
    argv = ["sh", "-c", 'read -r _; exec "$@"', "sh",
            *_rlimits(limits, memory_by_cgroup=cgroup.limits_memory, gpu=gpu is not None), *inner]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=[child.fileno()], cwd=workspace, start_new_session=True,
                                env=_environment(workspace, threads, gpu))
    except OSError as e:
        cgroup.remove()
        raise ToolkitError(f"could not start the worker: {e}") from e
    finally:
        child.close()
    try:
        cgroup.add(proc.pid)  # before the shell lets the worker start, so every child is counted
    except OSError:
        pass
    try:
        proc.stdin.write(b"go\n")
        proc.stdin.close()
    except OSError:
        pass
    return WorkerProcess(proc, parent, cgroup, iso)
