"""`release`: the student bundle. Task README, templates, public tests, the course package and the
checker, installable with one `pip install -r requirements.txt`. No hidden tests, no reference
solution, no course key."""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.core.assignments import TOOLKIT_ROOT, find_assignment, reference_file, template_dir
from grader.scaffold.build import build_templates
from grader.trusted.course_key import KEY_FILE
from grader.scaffold.environment import requirements_text, undeclared_imports
from grader.core.errors import ToolkitError

BUNDLE_README = """# {title}

The task is in `assignments/{name}/README.md`. Start from `{name}.ipynb` (Jupyter or Colab) or
`{name}.py` in this folder.

## Set up (once)
On your own machine, in this folder (Python 3.10 or newer; a virtual environment is best):

    pip install -r requirements.txt

This installs PyTorch's CPU build (with an NVIDIA GPU, delete the `--extra-index-url` line of
`requirements.txt` first to get the CUDA build), the packages the grading environment has, and
this folder itself: the course package `dlcourse` (data readers, the trial log) that the notebook
imports, and the checker.

In Colab: open `{name}.ipynb` (File > Upload notebook), upload `{name}.zip` (this bundle) with
the Files pane, and run the notebook's first code cell: it unpacks and installs the bundle.

## Check your work
Run the notebook's last cell, or in this folder:

    python cli.py check {name} {name}.ipynb{folder_hint}

The checks run the public tests on your code in a separate process. The final grading runs more
(hidden) tests with the same engine.

## What is here
- `{name}.ipynb`, `{name}.py`: the template, to fill in;
- `assignments/{name}/`: the task (`README.md`), its settings and the public tests;
- `dlcourse/`: the course package; `grader/`, `cli.py`: the checker;
- `requirements.txt`, `pyproject.toml`: what `pip install -r requirements.txt` installs.
"""

BUNDLE_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dlgrade"
version = "{version}"
description = "The student bundle of {name}: the course package dlcourse and the checker"
requires-python = ">=3.10"

[project.scripts]
dlgrade = "cli:main"

[tool.setuptools]
py-modules = ["cli"]
packages = [
    "grader",
    "grader.authoring",
    "grader.boundary",
    "grader.commands",
    "grader.core",
    "grader.grading",
    "grader.intake",
    "grader.records",
    "grader.reports",
    "grader.scaffold",
    "grader.trusted",
    "dlcourse",
]
"""

TOOLKIT_PACKAGES = ("grader", "dlcourse")  # copied whole: the checker and the course package


@dataclass
class Release:
    folder: Path
    archive: Path
    files: list[str]


def release_assignment(*, assignment: str | Path, out: Path) -> Release:
    spec = find_assignment(assignment)
    stale = [c.name for c in build_templates(assignment=spec.path, check_only=True) if not c.ok]
    if stale:
        raise ToolkitError(f"templates are out of date ({', '.join(stale)}); run `dlgrade build {spec.name}` first")
    undeclared = undeclared_imports(spec, reference_file(spec))
    if undeclared:
        raise ToolkitError(f"the reference solution imports {', '.join(undeclared)}, which {spec.path / 'assignment.yaml'} "
                           "does not list in environment.packages: the bundle's requirements would lack it")
    folder = Path(out) / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    # the assignment without its hidden tests
    dest = folder / "assignments" / spec.name
    dest.mkdir(parents=True)
    shutil.copy2(spec.path / "assignment.yaml", dest)
    shutil.copy2(spec.path / "README.md", dest)
    tests = spec.path / "tests"
    for item in tests.iterdir():
        if item.name in ("hidden", "__pycache__"):
            continue
        if item.is_dir():
            shutil.copytree(item, dest / "tests" / item.name, ignore=shutil.ignore_patterns("__pycache__", KEY_FILE))
        else:
            (dest / "tests").mkdir(exist_ok=True)
            shutil.copy2(item, dest / "tests" / item.name)
    for template in template_dir(spec).iterdir():
        shutil.copy2(template, folder)
    # the checker and the course package, so `pip install -r requirements.txt` makes both importable
    for package in TOOLKIT_PACKAGES:
        shutil.copytree(TOOLKIT_ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(TOOLKIT_ROOT / "cli.py", folder)
    (folder / "requirements.txt").write_text(requirements_text(spec), encoding="utf-8")
    (folder / "pyproject.toml").write_text(BUNDLE_PYPROJECT.format(version=__version__, name=spec.name),
                                           encoding="utf-8")
    folder_hint = (f"\n    python cli.py check {spec.name} my_submission/   # a folder: the notebook and the files "
                   "handed in beside it" if spec.submission.private else "")
    (folder / "README.md").write_text(BUNDLE_README.format(title=spec.title, name=spec.name, folder_hint=folder_hint),
                                      encoding="utf-8")
    leaked = [p for p in folder.rglob("*") if "hidden" in p.parts or "reference_solutions" in p.parts
              or p.name == KEY_FILE]
    if leaked:  # belt and braces: a release must never carry hidden tests, the reference or a course key
        shutil.rmtree(folder)
        raise ToolkitError(f"refusing to release: {leaked[0]} would leak")
    archive = Path(out) / f"{spec.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, Path(spec.name) / p.relative_to(folder))
    return Release(folder, archive, sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))
