"""Rung (c), deny by default: while a command grades, the folders it touches are closed to every
user but root, and a worker runs from a world-readable copy of exactly what it needs.

A rung (c) worker is an unprivileged uid on the host, with no mount view of its own: it sees
every file the machine leaves readable to "other". Denying file by file cannot keep up with what
a machine holds, so the grader closes whole folders instead (the checkout with its `.git` and
every assignment, the assignment and reference in use, the inputs, the output folder): "other"
loses r, w and x on each, so no path below it can be opened, listed or even tested for existence.
What a worker does need (this Python, the worker's engine files, the student package) stays open:
Python's own folders are never closed (a folder above them is closed around them, entry by entry),
and the engine files are read from `worker_engine_copy()`, never from the checkout.

Each closer holds a shared lock on a record of the folder's original mode (threads grading at once,
and several graders on one machine, close the same checkout); the last one to let go gives the
mode back. A grader killed outright leaves its folders closed, the safe side, and the record tells
the next grader what to give back.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

CLOSE_OTHER = 0o007   # the 'other' bits a closed folder loses
ENGINE_COPY_ENV = "DLGRADE_WORKER_ENGINE"   # the command's engine copy, for its trusted processes
RECORDS = Path(tempfile.gettempdir()) / f"dlgrade-closed-{os.geteuid()}"   # 0700, this user's: a record per path


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _record_of(path: Path) -> Path:
    return RECORDS / hashlib.sha256(str(path).encode()).hexdigest()[:32]


def _own_records_folder() -> None:
    """The records' folder, made by this user and closed to all others. One made by someone else
    (a worker's uid, ahead of the grader, in the shared /tmp) could change which modes come back."""
    RECORDS.mkdir(mode=0o700, exist_ok=True)
    st = RECORDS.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise PermissionError(f"{RECORDS} is not a folder of this user's closed to others; remove it")


@contextlib.contextmanager
def _records_locked() -> Iterator[None]:
    """All graders' records are read and changed one at a time (an exclusive flock, held briefly)."""
    _own_records_folder()
    fd = os.open(RECORDS / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _close_one(path: Path, mode_mask: int) -> int | None:
    """Close `path`; returns the descriptor that holds it closed (a shared flock on its record).

    The record keeps the mode the path had before any grader closed it, written by the first closer
    and read by the others, so the last holder (threads of one grader, or several graders: each
    holds its own lock) gives back the original, and a grader killed outright leaves it to the next.
    None when the path's mode cannot be changed (a read-only data set): the canary check judges it."""
    with _records_locked():
        fd = os.open(_record_of(path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            saved = os.read(fd, 16).decode().strip()
            mode = int(saved, 8) if saved else stat.S_IMODE(path.lstat().st_mode)
            if mode & mode_mask:
                try:
                    os.chmod(path, mode & ~mode_mask)
                except OSError:
                    if not saved:
                        os.unlink(_record_of(path))
                    os.close(fd)
                    return None
            if not saved:
                os.write(fd, f"{mode:o}\n".encode())
            fcntl.flock(fd, fcntl.LOCK_SH)   # one holder among others
        except BaseException:
            os.close(fd)
            raise
    return fd


def _reopen_one(path: Path, fd: int) -> None:
    """Give `path` its mode back if no other holder remains; release this holder."""
    with _records_locked():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another thread or grader still holds it closed
            os.close(fd)
            return
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            saved = os.read(fd, 16).decode().strip()
            if saved:
                with contextlib.suppress(OSError):  # it is gone (a temporary folder): nothing to give back
                    os.chmod(path, int(saved, 8))
            with contextlib.suppress(OSError):
                os.unlink(_record_of(path))
        finally:
            os.close(fd)


def _plan(path: Path, keep_open: list[Path]) -> list[tuple[Path, int]]:
    """(path, bits to remove) that close `path` to others while every `keep_open` path stays reachable."""
    if path.is_symlink() or not path.exists() or _inside(path, keep_open):
        return []
    holders = [k for k in keep_open if path in k.parents]
    if not holders:
        return [(path, CLOSE_OTHER)]
    # Python (or the engine copy) lives below: others may pass through, not list, and every
    # entry beside the way down is closed
    plan = [(path, CLOSE_OTHER & ~0o001)]
    for entry in sorted(path.iterdir()):
        plan += _plan(entry, keep_open)
    return plan


def keep_open_for_workers() -> list[Path]:
    """What a worker's process needs to read on rung (c): this Python's folders and the engine copy."""
    from grader.boundary.mount_view import python_roots
    return [*python_roots(), worker_engine_copy()]


@contextlib.contextmanager
def closed_to_workers(paths: Iterable[Path | None]) -> Iterator[list[Path]]:
    """Within the block, no user but root (and each path's owner) can reach anything below `paths`;
    yields the paths closed. Shared folders (world-writable with the sticky bit, such as /tmp) and
    the root folder are never closed: they are the machine's, not the grader's."""
    keep = [Path(p).resolve() for p in keep_open_for_workers()]
    plan: list[tuple[Path, int]] = []
    for p in paths:
        if p is None:
            continue
        p = Path(p).resolve()
        if p == Path("/") or not p.exists():
            continue
        if p.is_dir() and stat.S_IMODE(p.stat().st_mode) & stat.S_ISVTX:
            continue
        plan += _plan(p, keep)
    held: list[tuple[Path, int]] = []
    try:
        for path, mask in dict.fromkeys(plan):
            fd = _close_one(path, mask)
            if fd is not None:
                held.append((path, fd))
        yield [path for path, _ in held]
    finally:
        for path, fd in reversed(held):
            _reopen_one(path, fd)


# --- the worker's engine files ------------------------------------------------------------------

@functools.cache
def worker_engine_copy() -> Path:
    """A world-readable copy of the engine files a worker runs (`grader/__init__.py`,
    `grader/boundary/__init__.py`, `grader/boundary/inside/`, the student package), laid out as in the checkout; made once per process, removed at its exit.
    Rung (c) workers import from here, so the checkout itself can be closed. The command's trusted
    processes (which start workers too, and end without running atexit) use the command's copy,
    named in their environment."""
    from grader.boundary.mount_view import ENGINE_DIR, WORKER_ENGINE_DIRS, WORKER_ENGINE_FILES
    inherited = os.environ.get(ENGINE_COPY_ENV)
    if inherited and (Path(inherited) / "grader" / "boundary" / "inside").is_dir():
        return Path(inherited)
    toolkit = ENGINE_DIR.parent
    root = Path(tempfile.mkdtemp(prefix="dlgrade-engine-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    os.environ[ENGINE_COPY_ENV] = str(root)   # (never in a worker's environment: that one is built from scratch)
    for d in WORKER_ENGINE_DIRS:
        if d.is_dir():
            shutil.copytree(d, root / d.relative_to(toolkit), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in WORKER_ENGINE_FILES:
        (root / f.relative_to(toolkit)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, root / f.relative_to(toolkit))
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return root


# --- other users' processes ---------------------------------------------------------------------

@functools.cache
def hide_other_users_processes() -> bool:
    """Remount /proc with hidepid=invisible, where the kernel lets this process (root, with
    CAP_SYS_ADMIN; Docker's default profile does not): a worker then cannot list the grader's
    processes or read their command lines. True if /proc hides them now. Left in place afterwards:
    it takes nothing from root, and undoing it could expose another grader still running."""
    import subprocess
    if os.geteuid() != 0:
        return False
    for option in ("hidepid=invisible", "hidepid=2"):   # the name (Linux 5.8+), then the number
        try:
            done = subprocess.run(["mount", "-o", f"remount,{option}", "/proc"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode == 0:
            return True
    return False
