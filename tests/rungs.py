"""Putting the grader on a given rung of the isolation ladder, the way a real machine would:

- (a) `bwrap`: this machine as it is (CI installs bubblewrap);
- (b) `namespaces`: bubblewrap hidden from PATH, as on a machine that lacks the package;
- (c) `uid`: bubblewrap hidden and `unshare` answering "Operation not permitted", as inside
  Docker's default seccomp profile; root only. An unprivileged uid must be able to reach this
  Python: where it lives under a 0700 home (pyenv in /root), the home gets o+x for the run and
  its mode back afterwards (what the grader's own message tells an instructor to do).

The grader probes for real every time; nothing here tells it which rung to pick.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from grader.boundary.sandbox import probe_isolation

RUNGS = ("bwrap", "namespaces", "uid")
DENY = "#!/bin/sh\necho \"$(basename \"$0\"): unshare failed: Operation not permitted\" >&2\nexit 1\n"


def shim_path(folder: Path, *, hide=(), deny=()) -> str:
    """A PATH of one folder linking every command of the current PATH except `hide`, with `deny`
    replaced by a command that fails as a forbidden syscall would."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for name in os.listdir(entry):
            target = folder / name
            if name in hide or name in deny or target.exists() or target.is_symlink():
                continue
            path = os.path.join(entry, name)
            if os.access(path, os.X_OK) and not os.path.isdir(path):
                target.symlink_to(path)
    for name in deny:
        (folder / name).write_text(DENY)
        (folder / name).chmod(0o755)
    return str(folder)


def _parents_without_search(path: Path) -> list[Path]:
    return [p for p in Path(path).resolve().parents if p != Path("/") and not p.stat().st_mode & stat.S_IXOTH]


def open_python_to_all() -> list[tuple[Path, int]]:
    """o+x on the folders above this Python and this checkout that lack it; returns what to give back."""
    changed = []
    for p in _parents_without_search(Path(sys.prefix)) + _parents_without_search(Path(__file__)):
        changed.append((p, p.stat().st_mode & 0o7777))
        p.chmod((p.stat().st_mode & 0o7777) | stat.S_IXOTH)
    return changed


@contextlib.contextmanager
def python_reachable_by_all():
    """Within the block another user can run this Python and read this checkout."""
    changed = open_python_to_all() if os.geteuid() == 0 else []
    try:
        yield
    finally:
        for p, mode in reversed(changed):
            p.chmod(mode)


@contextlib.contextmanager
def on_rung(rung: str, scratch: Path):
    """Within the block, the grader probes and lands on `rung`; skips when this machine cannot offer it."""
    saved_path, changed = os.environ.get("PATH", ""), []
    try:
        if rung == "bwrap" and not shutil.which("bwrap"):
            pytest.skip("bubblewrap is not installed here (CI installs it)")
        if rung in ("namespaces", "uid"):
            deny = ("unshare",) if rung == "uid" else ()
            os.environ["PATH"] = shim_path(scratch / f"path-{rung}", hide=("bwrap",), deny=deny)
        if rung == "uid":
            if os.geteuid() != 0:
                pytest.skip("rung (c) drops to a separate uid, which needs root")
            changed = open_python_to_all()
        probe_isolation.cache_clear()
        iso = probe_isolation()
        if iso.level != rung:
            pytest.skip(f"this machine does not offer rung {rung!r} the way it is simulated here "
                        f"(the probe found {iso.level!r}: {'; '.join(iso.unreachable)})")
        yield iso
    finally:
        os.environ["PATH"] = saved_path
        for p, mode in reversed(changed):
            p.chmod(mode)
        probe_isolation.cache_clear()


@contextlib.contextmanager
def keep_modes(*paths: Path):
    """Give `paths` their permission bits back afterwards (rung (c) closes the grader's folders to other users)."""
    saved = [(p, p.stat().st_mode & 0o7777) for p in paths]
    try:
        yield
    finally:
        for p, mode in saved:
            if p.stat().st_mode & 0o7777 != mode:  # (a normal user may not chmod the checkout's folders at all)
                p.chmod(mode)
