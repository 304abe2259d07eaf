"""Starting the worker in a sandbox: the one place that decides what student code can touch.

The isolation ladder. The best rung this machine allows is probed once per command (`grade`,
`check`, `validate`), recorded in every result, and passed down to every worker: a batch never
mixes levels and never re-probes.

| rung | how | protects | does not protect |
|---|---|---|---|
| (a) `bwrap` | bubblewrap: user, mount, PID, network, IPC, UTS namespaces; uid 65534 | filesystem (only the system, Python, the worker's engine files and its own workspace are visible), processes, network, other submissions | kernel exploits |
| (b) `namespaces` | the same mount view built by `grader.boundary.mountns` inside util-linux `unshare` namespaces; uid 65534 in a nested user namespace | the same as (a) | kernel exploits |
| (c) `uid` | root only, no namespaces allowed (Docker's default profile, Gradescope): a dedicated unprivileged uid per worker that owns its workspace; deny by default: while a command grades, the checkout (its `.git`, every assignment and reference), the inputs, the data and the output folder are closed to every user but root (`grader.boundary.closed_folders`), the worker imports a world-readable copy of its engine files, /proc hides other users' processes where the kernel allows; its processes are killed, and its files in /tmp, /var/tmp and /dev/shm deleted, by uid when it stops | everything of the grader's (checked before the first submission by `grader.boundary.canary`), other submissions' workspaces and processes | the network; the machine's own world-readable files (/usr, /etc, ...); world-writable folders while two workers run at once; no disk quota |
| (d) `none` | nothing but rlimits (a normal user without namespaces; a student's own machine) | nothing: the code runs as the grader's user | everything; `grade` warns on every run, `--sandbox strict` refuses |

No uid 0 for student code: started by root, a worker on rungs (a) and (b) too runs as an unprivileged
host uid of its own (`UidSlot`), nobody in a user namespace of that uid (`mountns.become_nobody_as`),
so RLIMIT_NPROC holds where no pids cgroup can be made (the kernel exempts uid 0 from it).

Every rung: a scrubbed environment, rlimits (CPU time, file size, open files, processes, address
space when no cgroup caps memory) set by the worker's boot code before the submission is read, a
cgroup for memory and pids where the machine allows one, a new session killed as a group (plus the
cgroup, plus the worker's uid on rung c and for a root grader), output and message sizes capped by
`grader.boundary.client`.

    sh (waits until it is placed in its cgroup) -> [bwrap | unshare + mountns | setpriv] -> python boot
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.core.errors import ToolkitError
from grader.core.spec import Limits

ENGINE_DIR = Path(__file__).resolve().parents[1]      # grader/
BOUNDARY_DIR = Path(__file__).resolve().parent        # grader/boundary/: the engine code a worker runs
STUDENT_PACKAGE_DIR = ENGINE_DIR.parent / "dlcourse"  # the course's student package, which submissions import
# What of the engine the worker's filesystem shows (rungs a and b): the package's __init__ (it
# imports nothing), the boundary package and the student package; not the plugin, the tests'
# helpers, the course key's code or any report.
WORKER_ENGINE_DIRS = (BOUNDARY_DIR, STUDENT_PACKAGE_DIR)
WORKER_ENGINE_FILES = (ENGINE_DIR / "__init__.py",)
NOBODY = 65534
SANDBOX_MODES = ("auto", "strict", "off")
DEFAULT_SANDBOX = "auto"  # the best rung this machine allows
LEVELS = ("bwrap", "namespaces", "uid", "none")
STRICT_LEVELS = ("bwrap", "namespaces")
UID_RANGE = range(61000, 61000 + 512)  # rung (c): one uid per concurrent worker
LEVEL_TEXT = {
    "bwrap": "sandboxed with bubblewrap (filesystem, processes, network and users isolated)",
    "namespaces": "sandboxed with kernel namespaces (filesystem, processes, network and users isolated; "
                  "bubblewrap not installed)",
    "uid": "sandboxed by a separate unprivileged user only (no namespaces on this machine: the grader's folders "
           "are closed to it, but the network and the machine's world-readable files are not hidden)",
    "none": "NOT sandboxed: student code runs as this user and can read and change anything this user can",
    "off": "sandbox turned off (--sandbox off): student code runs as this user",
}


@dataclass(frozen=True)
class Isolation:
    """The rung this command runs on, probed once and passed to every worker (also through the run file)."""
    level: str                  # one of LEVELS, or "off"
    bwrap: str | None = None
    unshare: str | None = None
    setpriv: str | None = None
    cgroup: str | None = None   # "v2", "v1" or None
    unreachable: tuple = ()     # why the higher rungs are not used, one line each

    @property
    def full(self) -> bool:
        return self.level in STRICT_LEVELS

    @property
    def warning(self) -> str | None:
        if self.level in STRICT_LEVELS:
            return None
        why = "; ".join(self.unreachable)
        return LEVEL_TEXT[self.level] + (f" ({why})" if why else "")

    def describe(self) -> str:
        return LEVEL_TEXT[self.level]

    def to_json(self) -> dict:
        return {**asdict(self), "unreachable": list(self.unreachable)}

    @classmethod
    def from_json(cls, data: dict) -> Isolation:
        return cls(**{**data, "unreachable": tuple(data.get("unreachable") or ())})


def _try(argv: list[str], timeout: float = 60) -> tuple[bool, str]:
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out = p.stdout.decode(errors="replace").strip()
        return p.returncode == 0, out.splitlines()[-1] if out else ""  # its last line says why it failed
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g} s"
    except OSError as e:
        return False, str(e)


def boot_probe(engine_root: Path, drop_to: int | None = None) -> str:
    """What each probe runs inside the rung: what a worker's boot needs (the interpreter, its packages,
    the engine files at `engine_root`; for a root grader on rungs a and b, the drop to `drop_to`)."""
    drop = (f"from grader.boundary.mountns import become_nobody_as; become_nobody_as({drop_to}); "
            "import os; os.listdir('.'); ") if drop_to is not None else ""
    return f"import sys; sys.path.insert(0, {str(engine_root)!r}); {drop}import grader.boundary.worker"


def engine_root(level: str) -> Path:
    """Where a worker on `level` imports the engine from: rung (c) workers from a world-readable copy
    (grader.boundary.closed_folders), since the checkout is closed to them; the others from the checkout."""
    if level == "uid":
        from grader.boundary.closed_folders import worker_engine_copy
        return worker_engine_copy()
    return ENGINE_DIR.parent


def _probe_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="dlgrade-probe-"))
    d.chmod(0o755)
    return d


@functools.cache
def probe_isolation() -> Isolation:
    """The best rung this machine allows, each tried for real (starting the interpreter inside it)."""
    unreachable = []
    cgroup = _cgroup_kind()
    setpriv = shutil.which("setpriv")
    probe = _probe_dir()
    # a root grader's worker runs as a uid of its own on rungs (a) and (b) too: probed that way
    slot = UidSlot() if worker_uid_needed("bwrap") else None
    drop_to = slot.uid if slot is not None else None
    if slot is not None:
        own_workspace(probe, slot.uid)
    try:
        bwrap = shutil.which("bwrap")
        if bwrap:
            ok, out = _try([bwrap, *_bwrap_fs_args(probe, gpu=False, worker_uid=drop_to), "--", sys.executable, "-I",
                            "-c", boot_probe(ENGINE_DIR.parent, drop_to)])
            if ok:
                return Isolation("bwrap", bwrap=bwrap, unshare=shutil.which("unshare"), setpriv=setpriv, cgroup=cgroup)
            unreachable.append(f"bubblewrap cannot start here: {out[:200]}")
        else:
            unreachable.append("bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
        unshare = shutil.which("unshare")
        if unshare:
            ok, out = _try([*_namespace_prefix(unshare, probe, gpu=False, worker_uid=drop_to), sys.executable, "-I",
                            "-c", boot_probe(ENGINE_DIR.parent, drop_to)])
            if ok:
                return Isolation("namespaces", unshare=unshare, setpriv=setpriv, cgroup=cgroup,
                                 unreachable=tuple(unreachable))
            unreachable.append(f"kernel namespaces are not allowed here: {out[:200]}")
        else:
            unreachable.append("util-linux unshare is not installed")
        if os.geteuid() == 0 and setpriv:
            uid = slot.uid  # held: no other grader kills or reuses it meanwhile
            os.chown(probe, uid, uid)
            ok, out = _try([setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                            sys.executable, "-I", "-c", f"import os; os.listdir({str(probe)!r}); "
                            f"{boot_probe(engine_root('uid'))}"])
            if ok:
                return Isolation("uid", unshare=unshare, setpriv=setpriv, cgroup=cgroup, unreachable=tuple(unreachable))
            unreachable.append(f"an unprivileged uid cannot run this Python ({out[:160]}); make {sys.prefix} "
                               "readable for all users (chmod o+rx on it and o+x on its parent folders)")
        elif os.geteuid() == 0:
            unreachable.append("util-linux setpriv is not installed")
        else:
            unreachable.append("a separate uid needs root")
        return Isolation("none", unshare=unshare, setpriv=setpriv, cgroup=cgroup, unreachable=tuple(unreachable))
    finally:
        if slot is not None:
            slot.release()
        shutil.rmtree(probe, ignore_errors=True)
        shutil.rmtree(str(probe) + ".root", ignore_errors=True)


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


# --- what the worker sees ------------------------------------------------------------------------

def python_roots() -> list[Path]:
    """Directories the worker's Python needs: the installation, the venv, extra site dirs."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for p in sys.path:
        if p and ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir():
            roots.add(Path(p).resolve())
    # keep the outermost of nested directories
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
             "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/ssl/certs")
GPU_DIRS = ("/sys", "/usr/local/nvidia", "/usr/local/cuda", "/etc/OpenCL")
SUBMISSION_VIEW = "/.dlgrade-submission"   # where a namespace rung shows the worker's copy read-only, for the boot code
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


def masked_files(hide: list) -> list[str]:
    """The files `limits.hide` names, found in every site-packages folder the worker's Python reads."""
    sites = [Path(p) for p in sys.path if p and ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir()]
    found = []
    for pattern in hide:
        for site in sites:
            found += [str(f) for f in sorted(site.glob(pattern)) if f.is_file()]
    return sorted(set(found))


def _bwrap_fs_args(workspace: Path, *, gpu: bool, disk_mb: int | None = None, masks: list = (),
                   worker_uid: int | None = None) -> list[str]:
    tmp_size = ["--size", str(disk_mb * 2 ** 20)] if disk_mb else []
    if worker_uid is None:   # nobody in bubblewrap's user namespace
        users, shared = ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)], []
    else:  # root: no user namespace here; the worker's boot drops to worker_uid (mountns.become_nobody_as)
        users = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        shared = ["--perms", "1777"]   # root's tmpfs mounts, written by the worker's uid
    args = [*users, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            *tmp_size, *shared, "--tmpfs", "/tmp", *tmp_size, *shared, "--tmpfs", "/dev/shm"]
    if worker_uid is not None:  # as root, bubblewrap makes the folders above a bound path 0700: too tight
        for d in _folders_above([*python_roots(), *WORKER_ENGINE_DIRS, *WORKER_ENGINE_FILES, workspace]):
            args += ["--perms", "0755", "--dir", str(d)]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    for root in python_roots():
        args += ["--ro-bind", str(root), str(root)]
    for d in WORKER_ENGINE_DIRS:
        if d.is_dir():
            args += ["--ro-bind", str(d), str(d)]
    for f in WORKER_ENGINE_FILES:
        args += ["--ro-bind", str(f), str(f)]
    for f in masks:  # an empty file in place of each hidden one
        args += ["--ro-bind", "/dev/null", f]
    if gpu:
        for dev in sorted(glob.glob("/dev/nvidia*")):
            args += ["--dev-bind", dev, dev]
        for d in GPU_DIRS:
            if any(d.startswith(top + "/") for top in SYSTEM_DIRS):  # shown with /usr already (and a link there
                continue                                           # such as cuda -> cuda-12.4 cannot be bound on)
            if os.path.isdir(d):
                args += ["--ro-bind", d, d]
    if disk_mb is None:  # the probe: no quota, the folder itself
        return args + ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    # the workspace is a tmpfs of the quota's size (charged to the worker's memory too), which the
    # boot code fills from a read-only view of the copy: a submission that fills it harms nobody
    own = ["--perms", "0777"] if worker_uid is not None else []   # (no one else is in this mount view)
    return args + ["--ro-bind", str(workspace), SUBMISSION_VIEW, "--size", str(disk_mb * 2 ** 20), *own,
                   "--tmpfs", str(workspace), "--chdir", str(workspace)]


def _folders_above(paths: list[Path]) -> list[Path]:
    """The folders above `paths` that the mount view must make, outermost first (not /, not the
    view's own mounts and not what is bound whole). Folders inside the view's own tmpfs mounts
    (/tmp, /dev/shm) are made too: a checkout or venv under /tmp needs them passable by the worker's uid."""
    tmpfs = {Path("/tmp"), Path("/dev/shm")}
    made = {Path(p) for p in ("/", "/dev", "/proc", *SYSTEM_DIRS)} | tmpfs
    bound_whole = made - tmpfs - {Path("/")}
    above = {a for p in paths for a in Path(p).parents}
    return sorted((a for a in above if a not in made and not any(m in a.parents for m in bound_whole)),
                  key=lambda a: len(a.parts))


def _namespace_view(workspace: Path, *, gpu: bool, disk_mb: int | None = None, masks: list = (),
                    worker_uid: int | None = None) -> dict:
    """What grader.boundary.mountns mounts for a worker on rung (b), or a forked worker on (a) and (b): the
    same view as _bwrap_fs_args."""
    root = Path(str(workspace) + ".root")
    root.mkdir(exist_ok=True)
    ro = [d for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    ro += [str(r) for r in python_roots()] + [str(d) for d in WORKER_ENGINE_DIRS if d.is_dir()]
    files = [f for f in ETC_FILES if os.path.isfile(f)] + [str(f) for f in WORKER_ENGINE_FILES]
    ro += [f for f in ETC_FILES if os.path.isdir(f)]
    dev = [d for d in DEV_NODES if os.path.exists(d)]
    if gpu:
        dev += sorted(glob.glob("/dev/nvidia*"))
        ro += [d for d in GPU_DIRS if os.path.isdir(d) and not any(d.startswith(top + "/") for top in SYSTEM_DIRS)]
    return {"ro": ro, "ro_files": files, "dev": dev, "rw": str(workspace), "root": str(root),
            "disk_mb": disk_mb, "submission_view": SUBMISSION_VIEW, "masks": list(masks),
            "symlinks": {d: os.readlink(d) for d in SYSTEM_DIRS if os.path.islink(d)}, "worker_uid": worker_uid}


def _namespace_prefix(unshare: str, workspace: Path, *, gpu: bool, disk_mb: int | None = None,
                      masks: list = (), worker_uid: int | None = None) -> list[str]:
    """Rung (b): unshare's namespaces, then grader.boundary.mountns builds the same view as _bwrap_fs_args.
    For root (`worker_uid` given) no user namespace: the worker's boot drops to that uid itself."""
    view = {**_namespace_view(workspace, gpu=gpu, disk_mb=disk_mb, masks=masks, worker_uid=worker_uid),
            "unshare": os.path.realpath(unshare)}
    users = ["--user", "--map-root-user"] if worker_uid is None else []
    return [unshare, *users, "--mount", "--pid", "--net", "--ipc", "--uts", "--fork",
            "--kill-child", "--", sys.executable, "-I", str(BOUNDARY_DIR / "mountns.py"), json.dumps(view), "--"]


def worker_uid_needed(level: str) -> bool:
    """Whether a worker on `level` runs as an unprivileged host uid of its own (a `UidSlot`):
    always on rung (c); on rungs (a) and (b) when the grader is root, whose uid 0 the kernel exempts
    from RLIMIT_NPROC (a fork bomb would pass max_processes wherever no pids cgroup can be made)."""
    return level == "uid" or (level in STRICT_LEVELS and os.geteuid() == 0)


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


def _rlimits(limits: Limits, *, memory_by_cgroup: bool, gpu: bool) -> dict[str, int]:
    mb = 1024 * 1024
    rl = {"RLIMIT_CPU": limits.cpu_time_s, "RLIMIT_FSIZE": limits.max_file_mb * mb, "RLIMIT_NOFILE": 1024,
          "RLIMIT_CORE": 0, "RLIMIT_NPROC": limits.max_processes}
    # the address-space limit is a blunt fallback: CUDA maps huge virtual ranges, so skip it there
    if not memory_by_cgroup and not gpu:
        rl["RLIMIT_AS"] = (limits.memory_mb + 1024) * mb
    return rl


def _boot(limits: Limits, *, memory_by_cgroup: bool, gpu: bool, fill_from: str | None = None,
          engine: Path = ENGINE_DIR.parent, drop_to: int | None = None) -> str:
    """The worker's first lines: for a root grader on rungs (a) and (b), the drop to the worker's own
    uid (`drop_to`); the copy into its quota'd workspace; rlimits (soft = hard, so the submission cannot
    raise them); then the engine. Done in Python rather than with `prlimit`, so it also works where
    util-linux is missing."""
    rl = _rlimits(limits, memory_by_cgroup=memory_by_cgroup, gpu=gpu)
    drop = ["from grader.boundary.mountns import become_nobody_as",
            f"become_nobody_as({int(drop_to)})"] if drop_to is not None else []
    # entry by entry: the workspace folder itself may be root's (a root grader's bubblewrap tmpfs, 0777)
    fill = ["import os, shutil, sys", "try:",
            f"    for name in os.listdir({fill_from!r}):",
            f"        path = os.path.join({fill_from!r}, name)",
            "        (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, name)",
            "except OSError as e:",  # read as a grader-side failure (the clean worker fails the same way)
            "    print(f'dlgrade: the worker cannot copy in the submission: {e}', file=sys.stderr); sys.exit(3)",
            ] if fill_from else []
    return "\n".join([
        "import sys",
        f"sys.path.insert(0, {str(engine)!r})",
        *drop,
        *fill,  # the submission into the quota'd workspace, before any of its code runs
        "try:",
        "    import resource",
        "except ImportError:",  # Windows: no rlimits
        "    resource = None",
        f"for name, value in ({sorted(rl.items())!r} if resource else ()):",
        "    kind = getattr(resource, name, None)",
        "    if kind is not None:",
        "        hard = resource.getrlimit(kind)[1]",
        "        value = value if hard == resource.RLIM_INFINITY else min(value, hard)",
        "        resource.setrlimit(kind, (value, value))",
        "from grader.boundary.worker import main",
        "main()",
    ])


# --- cgroups (pids and memory) -------------------------------------------------------------------

def _cgroup_kind() -> str | None:
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


# --- rung (c): one unprivileged uid per running worker --------------------------------------------

class UidSlot:
    """A uid from UID_RANGE held (by an flock) for one worker; any process left with it is killed."""

    LOCKS = Path(tempfile.gettempdir()) / "dlgrade-uids"

    def __init__(self):
        self.LOCKS.mkdir(mode=0o700, exist_ok=True)
        for uid in UID_RANGE:
            fd = os.open(self.LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            self._releasing = threading.Lock()
            kill_uid(uid)  # leftovers of a grader that was itself killed
            return
        raise ToolkitError(f"all {len(UID_RANGE)} worker uids are in use")

    def release(self) -> None:
        """Kill what runs as the uid, delete its files, then give the uid back. Once: a worker can be
        killed from two threads (the output reader that saw a flood, and the call that saw it die), and a
        second os.close of the lock's descriptor could close another worker's file that reused the number."""
        with self._releasing:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            kill_uid(self.uid)
            remove_files_of(self.uid)
            os.close(fd)


SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def remove_files_of(uid: int) -> None:
    """What a rung (c) worker left in the machine's shared, world-writable folders, which it could
    otherwise use to pass data to a later worker."""
    for top in SHARED_DIRS:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is `uid`, until none is left (they may be forking)."""
    for _ in range(50):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found = True
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.01)


def own_workspace(workspace: Path, uid: int) -> None:
    """Rung (c): the worker's uid owns its workspace (and nothing else the grader has), which no other
    uid may open (the scratch folders above it are listed in /tmp, and the copies' names are short)."""
    for dirpath, dirnames, filenames in os.walk(workspace):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)
    os.chmod(workspace, 0o700)


def hide_from_workers(iso: Isolation, *paths: Path | None):
    """A context: on rung (c), within it, the toolkit's checkout (its `.git`, every assignment and
    reference) and `paths` (the assignment, reference, submission, outputs of a command) are closed to
    every user but root (grader.boundary.closed_folders); on the other rungs the mount view hides them."""
    if iso.level != "uid":
        return contextlib.nullcontext([])
    from grader.boundary.closed_folders import closed_to_workers
    return closed_to_workers([ENGINE_DIR.parent, *paths])


# --- the worker process --------------------------------------------------------------------------

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


def start_worker(workspace: Path, limits: Limits, *, isolation: Isolation, gpu: str | None = None,
                 threads: int = 1, zygote: str | None = None) -> WorkerProcess:
    """Start a worker on `workspace` (its own copy of the submission, which it may write to), on the
    rung `isolation` names. Nothing is probed here: the command decided the rung once. Forked by the
    worker zygote at `zygote` (default: $DLGRADE_WORKER_ZYGOTE, set by the runner) when there is one."""
    iso = isolation
    workspace = Path(workspace).resolve()
    parent, child = socket.socketpair()
    cgroup = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-{os.getpid()}-{time.monotonic_ns()}", limits)
    quota = iso.level in STRICT_LEVELS and limits.max_disk_mb > 0
    disk_mb = limits.max_disk_mb if quota else None
    env = _environment(workspace, threads, gpu)
    address = zygote or os.environ.get(WORKER_ZYGOTE_ENV)
    if address:
        forked = _fork_worker(address, workspace, limits, iso, env=env, gpu=gpu is not None, threads=threads,
                              disk_mb=disk_mb, cgroup=cgroup, sock=child)
        if forked is not None:
            child.close()
            return WorkerProcess(forked[0], parent, cgroup, iso, forked[1])
    slot = None
    if worker_uid_needed(iso.level):
        slot = UidSlot()
        own_workspace(workspace, slot.uid)
    drop_to = slot.uid if slot is not None and iso.level in STRICT_LEVELS else None   # rung (c): setpriv below
    boot = _boot(limits, memory_by_cgroup=cgroup.limits_memory, gpu=gpu is not None,
                 fill_from=SUBMISSION_VIEW if quota else None, engine=engine_root(iso.level), drop_to=drop_to)
    python = [sys.executable, "-I", "-c", boot, str(child.fileno())]
    if iso.level == "bwrap":
        inner = [iso.bwrap, *_bwrap_fs_args(workspace, gpu=gpu is not None, disk_mb=disk_mb,
                                            masks=masked_files(limits.hide), worker_uid=drop_to), "--clearenv"]
        for k, v in env.items():
            inner += ["--setenv", k, v]
        inner += ["--", *python]
    elif iso.level == "namespaces":
        inner = [*_namespace_prefix(iso.unshare, workspace, gpu=gpu is not None, disk_mb=disk_mb,
                                    masks=masked_files(limits.hide), worker_uid=drop_to), *python]
    elif iso.level == "uid":
        inner = [iso.setpriv, f"--reuid={slot.uid}", f"--regid={slot.uid}", "--clear-groups", "--no-new-privs",
                 *python]
    else:  # "none" and "off": the grader's own user
        inner = ([iso.setpriv, "--no-new-privs"] if iso.setpriv else []) + python
    argv = ["sh", "-c", 'read -r _; exec "$@"', "sh", *inner]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=[child.fileno()], cwd=workspace, start_new_session=True, env=env)
    except OSError as e:
        cgroup.remove()
        if slot is not None:
            slot.release()
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
    return WorkerProcess(proc, parent, cgroup, iso, slot)


# --- workers forked by a zygote (grader.boundary.zygote): the same rungs, without Python's start-up -------

WORKER_ZYGOTE_ENV = "DLGRADE_WORKER_ZYGOTE"   # the zygote's address, for the trusted processes of a run
_cold_said = []


def _fork_worker(address: str, workspace: Path, limits: Limits, iso: Isolation, *, env: dict, gpu: bool,
                 threads: int, disk_mb: int | None, cgroup: Cgroup, sock: socket.socket):
    """(process, uid slot) of a worker forked by the zygote at `address`, or None: start it cold."""
    from grader.boundary import zygote
    slot = None
    request = {"level": iso.level, "env": env, "workspace": str(workspace), "threads": threads,
               "rlimits": sorted(_rlimits(limits, memory_by_cgroup=cgroup.limits_memory, gpu=gpu).items()),
               "fill_from": SUBMISSION_VIEW if disk_mb else None}
    if worker_uid_needed(iso.level):
        slot = UidSlot()
        own_workspace(workspace, slot.uid)
        request["uid"] = slot.uid
    worker_uid = request.get("uid") if iso.level in STRICT_LEVELS else None
    if iso.level == "bwrap":
        request["bwrap"] = [iso.bwrap, *_bwrap_fs_args(workspace, gpu=gpu, disk_mb=disk_mb,
                                                        masks=masked_files(limits.hide), worker_uid=worker_uid)]
    elif iso.level == "namespaces":
        request["view"] = _namespace_view(workspace, gpu=gpu, disk_mb=disk_mb, masks=masked_files(limits.hide),
                                          worker_uid=worker_uid)
    elif iso.level == "uid":
        request["engine"] = str(engine_root(iso.level))
    out_r, out_w = os.pipe()
    try:
        proc = zygote.spawn(address, request, [sock.fileno(), out_w], place=lambda pid: _add_to(cgroup, pid),
                            stdout=open(out_r, "rb", buffering=65536))
    except (zygote.Unavailable, OSError) as e:
        os.close(out_r)
        if slot is not None:
            slot.release()
        if not _cold_said:
            _cold_said.append(1)
            print(f"dlgrade: WARNING: the worker zygote cannot fork a worker ({e}); starting workers cold",
                  file=sys.stderr, flush=True)
        return None
    finally:
        os.close(out_w)
    return proc, slot


def _add_to(cgroup: Cgroup, pid: int) -> None:
    try:
        cgroup.add(pid)
    except OSError:  # as for a cold start: the worker runs on, bounded by its rlimits
        pass


def zygote_environment() -> dict[str, str]:
    """The worker zygote's own environment: a worker's, single-threaded (no thread pool may exist at a
    fork), with no CUDA device chosen (each child sets its own before CUDA starts)."""
    env = _environment(Path("/"), 1, "all")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


_zygote_levels: dict = {}   # Isolation -> None (a forked worker works there) or why not
_zygote_lock = threading.Lock()


def worker_zygote(iso: Isolation, limits: Limits) -> str | None:
    """The address of this process's worker zygote (started on first use) if a worker it forks on rung
    `iso` answers; checked once per rung. None: workers start cold, which it says on stderr once."""
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
                shutil.rmtree(probe, ignore_errors=True)
                shutil.rmtree(str(probe) + ".root", ignore_errors=True)
            _zygote_levels[iso] = why
            if why:
                print(f"dlgrade: WARNING: a worker forked on rung {iso.level!r} does not start ({why}); "
                      "starting workers cold (slower, equally isolated)", file=sys.stderr, flush=True)
        return z.address if _zygote_levels[iso] is None else None


def _probe_forked_worker(probe: Path, limits: Limits, iso: Isolation, address: str) -> str | None:
    """Why a forked worker on `probe` does not say hello (importing an engine file), or None."""
    from grader.boundary.protocol import Channel
    (probe / "probe.py").write_text("import os\n")
    worker = None
    try:
        worker = start_worker(probe, limits, isolation=iso, zygote=address)
        if not hasattr(worker.proc, "conn"):
            return "the worker was not forked"
        channel = Channel(worker.sock, max_frame_bytes=2 ** 20)
        channel.send({"op": "hello", "module_file": "probe.py", "seed": 0}, deadline=time.monotonic() + 30)
        body, _ = channel.recv(deadline=time.monotonic() + 30)
        if body.get("ok") is not True:
            return "the forked worker did not load a plain module"
        channel.send({"op": "bye"}, deadline=time.monotonic() + 5)
        return None
    except Exception as e:  # noqa: BLE001 - any failure means: start cold
        out = worker.proc.stdout.read1(4000).decode(errors="replace").strip() if worker and worker.proc.poll() is not None else ""
        return f"{type(e).__name__}: {e}" + (f" ({out.splitlines()[-1][:200]})" if out else "")
    finally:
        if worker is not None:
            worker.kill()
