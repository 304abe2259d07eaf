"""The gradebook never loses work: `python cli.py grade` killed with SIGKILL at any point and run
again ends with exactly the gradebook of an uninterrupted run; Ctrl-C stops cleanly (exit 130,
running gradings killed, finished rows kept); re-runs grade only what is new or changed."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grader
from grader.commands.grade import grade_submissions, needs_grading
from grader.core.errors import EXIT_INTERRUPTED, ToolkitError
from grader.records.freshness import grader_version, submission_hash
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook, GradebookRow
from grader.core.spec import load_spec
from tiny_batch import CORPUS, REFERENCE, TINY, gradebook_count, make_batch

REPO = Path(__file__).resolve().parent.parent


def _grade_command(subs: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), "grade", str(TINY), str(subs), "--out", str(out), "-j", "2", "-q",
            *extra]


def _rows(out: Path) -> list[dict]:
    with Gradebook(out / GRADEBOOK_FILE) as book:
        return [r.without_timing() for r in book.rows()]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, in any session."""
    parents = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_rows(proc: subprocess.Popen, book: Path, n: int, *, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = gradebook_count(book)
        if count >= n or proc.poll() is not None:
            return count
        time.sleep(0.02)
    raise AssertionError(f"no {n} rows in {book} after {timeout} s")


@pytest.mark.slow
def test_sigkill_at_any_point_then_rerun_gives_the_uninterrupted_gradebook(tmp_path):
    subs = tmp_path / "subs"
    ids = make_batch(subs, count=12)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    subprocess.run(_grade_command(subs, whole), check=True, stdout=subprocess.DEVNULL)
    expected = _rows(whole)
    assert [r["submission"] for r in expected] == sorted(ids)
    seen = []
    for n in (1, 3, 6):
        proc = subprocess.Popen(_grade_command(subs, resumed), stdout=subprocess.DEVNULL)
        seen.append(_wait_for_rows(proc, resumed / GRADEBOOK_FILE, n))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert seen[0] >= 1 and seen[-1] >= 6 and seen[-1] < len(ids), seen
    done = subprocess.run(_grade_command(subs, resumed, "--json"), check=True, capture_output=True, text=True)
    regraded = len(done.stdout.splitlines())
    assert regraded == len(ids) - seen[-1], "the last run graded rows that were already committed"
    assert _rows(resumed) == expected
    # the tables are rebuilt from the gradebook, so they agree too
    for name in ("grades.csv", "moodle.csv", "integrity.csv"):
        assert (resumed / name).read_text() == (whole / name).read_text(), name


@pytest.mark.slow
def test_ctrl_c_kills_the_running_gradings_and_keeps_the_finished(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a_quick.py").write_text(REFERENCE.read_text())
    for i in range(3):   # each would hold a job for the whole 4 s call limit
        (subs / f"b_loop{i}.py").write_text((CORPUS / "infinite_loop.py").read_text())
    out = tmp_path / "out"
    # as from a terminal: a job started in the background by a shell without job control (nohup, `cmd &` in a
    # script) inherits an ignored SIGINT, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(_grade_command(subs, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert _wait_for_rows(proc, out / GRADEBOOK_FILE, 1) == 1
    time.sleep(0.3)   # the loops are running now
    below = _descendants(proc.pid)
    assert below, "no grading processes were running"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert time.monotonic() - started < 3, "Ctrl-C waited for the running submissions"
    assert not [p for p in below if _alive(p)], "grading processes outlived Ctrl-C"
    assert [r["submission"] for r in _rows(out)] == ["a_quick"]
    assert (out / "grades.csv").read_text().count("\n") == 2   # header and the finished row
    assert not (out / "b_loop0" / "results.json").exists()


@pytest.mark.slow
def test_reruns_grade_only_what_changed(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice", "bob"):
        (subs / f"{name}.py").write_text(REFERENCE.read_text())
    out = tmp_path / "out"
    first = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=2)
    assert [r.submission for r in first.results] == ["alice", "bob"] and not first.skipped
    (subs / "bob.py").write_text((CORPUS / "wrong_type.py").read_text())
    (subs / "carol.py").write_text(REFERENCE.read_text())
    second = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=2)
    assert [r.submission for r in second.results] == ["bob", "carol"]
    assert second.skipped == ["alice"]
    assert {r.submission: r.score for r in second.rows} == {"alice": 5, "bob": 0, "carol": 5}
    forced = grade_submissions(assignment=TINY, submissions=[subs], out=out, only=["alice"], force=True)
    assert [r.submission for r in forced.results] == ["alice"] and forced.skipped == []
    # grades.csv holds earlier runs' rows, with a column per test
    header, *lines = (out / "grades.csv").read_text().splitlines()
    assert len(lines) == 3 and "tests/hidden/test_hidden.py::test_total" in header.split(",")
    with pytest.raises(ToolkitError, match="--only: no submission 'dave'"):
        grade_submissions(assignment=TINY, submissions=[subs], out=out, only=["dave"])


def test_a_row_is_current_only_for_the_same_files_grader_and_mode():
    row = GradebookRow(submission="a", status="graded", score=1, max_score=5, reason="", content_hash="h",
                       grader_version="v", mode="embedded")
    same = {"content_hash": "h", "grader_version": "v", "mode": "embedded"}
    assert not needs_grading(row, **same)
    assert needs_grading(None, **same)
    for key, other in (("content_hash", "h2"), ("grader_version", "v2"), ("mode", "torch")):
        assert needs_grading(row, **(same | {key: other})), key
    row.status = "error"
    assert needs_grading(row, **same)


def test_the_grader_version_changes_with_the_tests_and_the_content_hash_with_the_files(tmp_path):
    assignment = tmp_path / "tiny"
    shutil.copytree(TINY, assignment, ignore=shutil.ignore_patterns("__pycache__"))
    before = grader_version(load_spec(assignment))
    assert before.startswith(grader.__version__ + "+")
    hidden = assignment / "tests" / "hidden" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# a changed threshold\n")
    assert grader_version(load_spec(assignment)) != before
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "a.py").write_text("x = 1\n")
    first = submission_hash(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert submission_hash(folder) == first           # what grading ignores does not count
    assert submission_hash(folder, pick="*.py") != first
    (folder / "log.jsonl").write_text("{}\n")
    assert submission_hash(folder) != first


def test_one_writer_at_a_time(tmp_path):
    with Gradebook(tmp_path / GRADEBOOK_FILE):
        with pytest.raises(ToolkitError, match="another `grade` run is writing"):
            Gradebook(tmp_path / GRADEBOOK_FILE)
    Gradebook(tmp_path / GRADEBOOK_FILE).close()   # released with the first
