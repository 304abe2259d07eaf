"""The CLI's edges that users meet first: each says what is wrong in one line, with the exit code
README promises, and never a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import cli
from grader.errors import EXIT_FAILED, EXIT_USAGE

TINY = Path(__file__).resolve().parent / "fixtures" / "assignments" / "tiny"


def test_check_of_a_rejected_submission_shows_the_public_maximum(tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_text("\n")
    assert cli.main(["check", str(TINY), str(empty)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "empty.py is empty" in out
    assert "Score: 0 / 3" in out  # the three public points, not the six of the whole assignment


def test_grade_of_an_empty_folder_says_so(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    assert cli.main(["grade", str(TINY), str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "-q"]) == EXIT_FAILED
    err = " ".join(capsys.readouterr().err.split())  # Rich wraps at the terminal's width
    assert "no submissions found in" in err and "Traceback" not in err


def test_out_pointing_at_a_file_is_a_one_line_usage_error(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    sub = tmp_path / "s.py"
    sub.write_text("def answer():\n    return 42\n")
    assert cli.main(["grade", str(TINY), str(sub), "--out", str(tmp_path / "a_file"), "-q"]) == EXIT_USAGE
    err = " ".join(capsys.readouterr().err.split())
    assert "is a file; give a folder" in err and "Traceback" not in err


def test_a_call_that_does_not_fit_names_the_expected_signature(tmp_path, capsys):
    sub = tmp_path / "s.py"
    sub.write_text("def answer():\n    return 42\n\n\ndef add(a):\n    return a\n\n\ndef total(x):\n"
                   "    return float(x.sum())\n")
    assert cli.main(["check", str(TINY), str(sub), "--json"]) == EXIT_FAILED
    result = json.loads(capsys.readouterr().out)
    add = next(t for t in result["tests"] if "add" in t["nodeid"])
    assert "takes 1 positional argument" in add["message"]
    assert "the assignment expects `add(a, b)`" in add["message"]
