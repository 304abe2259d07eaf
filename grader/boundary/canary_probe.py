"""The canary probe: loaded by a worker on the command's rung as if it were a submission, before the
first real one, it tries what a hostile submission would (grader.boundary.canary plants the files and
judges the answer). Standard library only; it reports, it never keeps or sends anything elsewhere.
"""
from __future__ import annotations

import ctypes
import os

PTRACE_ATTACH, PTRACE_DETACH = 16, 17


def _reads(path: str) -> bool:
    """True if this process can list the folder or read a byte of the file at `path`."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
        return True
    except OSError:
        return False


def _can_signal(pid: int) -> bool:
    try:
        os.kill(pid, 0)   # signal 0: the permission check alone, nothing is delivered
        return True
    except OSError:
        return False


def _can_trace(pid: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        return False
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    return True


def _named_on_command_lines(closed: list[str]) -> tuple[int, list[str]]:
    """How many other users' command lines this process can read, and the paths below `closed`
    that any command line names."""
    seen, named = 0, set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == os.getuid():
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        seen += 1
        for arg in argv:
            for piece in arg.decode(errors="replace").split("="):
                if any(piece == c or piece.startswith(c.rstrip("/") + "/") for c in closed):
                    named.add(piece)
    return seen, sorted(named)


def _lists(folder: str, name: str) -> bool:
    """True if listing `folder` shows `name` (a folder shown empty, as the mount view's skeleton of
    the checkout is, reveals nothing)."""
    try:
        return name in os.listdir(folder)
    except OSError:
        return False


def probe(files: list, folders: list, closed: list, grader_pids: list) -> dict:
    """What of the grader this process reached: the `files` it could read, the `folders` ([folder,
    the canary's name]) whose listing shows the canary, paths below the `closed` folders named on
    readable command lines that it could read, grader processes it could signal or trace."""
    readable = [f for f in files if _reads(f)] + [folder for folder, name in folders if _lists(folder, name)]
    seen, named = _named_on_command_lines(closed)
    readable += [p for p in named if p not in readable and _reads(p)]
    return {"readable": readable, "other_command_lines": seen,
            "signalled": [p for p in grader_pids if _can_signal(p)],
            "traced": [p for p in grader_pids if _can_trace(p)]}
