"""The isolation ladder (grader.boundary.sandbox): every rung this machine can offer is reached the way a real
machine reaches it (tests/rungs.py), probed once per command, recorded in every result, and used by
every worker of the batch; strict mode refuses the weak rungs; `check` works on a student's machine
that has none of the sandbox tools. The hostile corpus on each rung is tests/test_adversarial.py."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.scaffold import gradescope as gradescope_module
from grader.commands.grade import grade_submissions
from grader.core.errors import ToolkitError
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook
from grader.grading.runner import RunOptions, grade_submission
from grader.boundary.sandbox import LEVEL_TEXT, Isolation, probe_isolation, require_isolation
from rungs import RUNGS, keep_modes, on_rung, python_reachable_by_all, shim_path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TINY = HERE / "fixtures" / "assignments" / "tiny"
REFERENCE = HERE / "fixtures" / "reference_solutions" / "tiny" / "tiny.py"
HIDDEN_TEST = TINY / "tests" / "hidden" / "test_hidden.py"
READER = HERE / "adversarial" / "read_secrets.py"   # the corpus's submission that reads what it is told to


def _reader(paths: list[str]) -> str:
    """A correct tiny submission whose answer() returns 42 only if none of `paths` can be read."""
    source = READER.read_text()
    assert "TARGETS = []  # replaced at test time" in source
    return source.replace("TARGETS = []  # replaced at test time", f"TARGETS = {paths!r}")


@pytest.mark.slow
@pytest.mark.parametrize("rung", RUNGS)
def test_each_rung_is_recorded_in_every_output(rung, tmp_path):
    tmp_path.chmod(0o755)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ref.py").write_text(REFERENCE.read_text())
    (subs / "reader.py").write_text(_reader([str(HIDDEN_TEST), str(tmp_path / "out" / "grades.csv")]))
    with on_rung(rung, tmp_path) as iso, keep_modes(TINY, REFERENCE.parent):
        report = grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "out", jobs=2)
    assert [r.isolation for r in report.results] == [rung, rung]
    assert all(r.score == r.max_score == 5 for r in report.results), [r.to_json() for r in report.results]
    for sid in ("ref", "reader"):
        saved = json.loads((tmp_path / "out" / sid / "result.json").read_text())
        assert saved["isolation"] == rung and saved["isolation_warning"] == iso.warning
    with Gradebook(tmp_path / "out" / GRADEBOOK_FILE) as book:
        assert {row.isolation for row in book.rows()} == {rung}
    assert (rung in ("bwrap", "namespaces")) == (iso.warning is None)


@pytest.mark.slow
@pytest.mark.parametrize("rung", RUNGS)
def test_a_public_test_reads_nothing_of_the_graders(rung, tmp_path):
    """From a public test (test_answer), a submission reads another assignment's hidden tests, the
    checkout's .git, the inputs folder, another student's file and the output folder: none may open."""
    tmp_path.chmod(0o755)
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    subs.chmod(0o755)
    other = subs / "another_student.py"
    other.write_text(REFERENCE.read_text())
    other.chmod(0o644)
    targets = [str(next((REPO / "assignments").glob("*/tests/hidden/test_*.py"))), str(REPO / ".git" / "HEAD"),
               str(REPO / "README.md"), str(subs), str(other), str(out), str(out / "course.key"),
               str(out / "gradebook.sqlite")]
    (subs / "snoop.py").write_text(_reader(targets))
    repo_mode = REPO.stat().st_mode
    with on_rung(rung, tmp_path), keep_modes(TINY, REFERENCE.parent):
        report = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=1)
    snoop = next(r for r in report.results if r.submission == "snoop")
    answer = next(t for t in snoop.tests if t.nodeid.endswith("test_answer"))
    assert (answer.status, snoop.isolation) == ("passed", rung), answer.message  # the message lists what it read
    assert snoop.score == 5
    assert REPO.stat().st_mode == repo_mode, "the checkout's mode is given back after the command"


@pytest.mark.slow
def test_the_canary_names_a_folder_left_open(tmp_path):
    """On rung (c), a folder of the grader's that is left open to other users is found and named."""
    from grader.boundary.canary import probe_canaries, require_no_leak
    top = Path(tempfile.mkdtemp(prefix="dlgrade-test-"))   # pytest's own folders are closed to other users
    try:
        top.chmod(0o755)
        left_open, closed = top / "left-open", top / "closed"
        left_open.mkdir(mode=0o755)
        closed.mkdir(mode=0o700)
        with on_rung("uid", tmp_path) as iso:
            report = probe_canaries(iso, find_assignment(TINY).limits, {"an open folder": left_open,
                                                                        "a closed folder": closed})
    finally:
        shutil.rmtree(top)
    assert [leak for leak in report.leaks if "closed" in leak] == []
    assert any(str(left_open) in leak and "(an open folder)" in leak for leak in report.leaks), report
    assert not report.signalled and not report.traced
    with pytest.raises(ToolkitError, match="left-open"):
        require_no_leak(report)


SPAWNER = """import os
import time


def spawn(n):
    started = 0
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    return started


def uid():
    return os.getuid()
"""


@pytest.mark.rungs
@pytest.mark.parametrize("start", ["cold", "forked"])
@pytest.mark.parametrize("rung", RUNGS)
def test_no_worker_exceeds_max_processes_without_a_pids_cgroup(rung, start, tmp_path, monkeypatch):
    """Where no pids cgroup can be made, RLIMIT_NPROC alone holds the line, also for a root grader:
    its worker runs as an unprivileged host uid of its own (the kernel exempts uid 0 from the limit)."""
    from grader.boundary.client import WorkerSession
    from grader.boundary.sandbox import WORKER_ZYGOTE_ENV, worker_zygote
    pristine = tmp_path / "submission"
    pristine.mkdir()
    (pristine / "submission.py").write_text(SPAWNER)
    limits = dataclasses.replace(find_assignment(TINY).limits, max_processes=16)
    scratch = Path(tempfile.mkdtemp(prefix="dlgrade-w-"))   # as the runner's: passable by every uid
    scratch.chmod(0o711)
    monkeypatch.delenv(WORKER_ZYGOTE_ENV, raising=False)
    try:
        with on_rung(rung, tmp_path) as iso:
            bare = dataclasses.replace(iso, cgroup=None)   # a machine with no writable cgroup
            if start == "forked":
                address = worker_zygote(bare, limits)
                if not address and os.geteuid() != 0:  # (it falls back to cold workers, checked above, and says so)
                    pytest.skip("the worker zygote forks no worker on this rung for this user")
                assert address, "the worker zygote forks no worker on this rung"
                monkeypatch.setenv(WORKER_ZYGOTE_ENV, address)
            with WorkerSession(pristine, limits, isolation=bare, scratch=scratch) as session:
                session.ensure_started()
                started, inside = session.module.spawn(100), session.module.uid()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert 0 < started < limits.max_processes, f"{started} processes started against a limit of 16"
    assert inside == (65534 if rung in ("bwrap", "namespaces") else inside)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_closed_folder_gets_its_mode_back_when_the_last_grader_lets_go(tmp_path):
    """Rung (c) closes the grader's folders while it grades. Threads and graders closing the same
    checkout overlap; a grader killed outright leaves it closed, and the next one gives back the original."""
    from grader.boundary.closed_folders import closed_to_workers
    folder = tmp_path / "course"
    folder.mkdir()
    folder.chmod(0o755)
    with closed_to_workers([folder]):
        assert _mode(folder) == 0o750
        with closed_to_workers([folder]):   # a second grader, or another thread of this one
            pass
        assert _mode(folder) == 0o750, "given back while the first grader still grades"
    assert _mode(folder) == 0o755
    killed = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from grader.boundary.closed_folders import closed_to_workers\n"
                               f"with closed_to_workers([{str(folder)!r}]):\n"
                               "    print('closed', flush=True); time.sleep(60)\n"],
                              stdout=subprocess.PIPE, cwd=REPO)
    assert killed.stdout.readline() == b"closed\n"
    killed.kill()
    killed.wait()
    assert _mode(folder) == 0o750   # the safe side
    with closed_to_workers([folder]):
        assert _mode(folder) == 0o750
    assert _mode(folder) == 0o755


def test_the_trusted_side_uses_the_rung_it_is_given(tmp_path):
    """No re-probe after the command decided: a run told 'none' really runs unsandboxed (its worker
    reads the hidden test), although this machine offers more."""
    submission = tmp_path / "reader.py"
    submission.write_text(_reader([str(HIDDEN_TEST)]))
    told = Isolation("none", unreachable=("told so by the test",))
    result = grade_submission(find_assignment(TINY), submission, RunOptions(isolation=told))
    assert result.isolation == "none" and "NOT sandboxed" in result.isolation_warning
    answer = next(t for t in result.tests if t.nodeid.endswith("test_answer"))
    assert str(HIDDEN_TEST) in answer.message  # unsandboxed, the worker could read it


def test_strict_refuses_the_weak_rungs(tmp_path, monkeypatch):
    bare = shim_path(tmp_path / "bin", hide=("bwrap", "unshare", "setpriv", "prlimit"))
    monkeypatch.setenv("PATH", bare)
    probe_isolation.cache_clear()
    try:
        iso = require_isolation("auto")
        assert iso.level == "none"
        assert any("bubblewrap" in why for why in iso.unreachable)
        assert any("unshare is not installed" in why for why in iso.unreachable)
        with pytest.raises(ToolkitError, match="--sandbox strict needs bubblewrap or kernel namespaces"):
            require_isolation("strict")
    finally:
        probe_isolation.cache_clear()


@pytest.mark.slow
def test_check_runs_where_no_sandbox_tool_exists(tmp_path):
    """A student's own machine: no bubblewrap, unshare, setpriv or prlimit. The public tests run,
    and the output says plainly that the code is not sandboxed."""
    bare = shim_path(tmp_path / "bin", hide=("bwrap", "unshare", "setpriv", "prlimit"))
    env = {**os.environ, "PATH": bare}
    p = subprocess.run([sys.executable, str(REPO / "cli.py"), "check", str(TINY), str(REFERENCE)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr  # check exits 0 only on full marks
    assert "NOT sandboxed" in p.stdout + p.stderr


SETPRIV = shutil.which("setpriv") or "setpriv"


def _as_user(uid: int, argv: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv], env=env,
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.slow
@pytest.mark.parametrize("rung", ["namespaces", "none"])
def test_check_as_a_normal_user(rung):
    """A normal user (not root): kernel namespaces where the machine allows them (rung b), else
    nothing; the reference passes either way."""
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root")
    home = Path(tempfile.mkdtemp(prefix="dlgrade-user-"))  # pytest's tmp_path root is closed to other users
    try:
        home.chmod(0o777)
        hide = ("bwrap",) if rung == "namespaces" else ("bwrap", "unshare", "setpriv")
        env = {**os.environ, "PATH": shim_path(home / "bin", hide=hide), "HOME": str(home), "TMPDIR": str(home)}
        with python_reachable_by_all():
            p = _as_user(1000, [sys.executable, str(REPO / "cli.py"), "check", str(TINY), str(REFERENCE), "--json"],
                         env, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    result = json.loads(p.stdout)
    assert result["isolation"] == rung and result["score"] == result["max_score"]


@pytest.mark.slow
def test_the_gradescope_autograder_on_rung_c_hides_the_hidden_tests(tmp_path):
    """Gradescope's container: root, no bubblewrap, no namespaces. The reference gets full marks and a
    submission cannot read the hidden tests the autograder carries."""
    if os.geteuid() != 0:
        pytest.skip("rung (c) needs root")
    # a folder every user can walk into, as /autograder is (pytest's own temp root is closed to others,
    # which would hide a world-readable key by accident)
    base = Path(tempfile.mkdtemp(prefix="dlgrade-gradescope-"))
    base.chmod(0o755)
    try:
        _grade_on_gradescope_rung_c(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _grade_on_gradescope_rung_c(tmp_path: Path) -> None:
    bundle = gradescope_module.gradescope_autograder(assignment=TINY, out=tmp_path / "dist")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle.archive) as zf:
        assert zf.getinfo("course.key").external_attr >> 16 & 0o777 == 0o600
        zf.extractall(root / "source")  # Python's extractall ignores modes: the run script must close the key
    hidden = root / "source" / "assignments" / "tiny" / "tests" / "hidden" / "test_hidden.py"
    key = root / "source" / "course.key"
    assert hidden.is_file() and key.is_file()
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "tiny.py").write_text(_reader([str(hidden), str(key)]))
    assignment_mode = hidden.parent.parent.parent.stat().st_mode
    with on_rung("uid", tmp_path):
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
        subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True,
                       timeout=600)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 5, results   # the reader found the hidden tests and the key closed to it
    # closed only while it graded: the folder's mode is given back afterwards
    assert hidden.parent.parent.parent.stat().st_mode == assignment_mode
    assert key.stat().st_mode & 0o777 == 0o600


def test_every_level_has_a_sentence():
    assert set(LEVEL_TEXT) >= {"bwrap", "namespaces", "uid", "none", "off"}


@pytest.mark.slow
@pytest.mark.parametrize("rung", ["bwrap", "namespaces"])
def test_files_the_spec_hides_are_empty_in_the_worker(rung, tmp_path):
    """`limits.hide`: a data set a library bundles (scikit-learn's digits) cannot be read by the worker."""
    tmp_path.chmod(0o755)
    assignment = tmp_path / "tiny"
    shutil.copytree(TINY, assignment)
    spec_file = assignment / "assignment.yaml"
    spec_file.write_text(spec_file.read_text().replace("limits:\n", 'limits:\n  hide: ["sklearn/datasets/data/digits.csv.gz"]\n'))
    submission = tmp_path / "digits.py"
    submission.write_text(REFERENCE.read_text().split("def answer")[0] + '''
def answer():
    """42 only if scikit-learn's bundled digits cannot be loaded here."""
    try:
        from sklearn.datasets import load_digits
        load_digits()
    except Exception:  # an empty file is no digits file
        return 42
    return "loaded the digits"
''' + "\n\ndef add" + REFERENCE.read_text().split("def add", 1)[1])
    with on_rung(rung, tmp_path) as iso:
        result = grade_submission(find_assignment(assignment), submission, RunOptions(isolation=iso))
    answer = next(t for t in result.tests if t.nodeid.endswith("test_answer"))
    assert answer.status == "passed", answer.message
