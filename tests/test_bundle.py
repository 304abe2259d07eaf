"""The student's route, from the release bundle alone: a fresh virtual environment gets nothing but
the bundle's `pip install -r requirements.txt`, then each FILLED template notebook (the reference
solution turned into the notebook, as a student who solved it would hand in) runs top to bottom
with `jupyter nbconvert --execute`, and its check cell passes every public test. The untouched
template runs too, up to the first NotImplementedError, and its check cell scores 0.

The notebooks run in a folder of their own, outside the bundle, so `dlcourse` and the checker
must come from the install, not from the working directory. Slow (a venv, torch, the course's
stack, four trainings, hpo's 100 trials): marked `bundle`, deselected by default; run with
`python -m pytest tests/test_bundle.py -m bundle`.

This machine reaches PyPI but not PyTorch's CPU index that requirements.txt names, and pip would
take PyPI's newest torch, the CUDA build. Its CPU build of torch 2.13.0 lies in pip's find-links
(/opt/wheels), so `pip install torch==2.13.0` first stands in for what the CPU index delivers;
everything else comes from requirements.txt as the README says.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.core.assignments import all_assignments, reference_file
from grader.scaffold.release import release_assignment
from grader.scaffold.templates import build_notebook

pytestmark = pytest.mark.bundle

TORCH = "torch==2.13.0"
# an order in which every bundle's requirements include the ones before it, so one venv holds
# exactly the current bundle's requirements at every step (hpo adds optuna)
ORDER = ["ae_bottleneck", "conv1d_windowing", "gan", "hpo"]
TIMINGS: dict[str, float] = {}


def _requirements(folder: Path) -> set[str]:
    lines = (folder / "requirements.txt").read_text().splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#") and ln.strip() != "-e ."}


def _env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DLGRADE_RUN", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_RETRIES"] = "0"  # PyTorch's index is unreachable here: fail over to the others at once
    return env


def _run(argv, **kw):
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{argv[:4]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return {name: release_assignment(assignment=name, out=out).folder for name in ORDER}


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("venv") / "v"
    TIMINGS["venv"] = _run([sys.executable, "-m", "venv", str(path)], timeout=300)
    TIMINGS["torch"] = _run([str(path / "bin" / "pip"), "install", "-q", TORCH], env=_env(path), timeout=900)
    yield path
    report = ", ".join(f"{k} {v:.0f} s" for k, v in TIMINGS.items())
    print(f"\nbundle route timings: {report}")


def _filled_notebook(spec) -> nbformat.NotebookNode:
    """The reference solution as the notebook a student who solved the template would have."""
    readme = (spec.path / "README.md").read_text(encoding="utf-8")
    return build_notebook(reference_file(spec).read_text(encoding="utf-8"), assignment=spec.name, title=spec.title,
                          task_markdown=readme)


def _execute(venv: Path, notebook: Path, *, allow_errors: bool = False, timeout: int = 1800) -> nbformat.NotebookNode:
    argv = [str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace",
            f"--ExecutePreprocessor.timeout={timeout}", str(notebook.name)]
    if allow_errors:
        argv.insert(-1, "--allow-errors")
    _run(argv, cwd=notebook.parent, env=_env(venv), timeout=timeout + 300)
    return nbformat.read(notebook, as_version=4)


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("display_data", "execute_result"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return re.sub(r"\x1b\[[0-9;]*m", "", "".join(parts))  # rich's colours, as a terminal would show them


def _score(cell) -> tuple[float, float]:
    found = re.findall(r"Score: ([\d.]+) / ([\d.]+)", _text(cell))
    assert found, f"the check cell printed no score:\n{_text(cell)[-3000:]}"
    return float(found[-1][0]), float(found[-1][1])


SPECS = {s.name: s for s in all_assignments()}


@pytest.mark.parametrize("name", ORDER)
def test_the_filled_notebook_runs_from_the_bundle_and_passes_its_check(name, bundles, venv, tmp_path):
    folder = bundles[name]
    earlier = set().union(*(_requirements(bundles[n]) for n in ORDER[:ORDER.index(name)]))
    assert earlier <= _requirements(folder), "the venv would hold more than this bundle's requirements"
    TIMINGS[f"{name} install"] = _run([str(venv / "bin" / "pip"), "install", "-q", "-r", "requirements.txt"],
                                      cwd=folder, env=_env(venv), timeout=1800)
    work = tmp_path / "work"  # outside the bundle: the package and the checker come from the install
    work.mkdir()
    notebook = work / f"{name}.ipynb"
    nbformat.write(_filled_notebook(SPECS[name]), notebook)
    t0 = time.perf_counter()
    executed = _execute(venv, notebook)
    TIMINGS[f"{name} filled notebook"] = time.perf_counter() - t0
    score, max_score = _score(executed.cells[-1])
    assert max_score > 0 and score == max_score, _text(executed.cells[-1])[-3000:]

    # the untouched template: runs until the first function the student has to write, no further
    template = work / "template" / f"{name}.ipynb"
    template.parent.mkdir()
    template.write_bytes((folder / f"{name}.ipynb").read_bytes())
    executed = _execute(venv, template, allow_errors=True, timeout=600)
    errors = [out for c in executed.cells for out in c.get("outputs", []) if out.get("output_type") == "error"]
    assert errors and all(e["ename"] == "NotImplementedError" for e in errors), [e["ename"] for e in errors]
    assert _score(executed.cells[-1])[0] == 0


def test_the_bundle_installs_the_course_package_for_any_folder(bundles, venv, tmp_path):
    """After `pip install -r requirements.txt`, `import dlcourse` works anywhere, without `__file__`
    tricks, and the engine's readers are the same functions."""
    probe = ("import dlcourse.datasets, dlcourse.trial_log, grader.authoring.datasets, json; "
             "print(json.dumps([dlcourse.__file__, grader.authoring.datasets.load_digits is dlcourse.datasets.load_digits]))")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=_env(venv),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, same = json.loads(proc.stdout)
    assert Path(where).parent.parent in {b for b in bundles.values()} and same
