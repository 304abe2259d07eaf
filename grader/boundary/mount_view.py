"""What a sandboxed worker's filesystem shows (rungs a and b): one value, two renderings.

`MountView` lists what is bound into the worker's view: the system folders, a few /etc files, the
Python installation, the worker's engine files (`grader/__init__.py`, `grader/boundary/__init__.py`,
`grader/boundary/inside/`, the student package), the files `limits.hide` masks, the GPU's devices and folders when it has one, and its own
workspace (read-write, or a tmpfs of the disk quota filled from a read-only view of the copy).
Bubblewrap reads it as arguments (`bwrap_args`, rung a, and the holder of a forked worker's
namespaces); `grader.boundary.inside.mountns` reads it as a JSON object (`namespace_input`, rung b, and a
worker forked onto either rung), so both rungs show the same files by construction.
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[1]      # grader/
BOUNDARY_DIR = Path(__file__).resolve().parent        # grader/boundary/
INSIDE_DIR = BOUNDARY_DIR / "inside"                  # grader/boundary/inside/: the engine code a worker runs
STUDENT_PACKAGE_DIR = ENGINE_DIR.parent / "dlcourse"  # the course's student package, which submissions import
# What of the engine the worker's filesystem shows (rungs a and b): the worker-side folder, the
# student package, and the two __init__ files above the folder (they import nothing) that make it
# importable as grader.boundary.inside; not the launcher, the client, the plugin, the tests'
# helpers, the course key's code or any report.
WORKER_ENGINE_DIRS = (INSIDE_DIR, STUDENT_PACKAGE_DIR)
WORKER_ENGINE_FILES = (ENGINE_DIR / "__init__.py", BOUNDARY_DIR / "__init__.py")
NOBODY = 65534

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
             "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/ssl/certs")
GPU_DIRS = ("/sys", "/usr/local/nvidia", "/usr/local/cuda", "/etc/OpenCL")
SUBMISSION_VIEW = "/.dlgrade-submission"   # where the boot code finds the copy to fill a quota'd workspace from
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
TMPFS_DIRS = ("/tmp", "/dev/shm")          # private to each worker


def python_roots() -> list[Path]:
    """Directories the worker's Python needs: the installation, the venv, extra site dirs."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    for p in sys.path:
        if p and ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir():
            roots.add(Path(p).resolve())
    # keep the outermost of nested directories
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def masked_files(hide: list) -> list[str]:
    """The files `limits.hide` names, found in every site-packages folder the worker's Python reads."""
    sites = [Path(p) for p in sys.path if p and ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir()]
    found = []
    for pattern in hide:
        for site in sites:
            found += [str(f) for f in sorted(site.glob(pattern)) if f.is_file()]
    return sorted(set(found))


@dataclass(frozen=True)
class MountView:
    """One worker's filesystem. `workspace` is its folder; `disk_mb` None shows the folder itself
    (the probes), a number a tmpfs of that size; `worker_uid` the host uid a root grader's worker
    drops to (None: nobody in a user namespace the launcher makes)."""
    workspace: str
    symlinks: tuple[tuple[str, str], ...]      # system folders that are links on this machine (/bin -> usr/bin)
    system_dirs: tuple[str, ...]
    etc: tuple[str, ...]                        # files, and a few folders, of /etc
    python: tuple[str, ...]
    engine_dirs: tuple[str, ...]
    engine_files: tuple[str, ...]
    gpu_dirs: tuple[str, ...] = ()
    gpu_devices: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    disk_mb: int | None = None
    worker_uid: int | None = None

    def read_only(self) -> list[str]:
        """Every path shown read-only, outer before inner."""
        return [*self.system_dirs, *self.etc, *self.python, *self.engine_dirs, *self.engine_files, *self.gpu_dirs]

    def bwrap_args(self) -> list[str]:
        """Bubblewrap's arguments for this view (without the command)."""
        ws = self.workspace
        tmp_size = ["--size", str(self.disk_mb * 2 ** 20)] if self.disk_mb else []
        if self.worker_uid is None:   # nobody in bubblewrap's user namespace
            users, shared = ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)], []
        else:  # root: no user namespace here; the worker's boot drops to worker_uid (mountns.become_nobody_as)
            users = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
            shared = ["--perms", "1777"]   # root's tmpfs mounts, written by the worker's uid
        args = [*users, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
                *tmp_size, *shared, "--tmpfs", "/tmp", *tmp_size, *shared, "--tmpfs", "/dev/shm"]
        if self.worker_uid is not None:  # as root, bubblewrap makes the folders above a bound path 0700: too tight
            for d in folders_above([*self.python, *self.engine_dirs, *self.engine_files, ws]):
                args += ["--perms", "0755", "--dir", str(d)]
        links = dict(self.symlinks)
        for d in SYSTEM_DIRS:
            if d in links:
                args += ["--symlink", links[d], d]
            elif d in self.system_dirs:
                args += ["--ro-bind", d, d]
        for path in (*self.etc, *self.python, *self.engine_dirs, *self.engine_files):
            args += ["--ro-bind", path, path]
        for f in self.masks:  # an empty file in place of each hidden one
            args += ["--ro-bind", "/dev/null", f]
        for dev in self.gpu_devices:
            args += ["--dev-bind", dev, dev]
        for d in self.gpu_dirs:
            args += ["--ro-bind", d, d]
        if self.disk_mb is None:  # the probe: no quota, the folder itself
            return args + ["--bind", ws, ws, "--chdir", ws]
        # the workspace is a tmpfs of the quota's size (charged to the worker's memory too), which the
        # boot code fills from a read-only view of the copy: a submission that fills it harms nobody
        own = ["--perms", "0777"] if self.worker_uid is not None else []   # (no one else is in this mount view)
        return args + ["--ro-bind", ws, SUBMISSION_VIEW, "--size", str(self.disk_mb * 2 ** 20), *own,
                       "--tmpfs", ws, "--chdir", ws]

    def namespace_input(self) -> dict:
        """What grader.boundary.inside.mountns builds (`build_root`), as JSON-ready plain data; the view is built
        on `<workspace>.root`, an empty folder made here (removed by whoever removes the workspace)."""
        root = self.workspace + ".root"
        os.makedirs(root, exist_ok=True)
        shown = self.read_only()
        return {"ro": [p for p in shown if os.path.isdir(p)], "ro_files": [p for p in shown if not os.path.isdir(p)],
                "dev": [d for d in DEV_NODES if os.path.exists(d)] + list(self.gpu_devices), "rw": self.workspace,
                "root": root, "disk_mb": self.disk_mb, "submission_view": SUBMISSION_VIEW, "masks": list(self.masks),
                "symlinks": dict(self.symlinks), "worker_uid": self.worker_uid}


def mount_view(workspace: Path, *, gpu: bool, disk_mb: int | None = None, masks: list = (),
               worker_uid: int | None = None) -> MountView:
    """The view of a worker on `workspace`, from what this machine has."""
    def outside_system(d: str) -> bool:  # shown with /usr already (and a link there such as
        return not any(d.startswith(top + "/") for top in SYSTEM_DIRS)  # cuda -> cuda-12.4 cannot be bound on)
    return MountView(
        workspace=str(workspace),
        symlinks=tuple((d, os.readlink(d)) for d in SYSTEM_DIRS if os.path.islink(d)),
        system_dirs=tuple(d for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)),
        etc=tuple(f for f in ETC_FILES if os.path.exists(f)),
        python=tuple(str(r) for r in python_roots()),
        engine_dirs=tuple(str(d) for d in WORKER_ENGINE_DIRS if d.is_dir()),
        engine_files=tuple(str(f) for f in WORKER_ENGINE_FILES),
        gpu_dirs=tuple(d for d in GPU_DIRS if os.path.isdir(d) and outside_system(d)) if gpu else (),
        gpu_devices=tuple(sorted(glob.glob("/dev/nvidia*"))) if gpu else (),
        masks=tuple(masks), disk_mb=disk_mb, worker_uid=worker_uid)


def folders_above(paths: list) -> list[Path]:
    """The folders above `paths` that the mount view must make, outermost first (not /, not the
    view's own mounts and not what is bound whole). Folders inside the view's own tmpfs mounts
    (/tmp, /dev/shm) are made too: a checkout or venv under /tmp needs them passable by the worker's uid."""
    tmpfs = {Path(d) for d in TMPFS_DIRS}
    made = {Path(p) for p in ("/", "/dev", "/proc", *SYSTEM_DIRS)} | tmpfs
    bound_whole = made - tmpfs - {Path("/")}
    above = {a for p in paths for a in Path(p).parents}
    return sorted((a for a in above if a not in made and not any(m in a.parents for m in bound_whole)),
                  key=lambda a: len(a.parts))
