"""The bad-input corpus: every file in tests/adversarial/ (plus the zips and links built below) is
graded in one `grade_submissions` run against the `tiny` fixture assignment, and each case must
end exactly as listed in CASES: the right status, the targeted tests at 0 with a message naming
the cause, every other test passed, and nothing written or left running outside the grader's
own folders.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.commands.grade import grade_submissions
from grader.grading.runner import RunOptions, grade_submission
from grader.boundary.sandbox import probe_isolation
from rungs import RUNGS, keep_modes, on_rung

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TINY = HERE / "fixtures" / "assignments" / "tiny"
REFERENCE = HERE / "fixtures" / "reference_solutions" / "tiny" / "tiny.py"
TEMPLATE = HERE / "fixtures" / "templates" / "tiny" / "tiny.ipynb"
CORPUS = HERE / "adversarial"
HIDDEN_TEST = TINY / "tests" / "hidden" / "test_hidden.py"

FORGED = "FORGED-BY-SUBMISSION"          # what fake_results.py writes into every file it forges
FORGED_NAMES = {"results.json", "result.json", "report.json", "grades.csv"}
SLEEP_MARKER = "31.4159"                 # fork_bomb.py's children run `sleep 31.4159`
# with a memory cgroup the kernel's OOM killer ends a memory hog and says so; without one the
# address-space rlimit makes the allocation fail inside Python
HAS_CGROUP = probe_isolation().cgroup is not None

# the five tests of the embedded mode (test_total_tensor only runs in the `torch` mode)
TESTS = ("test_answer", "test_add_shape", "test_add_values", "test_add_hidden", "test_total")
ADD_TESTS = ("test_add_shape", "test_add_values", "test_add_hidden")


@dataclass
class Case:
    """What grading one submission must give.

    failed: test name -> (kind, text the message must contain); every other test must pass.
    status "rejected": no test ran and `reason` (one text, or several) names the cause."""
    status: str = "graded"
    failed: dict = field(default_factory=dict)
    reason: str | tuple = ""
    notes: str = ""
    needs_mount_view: str = ""   # why rungs without a private mount view (c) do not claim to stop this
    needs_network_namespace: str = ""

    @property
    def score(self) -> float:
        return 0.0 if self.status == "rejected" else float(len(TESTS) - len(self.failed))


def _all(kind, text, tests=TESTS):
    return {t: (kind, text) for t in tests}


CASES: dict[str, Case] = {
    # the two baselines
    "reference": Case(),
    "template": Case(failed=_all("exception", "NotImplementedError")),
    # unreadable sources
    "syntax_error": Case("rejected", reason="syntax_error.py has a syntax error at line 5"),
    "empty": Case("rejected", reason="empty.py is empty"),
    "bad_json": Case("rejected", reason="not a valid Jupyter notebook"),
    "python_as_notebook": Case("rejected", reason="not a valid Jupyter notebook"),
    # encodings and notebook formats that must be graded normally
    "bom_source": Case(),
    "bom_notebook": Case(),
    "latin1_source": Case(notes="read as latin-1"),
    "nbformat_v3": Case(),
    "colab_magics": Case(notes="`!pip install einops` is IPython-only and was neutralised"),
    # import time
    # tensorflow binds a stand-in (grader.intake.definitions): the graded functions do not use it, so nothing is lost
    "missing_import": Case(notes="tensorflow imported: this assignment is graded in PyTorch"),
    "exit_toplevel": Case(notes="call: sys.exit(0)"),
    "exit_in_class": Case(failed=_all("load", "your code called sys.exit() (exit code 0) while importing")),
    "os_exit_default_arg": Case(failed=_all("crashed", "it exited (exit code 3)")),
    # resources
    "infinite_loop": Case(failed={"test_answer": ("timeout", "answer did not finish within the 4 s limit")}),
    "ignore_sigterm": Case(failed={"test_answer": ("timeout", "answer did not finish within the 4 s limit")}),
    "memory_bomb": Case(failed={"test_answer": ("crashed", "ran out of memory (limit 768 MB)") if HAS_CGROUP
                                else ("exception", "your code raised MemoryError")}),
    "fork_bomb": Case(failed={"test_answer": ("exception", "your code raised BlockingIOError: "
                                                           "[Errno 11] Resource temporarily unavailable")}),
    "thread_flood": Case(failed={"test_answer": ("exception",
                                                 "your code raised RuntimeError: can't start new thread")}),
    "stdout_flood": Case(failed={"test_answer": ("crashed", "printed more than 1 MB of output")}),
    # answers only if its writes stop at the quota (rungs a, b: a tmpfs of limits.max_disk_mb)
    "disk_fill": Case(needs_mount_view="rung (c) has no disk quota: not attempted (it would fill the disk)"),
    "huge_file": Case(failed={"test_answer": ("exception", "your code raised OSError: [Errno 27] File too large")}),
    # attacks on the grader
    "kill_parent": Case(),
    "killpg": Case(failed={"test_answer": ("crashed",
                                           "it was killed (signal 9) without reaching the 768 MB memory limit"
                                           if HAS_CGROUP else "it was killed, most likely for using more than")}),
    "network": Case(failed={"test_answer": ("exception",
                                            "your code raised OSError: [Errno 101] Network is unreachable")},
                    needs_network_namespace="rung (c) does not isolate the network (README: security model)"),
    "snoop_fs": Case(needs_mount_view="on rung (c) the machine's world-readable files stay visible (the grader's "
                                      "folders do not: see read_secrets)"),
    "read_secrets": Case(),
    "fake_results": Case(failed={"test_answer": ("assertion", "answer() returned 0, expected the int 42")},
                         needs_mount_view="on rung (c) /tmp is shared; not attempted"),
    # hostile archives and links
    "zip_ok": Case(),
    "zip_slip": Case("rejected", reason="points outside the archive (zip slip)"),
    "zip_bomb": Case("rejected", reason=("the zip member 'zeros.bin' expands ", "x; this looks like a zip bomb")),
    "symlink_folder": Case(notes="symbolic links are not accepted; skipped"),
    "symlink_submission": Case("rejected", reason="the submission is a symbolic link"),
    # hostile return values
    "wrong_type": Case(failed={"test_answer": ("assertion", "answer() returned '42', expected the int 42"),
                               **_all("assertion", "add(a, b) should return a tensor, but returned a list", ADD_TESTS),
                               "test_total": ("assertion", "expected a Python float")}),
    "nan_result": Case(failed={**_all("assertion", "NaN or infinite value(s)", ADD_TESTS),
                               "test_total": ("assertion", "total(x) returned nan")}),
    "wrong_shape": Case(failed={**_all("assertion", "add(a, b) returned shape (", ADD_TESTS),
                                "test_total": ("assertion", "expected a Python float")}),
    "evil_object": Case(failed={"test_answer": ("assertion", "answer() returned <remote EvilInt"),
                                **_all("assertion", "returned an object of type EvilArray", ADD_TESTS),
                                "test_total": ("assertion", "total(x) returned <remote Evil")}),
    "huge_tensor": Case(failed={"test_total": ("protocol", "total: the worker sent an invalid reply "
                                                           "(message of 22.9 MB exceeds the 8 MB limit)")}),
}


# --- building the corpus -------------------------------------------------------------------------

def _fill_targets(source: str, targets: list[str]) -> str:
    assert "TARGETS = []  # replaced at test time" in source
    return source.replace("TARGETS = []  # replaced at test time", f"TARGETS = {targets!r}")


def _zip_bomb(path: Path) -> None:
    """A correct tiny.py plus 1 GB of zeros (about 1 MB compressed), written in a stream."""
    block = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # level 6: about 1000x (the limit is 200x)
        zf.write(REFERENCE, "tiny.py")
        with zf.open("zeros.bin", "w", force_zip64=True) as f:
            for _ in range(1024):
                f.write(block)


def build_corpus(folder: Path, *, out: Path, sentinel: Path, rung: str) -> None:
    folder.mkdir()
    for src in sorted(CORPUS.iterdir()):
        if src.is_file():
            shutil.copyfile(src, folder / src.name)
    shutil.copyfile(REFERENCE, folder / "reference.py")
    shutil.copyfile(TEMPLATE, folder / "template.ipynb")
    # the submissions that know where things are: the hidden tests, the reference, the outputs
    secrets = [str(HIDDEN_TEST), str(REFERENCE), str(REPO / "assignments"), str(out / "grades.csv"),
               str(sentinel / "keep.txt"), str(folder / "reference.py")]
    snoop = folder / "snoop_fs.py"
    snoop.write_text(_fill_targets(snoop.read_text(), secrets))
    reader = folder / "read_secrets.py"
    reader.write_text(_fill_targets(reader.read_text(), [str(HIDDEN_TEST), str(REFERENCE), str(TINY / "assignment.yaml"),
                                                          str(out / "grades.csv"), str(sentinel / "keep.txt")]))
    fake = folder / "fake_results.py"
    fake.write_text(_fill_targets(fake.read_text(), [str(out), str(out / "fake_results"), str(sentinel), str(REPO)]))
    for case, want in CASES.items():
        if _not_claimed(want, rung):  # would really write (or read) outside: grade a harmless file
            shutil.copyfile(REFERENCE, folder / f"{case}.py")
    # archives
    with zipfile.ZipFile(folder / "zip_ok.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(REFERENCE, "homework/tiny.py")
        zf.writestr("homework/notes.md", "my notes\n")
    with zipfile.ZipFile(folder / "zip_slip.zip", "w") as zf:
        zf.write(REFERENCE, "tiny.py")
        zf.writestr("../../escaped_by_zip_slip.py", "print('escaped')\n")
    _zip_bomb(folder / "zip_bomb.zip")
    # links: a folder whose links point at system files, the hidden tests and the reference; and a
    # submission that is itself a link to the reference
    linked = folder / "symlink_folder"
    linked.mkdir()
    (linked / "tiny.py").write_text(
        "import os\n\n\ndef answer():\n"
        "    for name in ('passwd', 'hidden_tests/test_hidden.py', 'reference.py'):\n"
        "        if os.path.exists(name):\n"
        "            return 'followed the link ' + name\n"
        "    return 42\n\n\ndef add(a, b):\n    return a + b\n\n\ndef total(x):\n    return float(x.sum())\n")
    os.symlink("/etc/passwd", linked / "passwd")
    os.symlink(HIDDEN_TEST.parent, linked / "hidden_tests")
    os.symlink(REFERENCE, linked / "reference.py")
    os.symlink(REFERENCE, folder / "symlink_submission.py")


def _digest(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (links not followed) and a hash of each file."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[rel] = h.hexdigest()
        else:
            out[rel] = "dir"
    return out


def forged_files(roots: list[Path], *, depth: int) -> list[str]:
    """Files named like grading outputs that hold the forger's marker, under `roots`."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        base = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git" and len(Path(dirpath, d).parts) - base <= depth]
            for name in FORGED_NAMES & set(filenames):
                p = Path(dirpath, name)
                try:
                    if FORGED in p.read_text(errors="replace")[:100_000]:
                        found.append(str(p))
                except OSError:
                    pass
    return found


def marker_processes() -> list[str]:
    """Processes still running `sleep 31.4159` (fork_bomb.py's children)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                argv = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1] == SLEEP_MARKER.encode():
                found.append(d.name)
    return found


def _not_claimed(want: Case, rung: str) -> str:
    if rung == "uid":
        return want.needs_mount_view or want.needs_network_namespace
    return ""


@dataclass
class Run:
    rung: str
    out: Path
    rows: dict
    results: dict
    corpus_before: dict
    corpus_after: dict
    sentinel_before: dict
    sentinel_after: dict
    forged: list
    leftover: list


@pytest.fixture(scope="module", params=RUNGS)
def graded(request, tmp_path_factory) -> Run:
    """The whole corpus graded once on each rung of the isolation ladder this machine offers."""
    rung = request.param
    tmp = tmp_path_factory.mktemp(f"adversarial-{rung}")
    tmp.chmod(0o755)  # rung (c): the output folder's parents must be passable (the grader hides `out` itself)
    out, corpus, sentinel = tmp / "out", tmp / "corpus", tmp / "sentinel"
    sentinel.mkdir(mode=0o700)
    (sentinel / "keep.txt").write_text("untouched\n")
    with on_rung(rung, tmp) as iso, keep_modes(TINY, REFERENCE.parent):
        build_corpus(corpus, out=out, sentinel=sentinel, rung=rung)
        assert sorted(p.name.split(".")[0] for p in corpus.iterdir()) == sorted(CASES), "CASES and the corpus differ"
        corpus_before, sentinel_before = _digest(corpus), _digest(sentinel)
        # strict on the rungs that claim full isolation: the corpus must pass there
        report = grade_submissions(assignment=TINY, submissions=[corpus], out=out, jobs=2,
                                   sandbox="strict" if iso.full else "auto")
    assert {r.isolation for r in report.results} == {rung}, "a batch must run on one rung, the probed one"
    with open(out / "grades.csv", newline="") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    return Run(rung=rung, out=out, rows=rows, results={r.submission: r for r in report.results},
               corpus_before=corpus_before, corpus_after=_digest(corpus),
               sentinel_before=sentinel_before, sentinel_after=_digest(sentinel),
               forged=forged_files([REPO, tmp], depth=6) + forged_files([Path("/tmp"), Path.home()], depth=1),
               leftover=marker_processes())


# --- one test per case ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_case(graded: Run, case: str):
    want = CASES[case]
    if _not_claimed(want, graded.rung):
        pytest.skip(_not_claimed(want, graded.rung))
    row = graded.rows.get(case)
    assert row is not None, f"{case}: no row in grades.csv"
    result = graded.results[case]
    explain = json.dumps(result.to_json(), indent=1, default=str)[:6000]
    assert row["status"] == want.status, explain
    assert float(row["score"]) == want.score, explain
    # the embedded mode's maximum (modes.embedded.points: the torch-mode test is not part of it), graded or not
    assert float(row["max_score"]) == 5.0, explain
    assert not result.grader_errors, explain
    # the per-submission outputs exist and agree with the gradebook
    gradescope = json.loads((graded.out / case / "results.json").read_text())
    assert gradescope["score"] == want.score
    assert (graded.out / case / "feedback.md").is_file()
    for text in want.reason if isinstance(want.reason, tuple) else (want.reason,):
        assert text in row["reason"], explain
    if want.status == "rejected":
        assert not result.tests
        return
    tests = {t.nodeid.split("::")[-1]: t for t in result.tests}
    assert set(tests) == set(TESTS) | {"test_total_tensor"}, explain
    assert tests["test_total_tensor"].status == "skipped"
    for name in TESTS:
        t = tests[name]
        assert t.kind != "grader-error", f"{name}: {t.message}"
        if name in want.failed:
            kind, text = want.failed[name]
            assert (t.status, t.score, t.kind) == ("failed", 0.0, kind), f"{name}: {t.status} {t.kind}: {t.message}"
            assert text in t.message, f"{name}: {t.message}"
        else:
            assert (t.status, t.score) == ("passed", 1.0), f"{name}: {t.status} {t.kind}: {t.message}"
    if want.notes:
        assert any(want.notes in n for n in result.notes), result.notes


# --- the run as a whole --------------------------------------------------------------------------

@pytest.mark.slow
def test_every_submission_has_exactly_one_row(graded: Run):
    assert sorted(graded.rows) == sorted(CASES)
    assert sorted(p.name for p in graded.out.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.slow
def test_no_internal_grading_errors(graded: Run):
    """The trusted process survived every submission: each one has a report, none is an 'error'."""
    broken = {k: r.reason for k, r in graded.results.items() if r.status in ("error", "timeout") or r.grader_errors}
    assert not broken


@pytest.mark.slow
def test_nothing_written_outside_the_workspace(graded: Run):
    assert graded.forged == [], "forged grading outputs found"
    assert graded.sentinel_after == graded.sentinel_before
    assert graded.corpus_after == graded.corpus_before, "a submission changed the corpus"
    assert not (graded.out.parent / "escaped_by_zip_slip.py").exists()
    # the gradebook is ours: parseable, one row per submission, no forged score
    assert all(float(r["score"]) <= 5.0 for r in graded.rows.values())


@pytest.mark.slow
def test_no_process_left_behind(graded: Run):
    assert graded.leftover == [], "fork_bomb.py's children outlived grading"


@pytest.mark.slow
def test_outputs_stay_small(graded: Run):
    """Gigabytes printed, a 1 GB file, a 1 GB zip: none of it reaches the grader's outputs."""
    assert all(len(r.worker_output) <= 8000 for r in graded.results.values())
    size = sum(p.stat().st_size for p in graded.out.rglob("*") if p.is_file())
    assert size < 1 << 20, f"the output folder holds {size} bytes"


# --- more runs of a few submissions --------------------------------------------------------------

def _summary(result):
    return (result.status, result.score, result.reason,
            [(t.nodeid, t.status, t.score, t.kind, t.message) for t in result.tests])


@pytest.mark.slow
def test_grading_is_deterministic(graded: Run):
    """The same submission graded twice more, one at a time, ends exactly as in the parallel run."""
    spec = find_assignment(TINY)
    submission = CORPUS / "wrong_shape.py"
    first = grade_submission(spec, submission, RunOptions())
    second = grade_submission(spec, submission, RunOptions())
    assert first.status == "graded" and first.score == 1.0
    assert _summary(first) == _summary(second) == _summary(graded.results["wrong_shape"])

