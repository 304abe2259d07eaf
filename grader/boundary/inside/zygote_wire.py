"""The zygote's socket, both ends: its kinds, its framing and how a child is killed.

A Unix socket in a 0700 folder; each message is a 4-byte big-endian length and JSON, the request's
file descriptors passed alongside (SCM_RIGHTS). Request -> {"pid"} -> "go" -> ... -> {"exit": code}.
The trusted side (`grader.boundary.zygote`) and the zygote process (`zygote_process`) import it, so
it imports only the standard library.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct

LENGTH = struct.Struct(">I")
# the kinds, named by what their children run
WORKER, TRUSTED = "grader.boundary.inside.worker", "pytest"


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


def kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass
