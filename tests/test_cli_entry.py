"""The command line's ways in and its warnings: `python cli.py`, `python -m grader` (and the installed
`dlgrade`) are one program; a warning the engine logs while a command runs reaches stderr as one
`dlgrade: WARNING: ...` line, inert in a terminal, and the global -q silences it."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

import grader.boundary.canary as canary
from grader import cli
from grader.core.errors import EXIT_OK, GraderError
from tiny_batch import REFERENCE, TINY

REPO = Path(__file__).resolve().parent.parent


def _run(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_python_m_grader_and_cli_py_are_the_same_program():
    by_script, by_module = _run("cli.py", "list"), _run("-m", "grader", "list")
    assert by_script.returncode == by_module.returncode == EXIT_OK, by_script.stderr + by_module.stderr
    assert "ae_bottleneck" in by_script.stdout
    assert by_script.stdout == by_module.stdout
    bad_script, bad_module = _run("cli.py", "check", "no_such_assignment", "x.py"), \
        _run("-m", "grader", "check", "no_such_assignment", "x.py")
    assert bad_script.returncode == bad_module.returncode != EXIT_OK
    assert bad_script.stderr == bad_module.stderr


@pytest.fixture
def canary_fails(monkeypatch):
    """A machine where the canary check's worker cannot start; the error names a path a student chose,
    with an escape sequence in it (an OSC 52 clipboard write)."""
    def refuse(*_args, **_kwargs):
        raise GraderError("cannot start /tmp/sub\x1b]52;c;ZXZpbA==\x07mission")
    monkeypatch.setattr(canary, "probe_canaries", refuse)


@pytest.mark.parametrize("quiet", [False, True])
def test_a_logged_warning_reaches_stderr_and_q_silences_it(tmp_path, capsys, canary_fails, quiet):
    out = tmp_path / "graded"
    code = cli.main([*(["-q"] if quiet else []), "grade", str(TINY), str(REFERENCE), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    with (out / "grades.csv").open() as f:
        row = next(csv.DictReader(f))
    assert row["status"] == "graded", row   # the warning changed nothing in the grading itself
    warning = "dlgrade: WARNING: the canary check could not start a worker"
    if quiet:
        assert warning not in err and "WARNING" not in err, err
    else:
        assert warning in err, err
        assert "\x1b" not in err and "\\x1b]52" in err, "student text reaches the terminal inert"
