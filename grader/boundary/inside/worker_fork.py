"""A worker forked by the worker zygote: enter the rung's sandbox, boot, serve.

Runs in the zygote's child (grader.boundary.inside.zygote_process), after the grader has placed it in its
cgroup. The rung's entry does with system calls what a cold start's launcher does with a new
process: on rung (a) it joins the namespaces bubblewrap built for this worker's `MountView`; on
rung (b) it makes them itself (`grader.boundary.inside.mountns.enter`, the same view); on rung (c) it
becomes the worker's uid and imports the engine from its world-readable copy; on rung (d) nothing.
Then `grader.boundary.inside.boot.boot` applies the same `BootPlan` a cold start gets. Standard library
only, but for torch, which the zygote imported already.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys

from grader.boundary.inside import mountns
from grader.boundary.inside.boot import boot
from grader.boundary.inside.fork_request import WorkerForkRequest

PR_SET_PDEATHSIG = 1
ENGINE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt", "user")  # the user namespace last: it drops our rights
SOCKET_FD = 3   # where the zygote's child finds the worker's end of the socket

_libc = ctypes.CDLL(None, use_errno=True)


def become_worker(request: WorkerForkRequest) -> None:
    """Enter the request's rung, boot with its plan, and serve (never returns)."""
    plan, level = request.boot, request.level
    if level == "bwrap":  # returns in the worker only, inside bubblewrap's sandbox
        join_bubblewrap(list(request.bwrap), request.workspace, drops_later=plan.drop_to is not None)
    elif level == "namespaces":
        mountns.enter(request.view)  # returns in the worker only, inside the new root
    elif level == "uid":
        become_uid(int(request.uid), plan.engine)
        os.chdir(request.workspace)
    else:
        os.chdir(request.workspace)
    boot(plan)
    import torch
    torch.set_num_threads(request.threads)  # the pool does not exist yet: it starts at this size
    sys.argv = ["-c", str(SOCKET_FD)]
    from grader.boundary.inside import worker
    worker.FORKED = True
    worker.main([str(SOCKET_FD)])


def become_uid(uid: int, engine: str) -> None:
    """Rung (c): the worker's own uid, with later imports from the engine's world-readable copy (the
    checkout is closed to this uid: grader.boundary.closed_folders)."""
    import_engine_from(engine)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a user: every capability is dropped
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # (a change of uid cleared it)
    if os.getppid() == 1:
        os._exit(0)


def import_engine_from(root: str) -> None:
    """Later imports of the engine (and of the student package) come from the world-readable copy at
    `root`: the packages already imported keep their objects, but look for new modules there."""
    import grader
    import grader.boundary
    import grader.boundary.inside
    grader.__path__[:] = [os.path.join(root, "grader")]
    grader.boundary.__path__[:] = [os.path.join(root, "grader", "boundary")]
    grader.boundary.inside.__path__[:] = [os.path.join(root, "grader", "boundary", "inside")]
    sys.path[:] = [root, *(p for p in sys.path if p != ENGINE_PARENT)]


def join_bubblewrap(argv: list[str], workspace: str, *, drops_later: bool) -> None:
    """Rung (a) for a forked worker: bubblewrap builds the sandbox (`argv`: its namespaces and mount
    view for this workspace) around a holder process; this process joins all of its namespaces, and
    its child, the worker, runs in there: uid 65534, no capability, bubblewrap's PID namespace (its
    init kills the worker when the holder ends, which it does when this process ends). For a root
    grader bubblewrap makes no user namespace, and the boot drops to the worker's own uid
    (`drops_later`; see grader.boundary.inside.mountns.become_nobody_as)."""
    info_r, info_w = os.pipe()
    hold_r, hold_w = os.pipe()
    holder = subprocess.Popen([*argv, "--die-with-parent", "--info-fd", str(info_w), "--", "/bin/sh", "-c",
                               "echo ready; read _"], stdin=hold_r, stdout=subprocess.PIPE, pass_fds=[info_w])
    os.close(info_w)
    os.close(hold_r)
    if holder.stdout.readline() != b"ready\n":  # bubblewrap's own words are the worker's last (stderr)
        holder.wait()
        os._exit(125)
    info = json.loads(os.read(info_r, 65536).decode())
    ns = {name: os.open(f"/proc/{info['child-pid']}/ns/{name}", os.O_RDONLY) for name in NAMESPACES}
    own = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in NAMESPACES}  # (before /proc changes)
    os.setgroups([])
    for name in NAMESPACES:
        if os.fstat(ns[name]).st_ino == own[name]:
            continue  # not made by bubblewrap (root's: no user namespace): nothing to join
        if _libc.setns(ns[name], 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"joining bubblewrap's {name} namespace: {os.strerror(err)}")
    inside = os.fork()  # the first process in bubblewrap's PID namespace
    if inside:
        code = mountns._reap_until(inside)
        os.close(hold_w)  # the holder ends, and bubblewrap with it
        holder.kill()
        os._exit(code)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for fd in (info_r, hold_w, holder.stdout.fileno(), *ns.values()):
        os.close(fd)
    # a PID namespace of the worker's own below it, whose init is the worker's parent, as bubblewrap's
    # init is a cold worker's: the kernel keeps the worker's signals away from it (kill(getppid()))
    mountns.unshare_pid_with_init()
    os.chdir(workspace)
    if not drops_later:
        mountns.drop_capabilities()  # an exec as 65534 would drop them; a process that joined keeps them unless told
