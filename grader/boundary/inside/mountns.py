"""Rung (b) of the isolation ladder: bubblewrap's filesystem view, built with the kernel's namespaces.

Run by `grader.boundary.launch` (rung b's launcher) as the first process inside fresh user, mount,
PID, network, IPC and UTS namespaces (`unshare --user --map-root-user --mount --pid --net --ipc --uts --fork --kill-child`),
before any student code exists in the process tree. As root of those namespaces (and of nothing
outside them) it:

1. mounts an empty tmpfs as the new root and bind-mounts into it, read-only, exactly what
   bubblewrap would: the system directories, the Python installation, the worker's engine files
   and a few /etc files; then the worker's own workspace read-write, a private /tmp and /dev/shm,
   a /proc of the new PID namespace, and the harmless /dev nodes;
2. makes it the root (pivot_root, the host's tree detached), sets no_new_privs and a parent-death
   signal;
3. execs the worker through a second, nested user namespace that maps uid/gid 65534 (nobody)
   onto this one's root, so the worker holds no capability at all, not even in its own namespaces.

Started by root, the grader makes these namespaces without a user namespace (root may), and the
worker itself drops, first thing, to an unprivileged host uid of its own ("worker_uid", one per
running worker: the kernel exempts uid 0 from RLIMIT_NPROC) and becomes nobody in a nested user
namespace of that uid (`become_nobody_as`); the tmpfs mounts it writes to are that uid's.

Usage (argv): mountns.py VIEW_JSON -- COMMAND...   where VIEW_JSON is the worker's
`grader.boundary.mount_view.MountView` as `namespace_input()` renders it (plus "unshare": the util-linux
unshare binary): {"ro": [...folders], "ro_files": [...], "dev": [...], "rw": workspace, "root": an
empty folder to build the view on, "symlinks": {link: target}, "masks": files shown empty,
"disk_mb": the workspace's quota or null, "submission_view": where the boot finds the copy,
"worker_uid": the host uid a root grader's worker runs as, or null}. Standard library only: it runs
as a script, before the view exists.
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _bind(root: str, path: str, *, readonly: bool, is_file: bool = False) -> None:
    _bind_at(path, root + path, readonly=readonly, is_file=is_file)


def _bind_at(path: str, target: str, *, readonly: bool, is_file: bool = False) -> None:
    if not is_file:
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):  # (a file to mask exists already, in a read-only mount)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(path, target, None, MS_BIND | MS_REC)
    if readonly:  # a bind mount becomes read-only only on a remount
        _mount(path, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_root(view: dict, root: str) -> None:
    """Mount `view` (see the module's docstring) on the empty folder `root`."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates to the host
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    for link, target in view.get("symlinks", {}).items():
        os.symlink(target, root + link)
    # the private /tmp first: whatever lives under the host's /tmp (the engine, a venv, the
    # workspace) is bound on top of it below, not hidden by it
    size = f",size={view['disk_mb']}m" if view.get("disk_mb") else ""
    owner = f",uid={view['worker_uid']},gid={view['worker_uid']}" if view.get("worker_uid") is not None else ""
    for sub in ("tmp", "dev/shm"):
        os.makedirs(f"{root}/{sub}", exist_ok=True)
        _mount("tmpfs", f"{root}/{sub}", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" + size)
    for path in view["ro"]:
        _bind(root, path, readonly=True)
    for path in view.get("ro_files", []):
        _bind(root, path, readonly=True, is_file=True)
    for path in view.get("masks", []):  # an empty file in place of each hidden one
        _bind_at("/dev/null", root + path, readonly=True, is_file=True)
    for dev in view.get("dev", []):
        _bind(root, dev, readonly=False, is_file=True)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    quota = view.get("disk_mb")
    if quota:
        # the workspace is a tmpfs of the quota's size; the boot code fills it from a read-only view
        _bind_at(view["rw"], root + view["submission_view"], readonly=True)
        os.makedirs(root + view["rw"], exist_ok=True)
        _mount("tmpfs", root + view["rw"], "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0755,size={quota}m{owner}")
    else:
        _bind(root, view["rw"], readonly=False)
    _mount("none", root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)  # the skeleton itself


def _pivot_root(root: str) -> None:
    """Make `root` the root of this mount namespace and drop the old one entirely. (A chroot would
    leave the host's tree reachable underneath, and the kernel refuses new user namespaces in one.)"""
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None or _libc.syscall(number, b".", b".") != 0:
        raise OSError(ctypes.get_errno(), f"pivot_root on {platform.machine()}")
    if _libc.umount2(b".", MNT_DETACH) != 0:  # the old root, stacked on top by pivot_root(".", ".")
        raise OSError(ctypes.get_errno(), "umount2 of the old root")
    os.chdir("/")


def main(argv: list[str]) -> None:
    view = json.loads(argv[0])
    command = argv[argv.index("--") + 1:]
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # the worker dies with the grader's launcher
    root = view["root"]  # an empty folder the grader made; what we mount on it exists only in here
    build_root(view, root)
    _pivot_root(root)
    os.chdir(view["rw"])
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    # This process stays PID 1 of the namespace, as bubblewrap's init does: the kernel keeps signals
    # from inside the namespace away from it, and when it exits every process in there dies.
    child = os.fork()
    if child == 0 and view.get("worker_uid") is not None:  # its boot code calls become_nobody_as first
        os.execv(command[0], command)
    if child == 0:
        # a nested user namespace in which the worker is nobody, with no capabilities
        os.execv(view["unshare"], [view["unshare"], f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--", *command])
    os._exit(_reap_until(child))


CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4


def enter(view: dict) -> None:
    """What `main` does, for a process forked by the worker zygote instead of exec'd: the same
    namespaces, the same view, the same init as PID 1, and the worker as nobody in a nested user
    namespace (for a root grader: the boot's drop, `become_nobody_as`, makes it that). Returns only in
    that worker, inside the new root (the two processes above it wait for it and exit with its
    status); view["rw"] is its working directory."""
    uid, gid = os.geteuid(), os.getegid()
    worker_uid = view.get("worker_uid")
    if worker_uid is None:
        _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
        _map_self(0, uid, gid)  # root of these namespaces only, as `unshare --map-root-user`
    else:  # root: the namespaces without a user namespace; the worker drops to its own uid below
        _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    init = os.fork()  # the first child of a new PID namespace is its PID 1 (`unshare --fork --kill-child`)
    if init:
        os._exit(_reap_until(init))
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    _as_init()
    build_root(view, view["root"])
    _pivot_root(view["root"])
    os.chdir(view["rw"])
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    worker = os.fork()
    if worker:
        os._exit(_reap_until(worker))
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the worker: as any Python
    if worker_uid is not None:  # the boot drops to it first (grader.boundary.inside.boot), as after `main`'s exec
        return
    _unshare(CLONE_NEWUSER)
    _map_self(NOBODY, 0, 0)
    drop_capabilities()  # an exec as nobody would drop them; a fork keeps them unless told


def become_nobody_as(uid: int) -> None:
    """A root grader's worker, before it reads the submission: host uid `uid` (unprivileged, its own,
    so RLIMIT_NPROC and every other per-user limit applies; the kernel exempts uid 0), and nobody in
    a nested user namespace of that uid, holding no capability in it either."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a user: every capability is dropped
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # (a change of uid cleared it)
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # (and made /proc/self root's: its uid_map could not be written)
    _unshare(CLONE_NEWUSER)
    _map_self(NOBODY, uid, uid)
    drop_capabilities()


def unshare_pid_with_init() -> None:
    """A new PID namespace whose PID 1 (this process's child) reaps and exits with the status of its
    own child, in which this call returns: the worker, whose parent is an init it cannot signal."""
    _unshare(CLONE_NEWPID)
    for _ in range(2):  # the init, then the worker
        child = os.fork()
        if child:
            _as_init()
            os._exit(_reap_until(child))
        _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the worker: as any Python


def _as_init() -> None:
    """No Python handler in a PID 1: a signal its namespace sends it then does nothing (the kernel's rule)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def _map_self(inside: int, uid: int, gid: int) -> None:
    for name, text in (("uid_map", f"{inside} {uid} 1"), ("setgroups", "deny"), ("gid_map", f"{inside} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # past the last capability it fails: fine
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _reap_until(child: int) -> int:
    """Reap every orphan the namespace hands to PID 1; return the worker's exit status as a shell would."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == child:
            return os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except OSError as e:  # the grader reads this line as a grader-side failure, never the student's
        print(f"dlgrade-sandbox-error: {e}", file=sys.stderr, flush=True)
        os._exit(125)
