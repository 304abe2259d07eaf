"""A folder of cloned repositories graded at the last commit before each student's deadline: real `git`
repositories made here, with commit dates set through GIT_COMMITTER_DATE, graded by `grade` with a
stand-in backend that scores the files it is handed (so no test runs: only the choice of commit, the
late verdict and where they are written are under test)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from concurrent.futures import Future
from pathlib import Path

import pytest

import grader.commands.grade as grade_module
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.grading.backends import Graded
from grader.intake.git_history import export_commit, read_history, suspicious_dates
from grader.core.spec import Submission
from tiny_batch import TINY

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

DEADLINE = "2026-03-15T23:59:00+01:00"
RIGHT, WRONG = "def answer():\n    return 42\n", "def answer():\n    return 41\n"


def _git(repo: Path, *args: str, when: str = "2026-03-10T12:00:00+01:00") -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.org", "GIT_COMMITTER_NAME": "Student",
           "GIT_COMMITTER_EMAIL": "s@example.org", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(folder: Path, commits: list[tuple[str, str, str]]) -> list[str]:
    """A repository whose history is `commits` [(date, tiny.py's text, message)], in that order; the shas."""
    folder.mkdir(parents=True)
    _git(folder, "init", "-q", "-b", "main")
    shas = []
    for when, text, message in commits:
        (folder / "tiny.py").write_text(text)
        _git(folder, "add", "tiny.py")
        _git(folder, "commit", "-q", "-m", message, when=when)
        shas.append(_git(folder, "rev-parse", "HEAD").strip())
    return shas


class _ScoringBackend:
    """Scores 5 of 5 when the handed-in tiny.py answers 42, else 0: the score says which commit was graded."""

    def __init__(self, seen: dict):
        self.seen = seen

    def submit(self, task) -> Future:
        text = (Path(task.submission.path) / "tiny.py").read_text()
        self.seen[task.submission.id] = text
        score = 5.0 if "return 42" in text else 0.0
        test = OneTest(name="answer", nodeid="tests/public/test_public.py::test_answer", points=5.0, score=score,
                       status="passed" if score else "failed", visibility="visible")
        future = Future()
        future.set_result(Graded(SubmissionResult(task.submission.id, "tiny", "embedded", tests=[test], total_points=5.0)))
        return future

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def graded(tmp_path, monkeypatch):
    """grade_submissions with the stand-in backend, on a copy of `tiny` with a deadline and a late policy."""
    seen: dict = {}
    monkeypatch.setattr(grade_module, "make_backend", lambda name, **kw: _ScoringBackend(seen))
    monkeypatch.setattr(grade_module, "prepare", lambda spec, options: options)
    spec = tmp_path / "spec" / "tiny"
    shutil.copytree(TINY, spec)
    with open(spec / "assignment.yaml", "a", encoding="utf-8") as f:
        f.write(f'deadline: "{DEADLINE}"\n'
                "late_policy: {grace_minutes: 15, penalty_per_started_day: 0.2, last_day: 2}\n")

    def run(repos: Path, **kwargs):
        report = grade_module.grade_submissions(assignment=spec, submissions=[repos], out=tmp_path / "out", jobs=1,
                                                **kwargs)
        return report, seen
    return run


def _grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


def test_each_repository_is_graded_at_its_last_commit_before_the_deadline(tmp_path, graded):
    repos = tmp_path / "repos"
    make_repo(repos / "alice", [("2026-03-14T10:00:00+01:00", WRONG, "start"),
                                ("2026-03-15T23:50:00+01:00", RIGHT, "done"),
                                ("2026-03-16T09:00:00+01:00", WRONG, "broke it after the deadline")])
    report, seen = graded(repos)
    assert "return 42" in seen["alice"]                 # the commit before the deadline, not the later one
    (result,) = report.results
    assert result.score == 5 and result.after_late_policy() == (5.0, "")
    late = result.late
    assert late["verdict"] == "on time" and late["source"] == "commit date" and late["late_days"] == 0
    assert late["commit_time"] == "2026-03-15T23:50:00+01:00"
    assert len(late["not_graded"]) == 1 and "broke it after the deadline" in late["not_graded"][0]
    feedback = (tmp_path / "out" / "alice" / "feedback.md").read_text()
    assert f"Graded commit: {late['commit']}, dated 2026-03-15T23:50:00+01:00" in feedback
    assert "Not graded (after the graded commit)" in feedback and "broke it after the deadline" in feedback
    row = _grades(tmp_path / "out")["alice"]
    assert row["graded_commit"] == late["commit"] and row["late_days"] == "0" and row["score"] == "5"
    # the student's repository is read, never changed: its work tree still holds the last commit
    assert (repos / "alice" / "tiny.py").read_text() == WRONG
    assert _git(repos / "alice", "status", "--porcelain") == ""


def test_late_commits_cost_the_policys_penalty_per_started_day(tmp_path, graded):
    repos = tmp_path / "repos"
    make_repo(repos / "grace", [("2026-03-16T00:10:00+01:00", RIGHT, "11 minutes late: within the grace")])
    make_repo(repos / "bob", [("2026-03-17T08:00:00+01:00", RIGHT, "a day and 8 hours late")])
    make_repo(repos / "carol", [("2026-03-20T08:00:00+01:00", RIGHT, "after the last day")])
    report, _ = graded(repos)
    by_id = {r.submission: r for r in report.results}
    assert by_id["grace"].late["verdict"] == "on time" and by_id["grace"].after_late_policy()[0] == 5
    assert by_id["bob"].late["late_days"] == 2 and by_id["bob"].late["verdict"] == "late"
    assert by_id["bob"].after_late_policy() == (3.0, "2 started day(s) late: -2 points")   # 2 x 0.2 x 5
    assert by_id["carol"].late["verdict"] == "not accepted"
    assert by_id["carol"].after_late_policy()[0] == 0 and by_id["carol"].score == 5   # still graded, still feedback
    rows = _grades(tmp_path / "out")
    assert (rows["bob"]["score"], rows["bob"]["automatic_score"], rows["bob"]["late_penalty"]) == ("3", "5", "2")
    assert rows["carol"]["score"] == "0" and rows["carol"]["late_penalty"] == "not accepted"
    with open(tmp_path / "out" / "moodle.csv", newline="", encoding="utf-8") as f:
        moodle = {r["Full name"]: r for r in csv.DictReader(f)}
    assert moodle["bob"]["Grade"] == "3.00" and "Handed in 2 days late" in moodle["bob"]["Feedback comments"]
    gradescope = json.loads((tmp_path / "out" / "bob" / "results.json").read_text())
    assert gradescope["score"] == 3 and gradescope["extra_data"]["automatic_score"] == 5
    assert "not accepted" in (tmp_path / "out" / "carol" / "feedback.html").read_text()


def test_a_roster_extension_moves_the_students_deadline(tmp_path, graded):
    repos = tmp_path / "repos"
    make_repo(repos / "dora", [("2026-03-14T10:00:00+01:00", WRONG, "draft"),
                               ("2026-03-17T08:00:00+01:00", RIGHT, "finished during the extension")])
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,extension_days\ndora,Dora Diaz,dora@example.org,3\n")
    report, seen = graded(repos, roster=roster)
    assert "return 42" in seen["dora"]
    (result,) = report.results
    assert result.late["verdict"] == "on time" and result.late["extension_days"] == 3
    assert result.late["deadline"] == "2026-03-18T23:59:00+01:00"


def test_a_push_log_replaces_the_dates_the_students_git_wrote(tmp_path, graded):
    """The commit says it was made before the deadline; the hosting service says it arrived two days late."""
    repos = tmp_path / "repos"
    shas = make_repo(repos / "eve", [("2026-03-10T10:00:00+01:00", WRONG, "start"),
                                     ("2026-03-15T23:00:00+01:00", RIGHT, "backdated")])
    log = tmp_path / "pushes.csv"
    log.write_text("repo,sha,pushed_at\n"
                   f"course/eve,{shas[0]},2026-03-10T09:05:00Z\n"
                   f"https://git.example.org/course/eve.git,{shas[1]},2026-03-17T10:00:00Z\n")
    report, seen = graded(repos, push_log=log)
    (result,) = report.results
    assert "return 42" not in seen["eve"]          # the last commit pushed on time is the first one
    assert result.late["source"] == "push log" and result.late["verdict"] == "on time"
    assert result.late["handed_in"] == "2026-03-10T09:05:00+00:00"
    assert "backdated" in result.late["not_graded"][0]


def test_a_commit_dated_before_its_parent_is_flagged(tmp_path):
    repo = tmp_path / "frank"
    shas = make_repo(repo, [("2026-03-14T10:00:00+01:00", WRONG, "first"),
                            ("2026-03-12T10:00:00+01:00", RIGHT, "dated two days before its parent")])
    flags = suspicious_dates(read_history(repo), cloned_at=None)
    assert len(flags) == 1 and flags[0].startswith(f"commit {shas[1][:7]} is dated 2026-03-12T10:00:00+01:00, "
                                                   f"before its parent {shas[0][:7]}")
    from datetime import datetime, timezone
    after_clone = suspicious_dates(read_history(repo), cloned_at=datetime(2026, 3, 13, tzinfo=timezone.utc))
    assert any("after the repository was cloned" in f and shas[0][:7] in f for f in after_clone)


def test_the_flag_reaches_the_instructors_table_but_not_the_students_feedback(tmp_path, graded):
    repos = tmp_path / "repos"
    make_repo(repos / "gina", [("2026-03-14T10:00:00+01:00", WRONG, "first"),
                               ("2026-03-12T10:00:00+01:00", RIGHT, "backdated")])
    graded(repos, cloned_at="2026-04-01T00:00:00Z")
    row = _grades(tmp_path / "out")["gina"]
    assert "before its parent" in row["late_flags"]
    assert "before its parent" not in (tmp_path / "out" / "gina" / "feedback.md").read_text()


def test_a_hostile_tree_and_config_run_nothing_and_write_only_inside_the_export(tmp_path):
    """A filter driver in the repository's config with a matching .gitattributes would run a command under
    `git archive` or `checkout`; the export reads blobs as stored, so the command never runs."""
    repo = tmp_path / "mallory"
    marker = tmp_path / "ran"
    make_repo(repo, [("2026-03-14T10:00:00+01:00", RIGHT, "one")])
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    _git(repo, "add", ".gitattributes")
    _git(repo, "commit", "-q", "-m", "attributes", when="2026-03-14T11:00:00+01:00")
    _git(repo, "config", "filter.evil.smudge", f"touch {marker}; cat")
    _git(repo, "config", "core.fsmonitor", f"touch {marker}")
    _git(repo, "config", "log.showSignature", "true")
    _git(repo, "config", "gpg.program", f"touch {marker}")
    dest = tmp_path / "export"
    sha = read_history(repo)[-1].sha
    assert export_commit(repo, sha, dest, Submission()) == []
    assert (dest / "tiny.py").read_text() == RIGHT and not marker.exists()
