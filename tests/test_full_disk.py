"""A full disk under the output folder: a clear error, exit 1, and a gradebook that is not corrupted
(a re-run with space continues from it)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "fixtures" / "assignments" / "tiny"
REFERENCE = REPO / "tests" / "fixtures" / "reference_solutions" / "tiny" / "tiny.py"


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                        capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if not ok:
        pytest.skip("mounting a small tmpfs needs root (and mount rights in this container)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def grade(subs: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "cli.py"), "grade", str(TINY), str(subs), "--out", str(out),
                           "-j", "2", "-q"], capture_output=True, text=True, timeout=300, cwd=REPO)


def test_full_disk_gives_a_clear_error_and_an_intact_gradebook(small_disk, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(6):
        shutil.copy(REFERENCE, subs / f"s{i}.py")
    run = grade(subs, small_disk / "out")
    assert run.returncode == 1, run.stderr[-2000:]
    assert "no space left" in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
    db = sqlite3.connect(small_disk / "out" / "gradebook.sqlite")
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    kept = db.execute("select count(*) from submissions").fetchone()[0]
    db.close()
    assert kept < 6
    # with space again, the same command finishes the batch from the kept gradebook
    bigger = tmp_path / "big"
    shutil.copytree(small_disk / "out", bigger)
    run = grade(subs, bigger)
    assert run.returncode == 0, run.stderr[-2000:]
    db = sqlite3.connect(bigger / "gradebook.sqlite")
    assert db.execute("select count(*) from submissions").fetchone()[0] == 6
