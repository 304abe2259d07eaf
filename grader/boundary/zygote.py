"""Zygotes: Python's start-up (torch, numpy, pytest, the engine) paid once per command, not per process.

A zygote is a fresh interpreter (never a fork of the grader, so it holds no test, no hidden data
and no course key) that imports the heavy modules, then forks one new process per request:

- the *worker* zygote forks each sandboxed worker. The forked child enters its own sandbox before
  it touches the submission: its own session, its cgroup (the grader places it there before the
  child may go on), then the rung's entry (`grader.boundary.inside.worker_fork`: on rungs a and b the same
  namespaces and the same `MountView` a cold start gets; rung c: the worker's own uid; rung d:
  nothing), then the same boot as a cold start (`grader.boundary.inside.boot`: the drop to the worker's uid,
  the scrubbed environment, the rlimits), then `grader.boundary.inside.worker.main`.
- the *trusted* zygote forks one pytest process per submission (`pytest.main` in the child; the
  assignment's tests and plugin are imported only there, never in the zygote).

Every request gets its own new process; no process is reused between two submissions, and nothing
crosses from a child back to the zygote but its exit status. Fork safety: the zygote starts no
thread (OpenBLAS with one thread, no OpenMP pool, CUDA never initialised: children pick their GPU
from their environment after the fork). A zygote that cannot start leaves the caller on a cold
start (`python` exec'd per process), which it says in its log.

The wire (`grader.boundary.inside.zygote_wire`): a Unix socket in a 0700 folder, a typed request
(`grader.boundary.inside.fork_request`, checked by the zygote on arrival) with its file descriptors,
then {"pid"} -> "go" -> ... -> {"exit": code}. The zygote kills a child whose requester hangs up.
This module is the caller's side; the zygote process itself is `grader.boundary.inside.zygote_process`.
"""
from __future__ import annotations

import atexit
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from grader.boundary.inside.fork_request import PytestForkRequest, WorkerForkRequest
from grader.boundary.inside.zygote_wire import TRUSTED, WORKER, kill_group, recv_msg, send_msg

log = logging.getLogger(__name__)

ENGINE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = {
    # what each kind imports before it forks (numpy, torch: a worker's or a test's first import)
    WORKER: ("numpy", "torch", "grader.boundary.inside.protocol", "grader.boundary.inside.worker",
             "grader.boundary.inside.worker_fork"),
    # everything grader.trusted.plugin imports, but not the plugin itself: pytest rewrites its asserts on import
    TRUSTED: ("numpy", "torch", "pytest", "grader.trusted.course_key", "grader.core.errors", "grader.authoring.handoff",
                "grader.authoring.pictures", "grader.intake.notebooks", "grader.boundary.client", "grader.core.results", "grader.boundary.sandbox",
                "grader.core.spec", "grader.authoring.checks"),
}


class Unavailable(Exception):
    """The zygote cannot serve this request (not started, gone, or the fork failed)."""


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
            kill_group(self.pid)
            self.returncode = -signal.SIGKILL
        self.conn.close()

    def kill(self) -> None:
        kill_group(self.pid)


class Zygote:
    """A running zygote of one kind, owned by this process (closed at exit)."""

    def __init__(self, kind: str, env: dict[str, str], *, isolated: bool = False, timeout: float = 120,
                 preload: tuple[str, ...] = ()):
        self.kind = kind
        self.folder = tempfile.mkdtemp(prefix=f"dlgrade-zygote-{kind}-")  # 0700: only this user connects
        self.address = os.path.join(self.folder, "socket")
        argv = [sys.executable, *(["-I"] if isolated else []), "-c", f"import sys; sys.path.insert(0, {ENGINE_PARENT!r}); "
                "from grader.boundary.inside.zygote_process import main; main(sys.argv[1:])", kind, self.address,
                *KINDS.get(kind, ()), *preload]
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


def spawn(address: str, request: WorkerForkRequest | PytestForkRequest, fds: list[int], *, place=None,
          stdout=None) -> ForkedProcess:
    """Ask the zygote at `address` for a child; `place(pid)` runs before the child may go on (the
    cgroup). Raises Unavailable when the zygote cannot serve it (the caller then starts cold)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    try:
        conn.connect(address)
        send_msg(conn, request.to_json(), fds)
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
    """This process's zygote of `kind`, started on first use; None (said once in the log) if it cannot start."""
    if os.environ.get("DLGRADE_NO_ZYGOTE"):
        return None
    with _shared_lock:
        z = _shared.get(kind, "unset")
        if z == "unset" or (z is not None and z._ready and not z.alive):
            z = Zygote(kind, env, isolated=isolated)
        if z is not None and not z._ready:
            z.wait_ready()
            if z.error is not None:
                log.warning(f"the {kind} zygote could not start ({z.error}); starting every {kind} process "
                            "cold (slower, equally isolated)")
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

