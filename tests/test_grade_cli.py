"""How `grade`'s and `gradescope`'s flags map to the verb functions' keyword arguments (the verbs
mocked, as otter's test_cli does), the default -j, and the Gradescope autograder zip run as
Gradescope would run it."""
from __future__ import annotations

import inspect
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli
import grader.commands.grade as grade_module
import grader.scaffold.gradescope as gradescope_module
from grader.grading import backends
from grader.core.assignments import find_assignment
from grader.commands.grade import GradeReport
from grader.scaffold.gradescope import GradescopeBundle
from grader.core.errors import EXIT_OK, EXIT_USAGE
from tiny_batch import REFERENCE, TINY

GRADE_DEFAULTS = dict(jobs=None, mode=None, data_dir=None, sandbox="auto", gpus=None, force=False, only=None,
                      roster=None, pick=None, single=False, backend="local", address=None, similarity_threshold=0.7,
                      key=None, push_log=None, submission_times=None, cloned_at=None)


@pytest.fixture
def grade_calls(monkeypatch, tmp_path):
    calls = []
    real = inspect.signature(grade_module.grade_submissions)

    def fake(**kwargs):
        bound = real.bind(**kwargs)  # what the real function would run with: its own defaults fill the rest
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return GradeReport(out=Path(kwargs["out"]), found=1)

    monkeypatch.setattr(grade_module, "grade_submissions", fake)
    return calls


@pytest.mark.parametrize("flags, expected", [
    ([], {}),
    (["-j", "3", "--gpus", "0,1"], {"jobs": 3, "gpus": ["0", "1"]}),
    (["--force", "--only", "anna", "bela"], {"force": True, "only": ["anna", "bela"]}),
    (["--roster", "roster.csv", "--pick", "hw2/*.ipynb", "--single"],
     {"roster": Path("roster.csv"), "pick": "hw2/*.ipynb", "single": True}),
    (["--backend", "ray", "--address", "ray://head:10001"], {"backend": "ray", "address": "ray://head:10001"}),
    (["--mode", "full", "--data-dir", "data", "--sandbox", "strict", "--similarity-threshold", "0.9"],
     {"mode": "full", "data_dir": Path("data"), "sandbox": "strict", "similarity_threshold": 0.9}),
    (["--push-log", "pushes.csv", "--submission-times", "worksheet.csv", "--cloned-at", "2026-03-16T08:00:00Z"],
     {"push_log": Path("pushes.csv"), "submission_times": Path("worksheet.csv"), "cloned_at": "2026-03-16T08:00:00Z"}),
])
def test_grade_flags_become_keyword_arguments(capsys, grade_calls, flags, expected):
    code = cli.main(["grade", "tiny", "subs", "more.zip", "--out", "graded", "-q", *flags])
    assert code == EXIT_OK
    (call,) = grade_calls
    on_start, on_result = call.pop("on_start"), call.pop("on_result")
    assert callable(on_start) and callable(on_result)
    assert call == {"assignment": "tiny", "submissions": [Path("subs"), Path("more.zip")], "out": Path("graded"),
                    **GRADE_DEFAULTS, **expected}
    capsys.readouterr()


def test_grade_json_prints_one_line_per_submission(capsys, monkeypatch):
    from grader.core.results import SubmissionResult

    def fake(**kwargs):
        kwargs["on_start"](2)
        for sid in ("a", "b"):
            kwargs["on_result"](SubmissionResult(sid, "tiny", "embedded", total_points=6))
        return GradeReport(out=Path(kwargs["out"]), found=1)

    monkeypatch.setattr(grade_module, "grade_submissions", fake)
    assert cli.main(["grade", "tiny", "subs", "--out", "graded", "--json"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["submission"] for line in lines] == ["a", "b"]


def test_grade_rejects_a_bad_backend_and_bad_numbers(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "tiny", "subs", "--out", "graded", "--backend", "slurm"])
    code = cli.main(["grade", str(TINY), str(REFERENCE), "--out", "graded", "-j", "0"])
    assert code == EXIT_USAGE and "-j must be at least 1" in capsys.readouterr().err


def test_gradescope_flags(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(gradescope_module, "gradescope_autograder",
                        lambda **kw: calls.append(kw) or GradescopeBundle(Path("x.zip"), ["setup.sh"]))
    assert cli.main(["gradescope", "tiny", "--out", "dist", "--mode", "torch", "--json"]) == EXIT_OK
    assert calls == [{"assignment": "tiny", "out": Path("dist"), "mode": "torch", "key": None}]
    assert json.loads(capsys.readouterr().out) == {"archive": "x.zip", "files": ["setup.sh"]}


def test_the_default_jobs_fit_cores_and_memory(monkeypatch):
    spec = find_assignment(TINY)                       # 768 MB per worker
    monkeypatch.setattr(backends, "cpu_count", lambda: 16)
    monkeypatch.setattr(backends, "available_memory_mb", lambda: 4000)
    assert backends.default_jobs(spec) == 5            # memory bound
    monkeypatch.setattr(backends, "available_memory_mb", lambda: 64000)
    assert backends.default_jobs(spec) == 16           # core bound
    monkeypatch.setattr(backends, "available_memory_mb", lambda: 100)
    assert backends.default_jobs(spec) == 1            # never below one


def test_available_memory_is_read_from_this_machine():
    mb = backends.available_memory_mb()
    assert 0 < mb < 2 ** 24


@pytest.mark.slow
def test_the_gradescope_autograder_runs_as_gradescope_runs_it(tmp_path):
    bundle = gradescope_module.gradescope_autograder(assignment=TINY, out=tmp_path / "dist")
    assert bundle.archive == tmp_path / "dist" / "tiny_gradescope.zip"
    with zipfile.ZipFile(bundle.archive) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        zf.extractall(tmp_path / "autograder" / "source")
    assert {"setup.sh", "run_autograder", "cli.py", "pyproject.toml", "grader/commands/grade.py",
            "assignments/tiny/assignment.yaml", "assignments/tiny/tests/hidden/test_hidden.py"} <= names
    assert not any("reference_solutions" in n or "__pycache__" in n for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    setup = (tmp_path / "autograder" / "source" / "setup.sh").read_text()
    assert "bubblewrap" in setup and "download.pytorch.org/whl/cpu" in setup
    # Gradescope's layout: the student's files in /autograder/submission
    root = tmp_path / "autograder"
    (root / "submission").mkdir()
    (root / "submission" / "tiny.py").write_text(REFERENCE.read_text())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert (results["score"], results["max_score"]) == (5.0, 5.0)
    assert {t["visibility"] for t in results["tests"]} == {"visible", "hidden"}
    # a submission the grader cannot even start on still gets a results.json
    (root / "source" / "cli.py").write_text("raise SystemExit(3)\n")
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True)
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 0
