"""The CLI's edges that users meet first: each says what is wrong in one line, with the exit code
README promises, and never a traceback."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from grader import cli
from grader.reports import terminal as render
from grader.core.assignments import all_assignments
from grader.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from tiny_batch import CORPUS, REFERENCE, gradebook_count

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


# --- printing each thing once, exit codes, Ctrl-C, list ---------------------------------------------

def _wide_console(monkeypatch) -> io.StringIO:
    """render's consoles into one buffer, wide enough that nothing wraps."""
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    monkeypatch.setattr(render, "console", console)
    monkeypatch.setattr(render, "err_console", console)
    return out


def test_check_prints_each_failure_once(tmp_path, monkeypatch):
    sub = tmp_path / "s.py"
    sub.write_text((CORPUS / "wrong_type.py").read_text())
    out = _wide_console(monkeypatch)
    assert cli.main(["check", str(TINY), str(sub)]) == EXIT_FAILED
    text = out.getvalue()
    assert text.count("answer() returned '42', expected the int 42") == 1, text


def test_check_prints_a_reason_every_test_shares_once(tmp_path, monkeypatch):
    """A submission that could not be loaded fails every test the same way: the reason once, below the table."""
    sub = tmp_path / "s.py"
    sub.write_text((CORPUS / "exit_in_class.py").read_text())
    out = _wide_console(monkeypatch)
    assert cli.main(["check", str(TINY), str(sub)]) == EXIT_FAILED
    text = out.getvalue()
    assert text.count("your code called sys.exit()") == 1, text
    assert "every test failed for this reason" in text


def test_check_does_not_show_the_grader_s_install_paths(tmp_path, monkeypatch):
    from grader.reports.markdown import scrub_paths
    repo = str(Path(cli.__file__).resolve().parent.parent)
    assert repo not in scrub_paths(f"File \"{repo}/grader/trusted/plugin.py\", line 3")
    assert scrub_paths(f"{repo}/grader/trusted/plugin.py") == "grader/trusted/plugin.py"


def test_grade_exits_0_with_a_rejected_submission_as_the_help_says(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "empty.py").write_text("\n")
    (subs / "good.py").write_text(REFERENCE.read_text())
    assert cli.main(["grade", str(TINY), str(subs), "--out", str(tmp_path / "out"), "-q"]) == EXIT_OK
    assert "rejected" in (tmp_path / "out" / "grades.csv").read_text()
    epilog = " ".join(cli.build_parser().epilog.split())
    assert "`grade` exits 0 when every submission it found got its row, rejected ones included" in epilog
    assert "`check`: a test not fully passed or the submission rejected" in epilog  # and check exits 1 (above)


def test_ctrl_c_during_grade_says_what_was_kept(tmp_path, monkeypatch):
    import grader.commands.grade as grade_module
    real = grade_module.grade_submissions

    def interrupted_after_one(**kw):
        def on_result(result):
            kw_on_result(result)
            raise KeyboardInterrupt
        kw_on_result = kw["on_result"]
        return real(**{**kw, "on_result": on_result, "jobs": 1})

    monkeypatch.setattr(grade_module, "grade_submissions", interrupted_after_one)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b", "c"):
        (subs / f"{name}.py").write_text(REFERENCE.read_text())
    out = _wide_console(monkeypatch)
    assert cli.main(["grade", str(TINY), str(subs), "--out", str(tmp_path / "out")]) == EXIT_INTERRUPTED
    text = out.getvalue()
    assert "interrupted: the 1 submission(s) finished in this run are kept" in text
    assert "gradebook.sqlite" in text and "Run the same command again" in text
    assert gradebook_count(tmp_path / "out" / "gradebook.sqlite") == 1


def test_ctrl_c_during_check_says_nothing_was_written(tmp_path, monkeypatch):
    import grader.commands.check as check_module

    def interrupted(**kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(check_module, "check_submission", interrupted)
    out = _wide_console(monkeypatch)
    assert cli.main(["check", str(TINY), str(tmp_path / "x.py")]) == EXIT_INTERRUPTED
    assert "interrupted: nothing was written" in out.getvalue()


def test_list_never_breaks_a_name_or_a_word(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, width=80, color_system=None))
    assert cli.main(["list"]) == EXIT_OK
    lines = out.getvalue().splitlines()
    for spec in all_assignments():
        assert any(spec.name in line for line in lines), spec.name
        for word in spec.title.split():
            assert any(word in line for line in lines), f"{spec.title!r}: {word!r} was broken"


def test_grade_help_explains_result_json_and_results_json(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "result.json (everything the grader recorded, for tools)" in text
    assert "results.json (the same verdict in Gradescope's format)" in text
