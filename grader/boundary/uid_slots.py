"""Unprivileged host uids for workers, one per running worker, held by a lock file.

Rung (c) runs each worker as a uid of its own that owns its workspace; on rungs (a) and (b) a root
grader's worker drops to one too, since the kernel exempts uid 0 from RLIMIT_NPROC. When the worker
stops, whatever still runs as its uid is killed and its files in the shared folders deleted.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from grader.core.errors import ToolkitError

UID_RANGE = range(61000, 61000 + 512)  # one uid per concurrent worker


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
