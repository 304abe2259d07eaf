"""Zygotes: Python's start-up (torch, numpy, pytest, the engine) paid once per command, not per process.

A zygote is a fresh interpreter (never a fork of the grader, so it holds no test, no hidden data
and no course key) that imports the heavy modules, then forks one new process per request:

- the *worker* zygote forks each sandboxed worker. The forked child enters its own sandbox before
  it touches the submission: its own session, its cgroup (the grader places it there before the
  child may go on), then the rung's isolation (`grader.boundary.mountns.enter` on rungs a and b: new user,
  mount, PID, network, IPC and UTS namespaces, the same mount view bubblewrap builds, nobody in a
  nested user namespace with no capabilities; rung c: the worker's own uid; rung d: nothing),
  then the rlimits and the scrubbed environment, then `grader.boundary.worker.main`.
- the *trusted* zygote forks one pytest process per submission (`pytest.main` in the child; the
  assignment's tests and plugin are imported only there, never in the zygote).

Every request gets its own new process; no process is reused between two submissions, and nothing
crosses from a child back to the zygote but its exit status. Fork safety: the zygote starts no
thread (OpenBLAS with one thread, no OpenMP pool, CUDA never initialised: children pick their GPU
from their environment after the fork). A zygote that cannot start leaves the caller on a cold
start (`python` exec'd per process), which it says in its log.

Wire format (a Unix socket in a 0700 folder): 4-byte big-endian length + JSON, the request's file
descriptors passed alongside (SCM_RIGHTS). Request -> {"pid"} -> "go" -> ... -> {"exit": code}.
The zygote kills a child whose requester hangs up.
"""
from __future__ import annotations

import atexit
import ctypes
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

LENGTH = struct.Struct(">I")
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36
ENGINE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER, TRUSTED = "grader.boundary.worker", "pytest"   # the kinds, named by what their children run
KINDS = {
    # what each kind imports before it forks (numpy, torch: a worker's or a test's first import)
    WORKER: ("numpy", "torch", "grader.boundary.protocol", "grader.boundary.worker"),
    # everything grader.trusted.plugin imports, but not the plugin itself: pytest rewrites its asserts on import
    TRUSTED: ("numpy", "torch", "pytest", "grader.trusted.course_key", "grader.core.errors", "grader.authoring.handoff",
                "grader.authoring.pictures", "grader.intake.notebooks", "grader.boundary.client", "grader.core.results", "grader.boundary.sandbox",
                "grader.core.spec", "grader.authoring.checks"),
}


class Unavailable(Exception):
    """The zygote cannot serve this request (not started, gone, or the fork failed)."""


def send_msg(sock: socket.socket, obj, fds=()) -> None:
    data = json.dumps(obj).encode()
    frame = LENGTH.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [frame], list(fds))
    else:
        sock.sendall(frame)


def recv_msg(sock: socket.socket, *, max_fds: int = 0):
    """One message (and the fds that came with it); (None, []) at end of stream."""
    head, fds = b"", []
    while len(head) < LENGTH.size:
        if max_fds and not fds:
            chunk, fds, _, _ = socket.recv_fds(sock, LENGTH.size - len(head), max_fds)
        else:
            chunk = sock.recv(LENGTH.size - len(head))
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        head += chunk
    (size,) = LENGTH.unpack(head)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None, fds
        data += chunk
    return json.loads(data), fds


# --- the zygote process ----------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def serve(listener: socket.socket, kind: str) -> None:
    """Fork a child per request until stdin closes (the grader stopped it, or died)."""
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")  # the grader closes it (or dies): stop
    by_pid: dict[int, socket.socket] = {}
    by_conn: dict[socket.socket, dict] = {}
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "accept":
                conn, _ = listener.accept()
                conn.settimeout(10)
                by_conn[conn] = {}
                sel.register(conn, selectors.EVENT_READ, "conn")
            elif key.data == "parent":
                if not os.read(sys.stdin.fileno(), 4096):
                    _end_children(list(by_pid))
                    os._exit(0)
            elif key.data == "child":
                os.read(wake_r, 4096)
            else:
                conn = key.fileobj
                state = by_conn[conn]
                try:
                    msg, fds = recv_msg(conn, max_fds=4 if "pid" not in state else 0)
                except (OSError, ValueError):
                    msg, fds = None, []
                if msg is None:  # the requester hung up (or died): its child goes too
                    if state.get("pid") in by_pid:
                        _kill_group(state["pid"])
                    _drop(conn, sel, by_conn, state)
                elif "pid" not in state:
                    try:
                        pid, go = _fork(kind, msg, fds, listener)
                    except OSError as e:
                        send_msg(conn, {"error": f"fork failed: {e}"})
                        _drop(conn, sel, by_conn, state)
                        continue
                    state.update(pid=pid, go=go)
                    by_pid[pid] = conn
                    send_msg(conn, {"pid": pid})
                elif msg == "go" and state.get("go") is not None:
                    os.write(state["go"], b"g")
                    os.close(state.pop("go"))
        _reap(by_pid, by_conn, sel)


def _drop(conn, sel, by_conn, state) -> None:
    if state.get("go") is not None:
        os.close(state.pop("go"))  # a child still waiting for its go ends
    sel.unregister(conn)
    by_conn.pop(conn, None)
    conn.close()


def _end_children(pids: list[int]) -> None:
    """Kill every child's process group and reap them (their own children die with them)."""
    for pid in pids:
        _kill_group(pid)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # until no child (nor adopted orphan) is left
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.005)
        except ChildProcessError:
            return


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _reap(by_pid, by_conn, sel) -> None:
    while True:  # its children, and the orphans of theirs it adopted as their subreaper
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = by_pid.pop(pid, None)
        if conn is None or conn not in by_conn:
            continue
        try:
            send_msg(conn, {"exit": os.waitstatus_to_exitcode(status)})
        except OSError:
            pass
        _drop(conn, sel, by_conn, by_conn[conn])


def _fork(kind: str, request: dict, fds: list[int], listener: socket.socket) -> tuple[int, int]:
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            os.close(go_w)
            os.close(ready_r)
            os.setsid()  # before the grader learns the pid: it kills the child by process group
            os.write(ready_w, b"r")
            os.close(ready_w)
            _child(kind, request, fds, go_r)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # noqa: BLE001 - the grader reads this as a grader-side failure
            try:
                os.write(2, f"dlgrade-sandbox-error: {type(e).__name__}: {e}\n".encode())
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    for fd in (*fds, go_r, ready_w):
        os.close(fd)
    os.read(ready_r, 1)
    os.close(ready_r)
    return pid, go_w


def _place_fds(fds: list[int], go_r: int) -> int:
    """stdin /dev/null, stdout and stderr to fds[-1] (the output), fds[0] as 3, go as 4; close the rest
    (the zygote's listener and every other requester's connection)."""
    high = [fcntl_dup(fd) for fd in [os.open(os.devnull, os.O_RDONLY), fds[-1], fds[0], go_r]]
    null, out, first, go = high
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.dup2(first, 3)
    os.dup2(go, 4)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 4:
            try:
                os.close(fd)
            except OSError:
                pass
    return 4


def fcntl_dup(fd: int) -> int:
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 100)


def _child(kind: str, request: dict, fds: list[int], go_r: int) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote's end is the child's end
    go = _place_fds(fds, go_r)
    if os.read(go, 1) != b"g":  # the grader has put us in our cgroup (or hung up)
        os._exit(0)
    os.close(go)
    if kind == WORKER:
        _become_worker(request)
    else:
        _become_trusted(request)


def _fresh_randomness() -> None:
    """What a new interpreter would have drawn from the OS: the forks of one zygote must not share it."""
    import random

    import numpy as np
    random.seed()
    np.random.seed()


def _become_worker(req: dict) -> None:
    from grader.boundary import mountns
    level = req["level"]
    if level == "bwrap":  # returns in the worker only, inside bubblewrap's sandbox (as req["uid"] for root)
        _join_bubblewrap(req["bwrap"], req["workspace"], req.get("uid"))
    elif level == "namespaces":
        mountns.enter(req["view"])  # returns in the worker only, as nobody, inside the new root
    elif level == "uid":
        uid = int(req["uid"])
        _import_engine_from(req["engine"])  # the checkout is closed to this uid (grader.boundary.closed_folders)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # from root to a user: every capability is dropped
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # (a change of uid cleared it)
        if os.getppid() == 1:
            os._exit(0)
        os.chdir(req["workspace"])
    else:
        os.chdir(req["workspace"])
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.environ.clear()
    os.environ.update(req["env"])
    if req.get("fill_from"):  # the submission into the quota'd workspace, before any of its code runs
        try:
            for name in os.listdir(req["fill_from"]):  # entry by entry: "." may be root's (sandbox._boot)
                path = os.path.join(req["fill_from"], name)
                (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, name)
        except OSError as e:
            print(f"dlgrade: the worker cannot copy in the submission: {e}", file=sys.stderr)
            os._exit(3)
    import resource
    for name, value in req["rlimits"]:
        kind = getattr(resource, name, None)
        if kind is not None:
            hard = resource.getrlimit(kind)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
    _fresh_randomness()
    import torch
    torch.set_num_threads(int(req.get("threads", 1)))  # the pool does not exist yet: it starts at this size
    sys.argv = ["-c", "3"]
    from grader.boundary import worker
    worker.FORKED = True
    worker.main(["3"])


def _import_engine_from(root: str) -> None:
    """Later imports of the engine (and of the student package) come from the world-readable copy at
    `root`: the packages already imported keep their objects, but look for new modules there."""
    import grader
    import grader.boundary
    grader.__path__[:] = [os.path.join(root, "grader")]
    grader.boundary.__path__[:] = [os.path.join(root, "grader", "boundary")]
    sys.path[:] = [root, *(p for p in sys.path if p != ENGINE_PARENT)]


NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt", "user")  # the user namespace last: it drops our rights


def _join_bubblewrap(argv: list[str], workspace: str, uid: int | None = None) -> None:
    """Rung (a) for a forked worker: bubblewrap builds the sandbox (`argv`: its namespaces and mount
    view for this workspace) around a holder process; this process joins all of its namespaces, and
    its child, the worker, runs in there: uid 65534, no capability, bubblewrap's PID namespace (its
    init kills the worker when the holder ends, which it does when this process ends). For a root
    grader bubblewrap makes no user namespace, and the worker drops to `uid`, its own (see
    grader.boundary.mountns.become_nobody_as)."""
    from grader.boundary import mountns
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
    if uid is not None:
        mountns.become_nobody_as(int(uid))
        return
    mountns.drop_capabilities()  # an exec as 65534 would drop them; a process that joined keeps them unless told


def _become_trusted(req: dict) -> None:
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    sys.path[0] = req["cwd"]  # as `python -m pytest` run there
    sys.argv = ["pytest", *req["args"]]
    _fresh_randomness()
    import pytest
    code = pytest.main(req["args"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def main(argv: list[str]) -> None:
    kind, address = argv[0], argv[1]
    if kind not in KINDS:
        raise SystemExit(f"unknown zygote kind {kind!r}")
    import importlib
    for name in (*KINDS[kind], *argv[2:]):  # argv[2:]: a batch's extra preloads (Zygote's `preload`)
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    if kind == WORKER:
        import torch
        if torch.cuda.is_initialized():  # a CUDA context does not survive a fork: refuse, the caller goes cold
            print("not fork-safe: CUDA is initialised", flush=True)
            raise SystemExit(1)
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # forking a process with threads can deadlock the child: refuse, the caller goes cold
        print(f"not fork-safe: {threads} threads after the imports", flush=True)
        raise SystemExit(1)
    # orphans below it come to it and are reaped: a worker that joined bubblewrap's PID namespace from
    # outside would otherwise stay a zombie wherever the machine's init does not reap, and bubblewrap's
    # init would wait for it forever
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # what was imported is never garbage: the children's collections skip it, and leave its pages
    # shared (pytest alone collects 5 times per session: 1 s of a 1.5 s run with torch's objects)
    gc.freeze()
    print("ready", flush=True)
    serve(listener, kind)


# --- the caller's side -----------------------------------------------------------------------------

class ForkedProcess:
    """A process forked by a zygote, with the parts of `subprocess.Popen` the grader uses."""

    def __init__(self, pid: int, conn: socket.socket, stdout=None):
        self.pid, self.conn, self.stdout, self.returncode = pid, conn, stdout, None
        self.args = ["<forked by the zygote>"]

    def poll(self):
        if self.returncode is None:
            self._read_exit(0)
        return self.returncode

    def wait(self, timeout: float | None = None):
        if self.returncode is None:
            self._read_exit(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _read_exit(self, timeout: float | None) -> None:
        import select
        try:
            ready, _, _ = select.select([self.conn], [], [], timeout)
        except (OSError, ValueError):
            ready = [self.conn]
        if not ready:
            return
        try:
            self.conn.settimeout(5)
            msg, _ = recv_msg(self.conn)
        except (OSError, ValueError):
            msg = None
        if isinstance(msg, dict) and isinstance(msg.get("exit"), int):
            self.returncode = msg["exit"]
        else:  # the zygote is gone; so is the child (its parent-death signal), or we make sure
            _kill_group(self.pid)
            self.returncode = -signal.SIGKILL
        self.conn.close()

    def kill(self) -> None:
        _kill_group(self.pid)


class Zygote:
    """A running zygote of one kind, owned by this process (closed at exit)."""

    def __init__(self, kind: str, env: dict[str, str], *, isolated: bool = False, timeout: float = 120,
                 preload: tuple[str, ...] = ()):
        self.kind = kind
        self.folder = tempfile.mkdtemp(prefix=f"dlgrade-zygote-{kind}-")  # 0700: only this user connects
        self.address = os.path.join(self.folder, "socket")
        argv = [sys.executable, *(["-I"] if isolated else []), "-c", f"import sys; sys.path.insert(0, {ENGINE_PARENT!r}); "
                "from grader.boundary.zygote import main; main(sys.argv[1:])", kind, self.address, *preload]
        self.stderr = os.path.join(self.folder, "stderr")  # a file: a pipe nobody drains could block it
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         env=env, cwd="/", start_new_session=True)
        self.error, self.timeout, self._ready = None, timeout, False

    def wait_ready(self) -> None:
        """Until it has imported everything and listens (or failed: `error` says why)."""
        if self._ready or self.error is not None:
            return
        line = _read_line(self.proc.stdout, self.timeout)
        if line == "ready":
            self._ready = True
            return
        try:
            with open(self.stderr, "rb") as f:
                err = f.read()[-2000:].decode(errors="replace")
        except OSError:
            err = ""
        self.error = (line or "no answer") + (f"; {err.strip().splitlines()[-1]}" if err.strip() else "")
        self.close()

    @property
    def alive(self) -> bool:
        return self.error is None and self.proc.poll() is None

    def close(self) -> None:
        """Stop it: it kills and reaps its children when its stdin closes, then exits (killed if it does not)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _read_line(stream, timeout: float) -> str:
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0].decode(errors="replace").strip() if box else ""


def spawn(address: str, request: dict, fds: list[int], *, place=None, stdout=None) -> ForkedProcess:
    """Ask the zygote at `address` for a child; `place(pid)` runs before the child may go on (the
    cgroup). Raises Unavailable when the zygote cannot serve it (the caller then starts cold)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    try:
        conn.connect(address)
        send_msg(conn, request, fds)
        reply, _ = recv_msg(conn)
        if not isinstance(reply, dict) or not isinstance(reply.get("pid"), int):
            raise Unavailable((reply or {}).get("error") or "the zygote closed the connection")
    except (OSError, ValueError) as e:
        conn.close()
        raise Unavailable(str(e)) from None
    except Unavailable:
        conn.close()
        raise
    proc = ForkedProcess(reply["pid"], conn, stdout)
    try:
        if place is not None:
            place(proc.pid)
    finally:
        try:
            send_msg(conn, "go")
        except OSError:
            pass
    return proc


# one zygote of each kind per process (a command, a trusted test process, a Ray worker)
_shared: dict[str, Zygote | None] = {}
_shared_lock = threading.Lock()


def shared(kind: str, env: dict[str, str], *, isolated: bool = False) -> Zygote | None:
    """This process's zygote of `kind`, started on first use; None (said once on stderr) if it cannot start."""
    if os.environ.get("DLGRADE_NO_ZYGOTE"):
        return None
    with _shared_lock:
        z = _shared.get(kind, "unset")
        if z == "unset" or (z is not None and z._ready and not z.alive):
            z = Zygote(kind, env, isolated=isolated)
        if z is not None and not z._ready:
            z.wait_ready()
            if z.error is not None:
                print(f"dlgrade: the {kind} zygote could not start ({z.error}); starting every {kind} process "
                      "cold (slower, equally isolated)", file=sys.stderr, flush=True)
                z = None
            _shared[kind] = z
        return z


def prestart(kind: str, env: dict[str, str], *, isolated: bool = False, preload: tuple[str, ...] = ()) -> None:
    """Start this process's zygote of `kind` without waiting for it (two start side by side); `preload`:
    modules it imports on top of its kind's (a batch pays them once instead of once per process)."""
    if os.environ.get("DLGRADE_NO_ZYGOTE"):
        return
    with _shared_lock:
        if kind not in _shared:
            _shared[kind] = Zygote(kind, env, isolated=isolated, preload=preload)


def close_shared() -> None:
    with _shared_lock:
        for z in _shared.values():
            if z is not None:
                z.close()
        _shared.clear()


atexit.register(close_shared)


if __name__ == "__main__":
    main(sys.argv[1:])
