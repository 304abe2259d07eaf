"""cli.py, called in-process (`cli.main([...])`), and the student bundle run as a student would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.core.assignments import all_assignments
from grader.scaffold.new import new_assignment
from grader.scaffold.release import release_assignment
from grader.commands.validate import validate_assignment
from grader.core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TINY = HERE / "fixtures" / "assignments" / "tiny"
TINY_REFERENCE = HERE / "fixtures" / "reference_solutions" / "tiny" / "tiny.py"
TINY_TEMPLATE = HERE / "fixtures" / "templates" / "tiny" / "tiny.ipynb"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    assert code == EXIT_OK
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [s.name for s in all_assignments()]
    ae = next(r for r in rows if r["name"] == "ae_bottleneck")
    assert ae["points"] == 20 and ae["default_mode"] == "embedded" and "full" in ae["modes"]
    assert ae["test_files"]["public"] >= 1 and ae["test_files"]["hidden"] >= 1
    assert set(ae["limits"]) == {"memory_mb", "call_timeout_s", "submission_timeout_s"}


def test_build_check(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "build", TINY, "--check", "--json")
    assert code == EXIT_OK
    assert [c["ok"] for c in json.loads(out)] == [True, True]
    # a stale template makes --check exit 1
    new_assignment(name="stale_demo", root=tmp_path)
    template = tmp_path / "templates" / "stale_demo" / "stale_demo.py"
    template.write_text(template.read_text() + "# edited by hand\n")
    code, out, _ = run_cli(capsys, "build", tmp_path / "assignments" / "stale_demo", "--check")
    assert code == EXIT_FAILED
    assert "out of date" in out


@pytest.mark.parametrize("argv", [
    ["check", "no_such_assignment", "notebook.ipynb"],
    ["validate", "no_such_assignment"],
    ["build", "no_such_assignment"],
    ["release", "no_such_assignment", "--out", "dist"],
    ["grade", "no_such_assignment", "subs", "--out", "graded"],
])
def test_an_unknown_assignment_is_a_usage_error(capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == EXIT_USAGE
    message = " ".join(err.split())  # rich wraps long lines
    assert "no assignment 'no_such_assignment' (known: " in message
    assert "ae_bottleneck" in message and "or give the path of a folder holding assignment.yaml" in message
    assert "Traceback" not in out + err


def test_other_usage_errors(capsys, tmp_path):
    code, _, err = run_cli(capsys, "check", TINY, tmp_path / "missing.ipynb")
    assert code == EXIT_USAGE and "missing.ipynb: no such file or folder" in " ".join(err.split())
    code, _, err = run_cli(capsys, "check", TINY, TINY_REFERENCE, "--mode", "gpu_only")
    assert code == EXIT_USAGE and "no data mode 'gpu_only'" in " ".join(err.split())
    code, _, err = run_cli(capsys, "grade", TINY, tmp_path / "nothing", "--out", tmp_path / "out")
    assert code == EXIT_USAGE and "nothing: no such file or folder" in " ".join(err.split())
    assert not (tmp_path / "out").exists()  # nothing is written before the inputs are checked
    code, _, err = run_cli(capsys, "new", "Bad-Name")
    assert code == EXIT_USAGE and "lower_snake_case" in err
    with pytest.raises(SystemExit) as exit_info:  # argparse: unknown verb
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_check_exit_codes(capsys):
    code, out, _ = run_cli(capsys, "check", TINY, TINY_REFERENCE, "--json")
    assert code == EXIT_OK
    result = json.loads(out)
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 3.0, 3.0)  # public tests only
    assert all("hidden" not in t["nodeid"] for t in result["tests"])
    code, out, _ = run_cli(capsys, "check", TINY, TINY_TEMPLATE)
    assert code == EXIT_FAILED
    assert "NotImplementedError" in out


@pytest.mark.slow
def test_validate_tiny(capsys):
    """In the `torch` mode every tiny test runs (one sends a torch tensor): the reference earns 6/6."""
    code, out, _ = run_cli(capsys, "validate", TINY, "--mode", "torch", "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert code == EXIT_OK, checks
    assert checks["the reference earns full marks"]["detail"].startswith("6/6 ")
    assert checks["the template earns no points"]["ok"] and checks["the template does not break the grader"]["ok"]


@pytest.mark.slow
def test_new_assignment_validates_as_generated(tmp_path):
    created = new_assignment(name="skeleton_demo", root=tmp_path)
    folder = tmp_path / "assignments" / "skeleton_demo"
    assert folder / "assignment.yaml" in created.files
    assert (tmp_path / "templates" / "skeleton_demo" / "skeleton_demo.ipynb").is_file()
    checks = validate_assignment(assignment=folder)
    failed = [(c.name, c.detail) for c in checks if not c.ok]
    assert not failed
    assert len(checks) >= 7
    with pytest.raises(Exception, match="already exists"):
        new_assignment(name="skeleton_demo", root=tmp_path)


@pytest.mark.slow
def test_release_bundle_has_no_secrets_and_its_check_runs(tmp_path):
    release = release_assignment(assignment="ae_bottleneck", out=tmp_path / "dist")
    folder = release.folder
    files = [p.relative_to(folder) for p in folder.rglob("*")]
    assert not [p for p in files if "hidden" in p.parts], "hidden tests in the bundle"
    assert not [p for p in files if "reference_solutions" in p.parts], "reference solutions in the bundle"
    assert not (folder / "assignments" / "ae_bottleneck" / "tests" / "hidden").exists()
    expected = {"cli.py", "README.md", "requirements.txt", "ae_bottleneck.ipynb", "ae_bottleneck.py"}
    assert expected <= set(map(str, files))
    with zipfile.ZipFile(release.archive) as zf:
        names = zf.namelist()
    assert names and not [n for n in names if "/hidden/" in n or "reference_solutions" in n]
    # no solution code either: every solution block of the reference is stripped from the template
    template = (folder / "ae_bottleneck.py").read_text()
    assert "BEGIN SOLUTION" not in template and "NotImplementedError" in template

    # the student's view: a fresh process in the bundle, which must not reach back into this repository
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DLGRADE_RUN")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    proc = subprocess.run([sys.executable, "cli.py", "check", "ae_bottleneck", "ae_bottleneck.ipynb", "--json"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == EXIT_FAILED, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "graded" and result["score"] == 0 and result["max_score"] > 0
    assert result["tests"] and all(t["status"] == "failed" for t in result["tests"])
    assert all("hidden" not in t["nodeid"] for t in result["tests"])
    assert any("NotImplementedError" in t["message"] for t in result["tests"])
    assert not result["grader_errors"]


def test_pytest_lists_the_grading_markers(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("DLGRADE_RUN", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--markers", "-p", "grader.trusted.plugin"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for marker in ("@pytest.mark.points(n):", "@pytest.mark.visibility(v):", "@pytest.mark.timeout(seconds):",
                   "@pytest.mark.modes(*names):"):
        assert marker in proc.stdout
