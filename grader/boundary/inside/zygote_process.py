"""The zygote process itself: imports its kind's heavy modules once, then forks one child per request.

Started by `grader.boundary.zygote.Zygote` as a fresh interpreter. Fork safety: it refuses to serve
with a thread running or CUDA initialised (the caller then starts processes cold). Each child gets
its own session, waits until the grader has placed it in its cgroup ("go"), then becomes a worker
(`grader.boundary.inside.worker_fork`) or a trusted pytest process. The zygote kills a child whose requester
hangs up, and kills all of them when its stdin closes.
"""
from __future__ import annotations

import ctypes
import gc
import os
import selectors
import signal
import socket
import sys
import time
import traceback

from grader.boundary.inside.fork_request import PytestForkRequest, WorkerForkRequest
from grader.boundary.inside.zygote_wire import TRUSTED, WORKER, kill_group, recv_msg, send_msg

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
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
                        kill_group(state["pid"])
                    _drop(conn, sel, by_conn, state)
                elif "pid" not in state:
                    try:
                        pid, go = _fork(kind, _request(kind, msg, fds), fds, listener)
                    except (OSError, ValueError) as e:  # the caller starts its process cold
                        send_msg(conn, {"error": f"{'request refused' if isinstance(e, ValueError) else 'fork failed'}: {e}"})
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
        kill_group(pid)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # until no child (nor adopted orphan) is left
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.005)
        except ChildProcessError:
            return


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


def _request(kind: str, msg, fds: list[int]) -> WorkerForkRequest | PytestForkRequest:
    """The request, checked on arrival: a malformed one is refused (its fds closed), never forked."""
    try:
        return (WorkerForkRequest if kind == WORKER else PytestForkRequest).from_json(msg)
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise


def _fork(kind: str, request: WorkerForkRequest | PytestForkRequest, fds: list[int], listener: socket.socket) -> tuple[int, int]:
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


def _child(kind: str, request: WorkerForkRequest | PytestForkRequest, fds: list[int], go_r: int) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote's end is the child's end
    go = _place_fds(fds, go_r)
    if os.read(go, 1) != b"g":  # the grader has put us in our cgroup (or hung up)
        os._exit(0)
    os.close(go)
    fresh_randomness()
    if kind == WORKER:
        from grader.boundary.inside.worker_fork import become_worker
        become_worker(request)
    else:
        _become_trusted(request)


def fresh_randomness() -> None:
    """What a new interpreter would have drawn from the OS: the forks of one zygote must not share it."""
    import random

    import numpy as np
    random.seed()
    np.random.seed()


def _become_trusted(req: PytestForkRequest) -> None:
    os.chdir(req.cwd)
    os.environ.clear()
    os.environ.update(req.env)
    sys.path[0] = req.cwd  # as `python -m pytest` run there
    sys.argv = ["pytest", *req.args]
    import pytest
    code = pytest.main(list(req.args))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def main(argv: list[str]) -> None:
    kind, address = argv[0], argv[1]
    if kind not in (WORKER, TRUSTED):
        raise SystemExit(f"unknown zygote kind {kind!r}")
    import importlib
    for name in argv[2:]:  # what its kind imports before it forks, then a batch's extra preloads (Zygote's)
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


if __name__ == "__main__":
    main(sys.argv[1:])
