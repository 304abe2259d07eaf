"""Grader failures are never a student's zero: a sandbox that cannot start, a workspace the worker
cannot read, a trusted test process killed (the machine's memory) or a full disk make the row an
internal error whose reason blames the grader; the next run grades it again; and a batch whose
first three submissions fail alike stops and says to suspect the grader."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader import cli
import grader.commands.grade as grade_module
from grader.boundary import client as remote
from grader.core.assignments import find_assignment
from grader.commands.grade import SUSPECT_AFTER, grade_submissions
from grader.core.errors import EXIT_USAGE, INTERNAL_ERROR, GraderError, GraderSuspect, StudentCodeRaised, StudentError
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook
from grader.boundary.client import WorkerSession
from grader.core.results import SubmissionResult
from grader.grading.runner import RunOptions, grade_submission
from grader.boundary.sandbox import require_isolation
from test_engine_integrity import write_assignment
from tiny_batch import REFERENCE, TINY

BLAMES_THE_GRADER = "not even one that runs none of the submission's code"
ISOLATION = require_isolation("auto")


@pytest.fixture
def broken_sandbox(tmp_path, monkeypatch):
    """A sandbox that passed its probe but now fails to create its namespaces (what bubblewrap prints
    when the kernel's user-namespace limit is reached): every worker start fails."""
    if ISOLATION.level != "bwrap":
        pytest.skip("simulated through the bubblewrap rung")
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    broken = dataclasses.replace(ISOLATION, bwrap=str(fake))
    monkeypatch.setattr(grade_module, "require_isolation", lambda mode: broken)
    return broken


def _subs(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        shutil.copyfile(REFERENCE, folder / f"s{i}.py")
    return folder


def _assert_the_graders_fault(result: SubmissionResult, *texts: str) -> None:
    assert result.status == "error", (result.status, result.reason)
    assert result.reason.startswith(INTERNAL_ERROR), result.reason
    for text in texts:
        assert text in result.reason, result.reason


@pytest.mark.slow
def test_a_sandbox_that_cannot_start_is_the_graders_error_and_the_next_run_regrades(tmp_path, monkeypatch,
                                                                                    broken_sandbox):
    subs, out = _subs(tmp_path / "subs", 1), tmp_path / "out"
    report = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=1)
    (result,) = report.results
    _assert_the_graders_fault(result, BLAMES_THE_GRADER, "bwrap: Creating new namespace failed")
    assert {t.kind for t in result.tests if not t.other_mode} == {"grader-error"}
    assert "your code" not in result.reason
    with Gradebook(out / GRADEBOOK_FILE) as book:
        assert book.get("s0").status == "error"
    monkeypatch.undo()   # the sandbox is fixed
    again = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=1)
    assert [(r.submission, r.status, r.score, r.max_score) for r in again.results] == [("s0", "graded", 5.0, 5.0)]
    assert again.skipped == []


@pytest.mark.slow
def test_the_first_three_alike_internal_errors_stop_the_batch(tmp_path, capsys, broken_sandbox):
    subs, out = _subs(tmp_path / "subs", SUSPECT_AFTER + 2), tmp_path / "out"
    code = cli.main(["grade", str(TINY), str(subs), "--out", str(out), "-j", "1", "-q"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_USAGE
    assert "suspect the grader: the first 3 submissions (s0, s1, s2) all failed with the same internal error" in err
    assert "bwrap: Creating new namespace failed" in err
    with Gradebook(out / GRADEBOOK_FILE) as book:
        rows = book.rows()
    assert [(r.submission, r.status) for r in rows] == [("s0", "error"), ("s1", "error"), ("s2", "error")]


def _result(sid: str, status: str, reason: str) -> SubmissionResult:
    return SubmissionResult(sid, "tiny", "embedded", status=status, reason=reason, total_points=5)


def test_only_the_same_internal_error_in_every_first_submission_stops_a_batch():
    same = [_result(f"s{i}", "error", f"{INTERNAL_ERROR}: the worker cannot list its workspace "
                                      f"(/tmp/dlgrade-w-{i}x/w{i}): Permission denied") for i in range(3)]
    with pytest.raises(GraderSuspect, match="suspect the grader: the first 3 submissions"):
        grade_module._stop_if_the_grader_is_broken(same)
    one_graded = same[:2] + [_result("s2", "graded", "")]
    grade_module._stop_if_the_grader_is_broken(one_graded)
    different = same[:2] + [_result("s2", "error", f"{INTERNAL_ERROR}: the test process was killed (SIGKILL)")]
    grade_module._stop_if_the_grader_is_broken(different)


# --- the worker cannot read its workspace ----------------------------------------------------------

@pytest.fixture
def workspace_mode(monkeypatch):
    """Every worker's copy of the submission gets these permission bits just before it starts."""
    real = remote.start_worker
    bits = {}

    def start(workspace, *args, **kwargs):
        if "mode" in bits:
            os.chmod(workspace, bits["mode"])
        return real(workspace, *args, **kwargs)

    monkeypatch.setattr(remote, "start_worker", start)
    return bits


def _session(tmp_path: Path, source: str) -> WorkerSession:
    pristine = tmp_path / "pristine"
    pristine.mkdir(parents=True)
    (pristine / "submission.py").write_text(source)
    return WorkerSession(pristine, find_assignment(TINY).limits, module_file="submission.py",
                         scratch=tmp_path / "workers")


@pytest.mark.skipif(ISOLATION.level in ("none", "off"), reason="without a sandbox the worker is the grader's user")
def test_a_workspace_the_worker_cannot_read_is_the_graders_fault(tmp_path, workspace_mode):
    if os.geteuid() == 0 and ISOLATION.level in ("bwrap", "namespaces"):
        pytest.skip("graded as root on rungs (a) and (b), the launcher copies the submission in with root's rights "
                    "before the worker drops to its own uid: the host folder's mode never reaches the worker")
    workspace_mode["mode"] = 0o300     # the folder can be entered, not listed (what a bad umask leaves)
    with _session(tmp_path, "def answer():\n    return 42\n") as session:
        with pytest.raises(GraderError) as caught:
            session.ensure_started()
    # the worker says so before it reads the submission (or its boot code, copying it in, fails)
    assert BLAMES_THE_GRADER in str(caught.value) and "Permission denied" in str(caught.value)
    workspace_mode["mode"] = 0o755     # fixed: the same submission runs
    with _session(tmp_path / "again", "def answer():\n    return 42\n") as session:
        assert session.module.answer() == 42


@pytest.mark.parametrize("source, blamed", [
    # a submission that dies while it is imported is not believed: a worker without its code starts
    # normally, so the failure is the student's
    ("import os\nos._exit(1)\n", "it exited (exit code 1)"),
])
def test_a_submission_cannot_pass_its_own_failure_off_as_the_graders(tmp_path, source, blamed):
    with _session(tmp_path, source) as session:
        with pytest.raises(StudentError) as caught:
            session.ensure_started()
    assert blamed in caught.value.student_message


def test_a_top_level_raise_that_claims_a_grader_fault_is_dropped_not_believed(tmp_path):
    # top-level statements run one at a time (grader.boundary.inside.top_level): the raise is dropped with a note
    # naming its line, the rest of the module loads, and nothing blames the grader
    source = ("class GraderFault(Exception):\n    pass\n\n\nraise GraderFault('the grader is broken, give me points')\n"
              "\n\ndef answer():\n    return 42\n")
    with _session(tmp_path, source) as session:
        session.ensure_started()
        assert session.module.answer() == 42
        dropped = session.load_info["dropped"]
    assert [(d[1], d[2]) for d in dropped] == [(5, "GraderFault")], dropped


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or ISOLATION.level in ("none", "off"),
                    reason="a umask that hides the workspace from the worker but not from the grader needs root")
def test_an_unreadable_workspace_is_an_internal_error_and_the_next_run_regrades(tmp_path):
    subs, out = _subs(tmp_path / "subs", 1), tmp_path / "out"
    old = os.umask(0o477)              # the grader's copies: folders -wx, files -w-, for their owner
    try:
        report = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=1)
    finally:
        os.umask(old)
    (result,) = report.results
    _assert_the_graders_fault(result, BLAMES_THE_GRADER, "Permission denied")
    again = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=1)
    assert [(r.status, r.score) for r in again.results] == [("graded", 5.0)]


# --- the trusted side --------------------------------------------------------------------------------

KILLED_TESTS = '''\
import os
import signal

import pytest


@pytest.mark.points(1)
def test_first(student):
    assert student.answer() == 42


@pytest.mark.points(1)
def test_the_kernel_kills_the_test_process(student):
    os.kill(os.getpid(), signal.SIGKILL)     # what the OOM killer does to a trusted process out of memory


@pytest.mark.points(1)
def test_never_reached(student):
    assert student.answer() == 42
'''


@pytest.mark.slow
def test_a_test_process_killed_midway_is_an_internal_error(tmp_path):
    folder = write_assignment(tmp_path, "killed", points=3, tests={"hidden/test_killed.py": KILLED_TESTS})
    result = grade_submission(find_assignment(folder), REFERENCE, RunOptions())
    _assert_the_graders_fault(result, "the test process was killed (SIGKILL: out of memory?) after 1 of 3 tests")
    assert [t.status for t in result.tests] == ["passed", "failed", "failed"]
    assert result.max_score == 3


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    ok = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                              capture_output=True).returncode == 0
    if not ok:
        pytest.skip("mounting a small tmpfs needs root (and mount rights in this container)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_for_the_graders_own_files_is_an_internal_error(tmp_path, small_disk, monkeypatch):
    sub = tmp_path / "carol"
    sub.mkdir()
    shutil.copyfile(REFERENCE, sub / "tiny.py")
    (sub / "weights.bin").write_bytes(os.urandom(256 * 1024))
    monkeypatch.setattr("tempfile.tempdir", str(small_disk))   # where the grader copies the submission
    result = grade_submission(find_assignment(TINY), sub, RunOptions())
    _assert_the_graders_fault(result, "No space left on device")
    assert result.max_score == 5


def test_a_students_own_subclass_of_the_exception_asked_for_counts_as_it(tmp_path):
    # the task says "raise ValueError": `class WindowError(ValueError)` does, a KeyError does not
    source = ("class WindowError(ValueError):\n    pass\n\n\ndef check(x):\n    if x < 0:\n        raise WindowError('negative')\n"
              "    raise KeyError(x)\n")
    with _session(tmp_path, source) as session:
        with pytest.raises(StudentCodeRaised) as own:
            session.module.check(-1)
        with pytest.raises(StudentCodeRaised) as other:
            session.module.check(1)
    assert own.value.exc_type == "WindowError" and own.value.is_a("ValueError")
    assert other.value.exc_type == "KeyError" and not other.value.is_a("ValueError")
