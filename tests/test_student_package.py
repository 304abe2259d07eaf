"""dlcourse, the student package: what templates and reference solutions import instead of the
engine, how it is installed (the course's repo, the release bundle), and what the bundle says.
The full route (a fresh venv, each filled notebook executed) is tests/test_bundle.py (-m bundle)."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dlcourse.config import from_command_line
from dlcourse.trial_log import TrialLog, load_trial_log
from grader.core.assignments import all_assignments, find_assignment, reference_file
from grader.scaffold.release import release_assignment
from grader.scaffold.environment import TORCH_CPU_INDEX, imported_packages, module_name, undeclared_imports
from grader.core.spec import COURSE_STACK
from grader.authoring.trial_log import read_trial_log

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "dlcourse"


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DLGRADE_RUN")}


# --- the package never reaches into the engine ----------------------------------------------------

def test_the_student_package_imports_nothing_of_the_engine():
    """The grading worker gets dlcourse but not the trusted engine: not one import of `grader`."""
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] == "grader"], f"{path.name} imports {names}"
    probe = ("import sys, dlcourse.datasets, dlcourse.trial_log, dlcourse.config; "
             "print([m for m in sys.modules if m.split('.')[0] == 'grader'])")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_the_engine_reads_with_the_same_code():
    import dlcourse.datasets
    import grader.authoring.datasets
    import grader.authoring.trial_log

    assert grader.authoring.datasets.load_digits is dlcourse.datasets.load_digits
    assert grader.authoring.datasets.DataNotFound is dlcourse.datasets.DataNotFound
    assert grader.authoring.trial_log.TrialLog is TrialLog


@pytest.mark.parametrize("spec", all_assignments(), ids=lambda s: s.name)
def test_references_and_templates_import_the_student_package_not_the_engine(spec):
    source = reference_file(spec).read_text()
    assert "dlcourse" in source
    assert not re.search(r"^\s*(from|import) grader\b", source, re.M)
    assert "__file__" not in source and "sys.path" not in source


# --- the trial log: written by the student, read back by the student and by the grader ----------

def test_a_trial_log_round_trips_through_both_readers(tmp_path):
    path = tmp_path / "hpo_log.jsonl"
    with TrialLog(path, method="random", dataset="digits", max_epochs=3) as log:
        log.record(trial=0, config={"width": 8, "lr": 1e-3}, seed=0, params=120, val_accuracy=0.5,
                   train_seconds=1.0, epochs=3)
        log.record(trial=1, config={"width": 16}, seed=1, params=None, val_accuracy=None, train_seconds=0.1,
                   epochs=0, status="failed")
    header, trials = load_trial_log(path)
    assert header["method"] == "random" and header["max_epochs"] == 3
    assert [t["trial"] for t in trials] == [0, 1] and trials[0]["config"] == {"width": 8, "lr": 1e-3}
    g_header, g_trials, errors = read_trial_log(path)
    assert errors == [] and g_header["source_format"] == "jsonl"
    assert [(t["trial"], t["status"]) for t in g_trials] == [(0, "complete"), (1, "failed")]
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(ValueError, match="line 4: not JSON"):
        load_trial_log(path)


CSV_HEADER = ["trial", "config", "seed", "params", "val_accuracy", "train_seconds", "epochs", "status"]


@pytest.mark.parametrize("sep,decimal", [(";", ","), (";", "."), ("\t", "."), (",", ".")],
                         ids=["semicolon-decimal-comma", "semicolon", "tab", "comma"])
def test_a_csv_log_is_read_whatever_its_separator(sep, decimal):
    """pandas' `to_csv(sep=";", decimal=",")` (a European Excel's CSV) is read as columns, not one."""
    def num(x):
        return str(x).replace(".", decimal)
    rows = [sep.join(CSV_HEADER)]
    for n, (width, acc) in enumerate([(8, 0.61), (16, 0.7), (32, 0.755)]):
        config = '"{""width"": %d, ""lr"": 0.001}"' % width   # JSON with commas inside, quoted
        rows.append(sep.join([str(n), config, str(n), str(100 * width), num(acc), num(1.5), "3", "complete"]))
    header, trials, errors = read_trial_log("\n".join(rows) + "\n")
    assert errors == [] and header["source_format"] == "csv"
    assert [t["val_accuracy"] for t in trials] == [0.61, 0.7, 0.755]
    assert [t["config"] for t in trials] == [{"width": w, "lr": 0.001} for w in (8, 16, 32)]
    assert all(t["train_seconds"] == 1.5 for t in trials)


# --- settings from the command line, but not from a notebook kernel's ------------------------------

def test_from_command_line_reads_flags_in_a_script_and_none_in_a_notebook(monkeypatch):
    from dataclasses import dataclass

    @dataclass
    class Config:
        epochs: int = 50
        bottlenecks: tuple = (32, 16, 8)
        calendar: bool = True
        mode: str = "embedded"

    got = from_command_line(Config, ["--epochs", "5", "--bottlenecks", "4", "2", "--no-calendar", "--mode", "full"])
    assert got == Config(epochs=5, bottlenecks=(4, 2), calendar=False, mode="full")
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/run/kernel-1.json"])
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # inside a Jupyter kernel
    assert from_command_line(Config) == Config()


@pytest.mark.slow
def test_a_reference_runs_as_a_script_from_any_folder(tmp_path):
    """No `__file__` and no sys.path edits: the installed package is found from anywhere."""
    proc = subprocess.run([sys.executable, str(REPO / "reference_solutions" / "ae_bottleneck" / "ae_bottleneck.py"),
                           "--epochs", "1", "--bottlenecks", "8"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"bottleneck\s+8: train BCE [\d.]+\s+test BCE [\d.]+", proc.stdout), proc.stdout


# --- installable from the course's repository ------------------------------------------------------

@pytest.mark.slow
def test_the_repository_builds_a_wheel_holding_the_student_package(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("dlgrade-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("dlcourse/__init__.py", "dlcourse/datasets.py", "dlcourse/trial_log.py", "dlcourse/config.py"):
        assert module in names
    # every room of the engine, and the files new, release and gradescope write (package data)
    rooms = {p.parent.relative_to(REPO).as_posix() for p in (REPO / "grader").glob("*/__init__.py")}
    assert {f"{room}/__init__.py" for room in rooms} <= set(names)
    files = {p.relative_to(REPO).as_posix() for p in (REPO / "grader" / "scaffold" / "files").rglob("*.tmpl")}
    assert files and files <= set(names)
    requires = [line for line in zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
                .decode().splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    declared = {re.split(r"[<>=; ]", r.split(":", 1)[1].strip())[0].lower() for r in requires}
    assert {p.lower() for p in COURSE_STACK} <= declared   # the grading environment installs with the toolkit


# --- the grading environment ----------------------------------------------------------------------

def test_the_environment_names_import_names():
    assert [module_name(e) for e in ("scikit-learn", "pyyaml", "tqdm", "opencv-python", "my-pkg", "foo:bar")] == \
        ["sklearn", "yaml", "tqdm", "cv2", "my_pkg", "bar"]
    assert imported_packages("import os, numpy as np\nfrom torch import nn\nfrom . import x\n"
                             "def f():\n    import optuna.samplers\n") == {"numpy", "optuna"}


def test_a_reference_importing_an_undeclared_package_is_caught(tmp_path):
    spec = find_assignment("hpo")
    assert undeclared_imports(spec, reference_file(spec)) == []
    spec.environment.packages = [p for p in spec.environment.packages if p != "optuna"]
    assert undeclared_imports(spec, reference_file(spec)) == ["optuna"]


# --- the release bundle ----------------------------------------------------------------------------

def _requirements(folder: Path) -> list[str]:
    return [ln.strip() for ln in (folder / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("name", ["ae_bottleneck", "hpo"])
def test_the_bundle_requirements_are_complete_and_take_the_cpu_build_of_torch(name, tmp_path):
    folder = release_assignment(assignment=name, out=tmp_path).folder
    lines = _requirements(folder)
    index = lines.index(f"--extra-index-url {TORCH_CPU_INDEX}")
    torch = next(i for i, ln in enumerate(lines) if re.match(r"torch\b", ln))
    assert index < torch, "the CPU index must be named before torch"
    names = {re.split(r"[<>=]", ln)[0].lower() for ln in lines if not ln.startswith("-")}
    spec = find_assignment(name)
    assert {p.lower() for p in spec.environment.packages} <= names
    assert {"pytest", "nbformat", "nbconvert", "pyyaml", "rich", "ipykernel"} <= names
    assert ("optuna" in names) == (name == "hpo")   # only the assignment whose reference searches with it
    assert "torchvision" not in names               # optional: no build matches this torch
    assert lines[-1] == "-e ."                      # the bundle itself: dlcourse and the checker
    assert {"dlcourse", "grader"} <= {p.name for p in folder.iterdir()}
    toml = (folder / "pyproject.toml").read_text()
    assert '"dlcourse"' in toml and 'dlgrade = "grader.cli:main"' in toml   # the command `dlgrade`
    assert (folder / "cli.py").is_file()                                      # and `python cli.py`


def test_every_path_the_bundle_readme_names_is_in_the_bundle(tmp_path):
    folder = release_assignment(assignment="hpo", out=tmp_path).folder
    readme = (folder / "README.md").read_text()
    named = set(re.findall(r"`([\w./-]+/|[\w./-]+\.\w+)`", readme))
    assert {"assignments/hpo/README.md", "hpo.ipynb", "hpo.zip", "dlcourse/", "requirements.txt"} <= named
    for path in named - {"hpo.zip"}:   # the zip is the bundle itself, beside its folder
        assert (folder / path).exists(), f"the bundle README names {path}, which the bundle lacks"
    assert (tmp_path / "hpo.zip").is_file()
    for command in re.findall(r"^    (python cli\.py .+?)(?:\s+#.*)?$", readme, re.M):
        _, cli, verb, assignment, *paths = command.split()
        assert (folder / cli).is_file() and (folder / "assignments" / assignment / "assignment.yaml").is_file()
        for word in paths:
            assert word == "my_submission/" or (folder / word).exists(), command


def test_the_check_cell_grades_the_notebook_with_the_files_handed_in_beside_it(tmp_path):
    from grader.commands.notebook_check import hand_ins

    spec = find_assignment("hpo")
    for name in ("hpo_log.jsonl", "analysis.md", "hpo.db", "notes.py"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.jsonl").write_text("x")
    assert [p.name for p in hand_ins(spec, tmp_path)] == ["analysis.md", "hpo_log.jsonl"]
    assert hand_ins(find_assignment("ae_bottleneck"), tmp_path) == []   # nothing but the notebook


def test_in_the_bundle_folder_the_bundle_copies_are_imported(tmp_path):
    """The zip holds the package and the pyproject; inside the folder nothing reaches back into this repository."""
    release = release_assignment(assignment="hpo", out=tmp_path / "dist")
    with zipfile.ZipFile(release.archive) as zf:
        assert "hpo/dlcourse/trial_log.py" in zf.namelist() and "hpo/pyproject.toml" in zf.namelist()
    env = {**_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([sys.executable, "-c", "import dlcourse, grader; print(dlcourse.__file__, grader.__file__)"],
                          cwd=release.folder, env=env, capture_output=True, text=True, timeout=60)
    paths = proc.stdout.split()
    assert len(paths) == 2 and all(Path(p).resolve().is_relative_to(release.folder.resolve()) for p in paths), paths
