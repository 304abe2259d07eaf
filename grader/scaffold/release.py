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
from grader.scaffold.generated import render

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
    (folder / "pyproject.toml").write_text(render("release/pyproject.toml", version=__version__, name=spec.name),
                                           encoding="utf-8")
    folder_hint = (f"\n    python cli.py check {spec.name} my_submission/   # a folder: the notebook and the files "
                   "handed in beside it" if spec.submission.private else "")
    (folder / "README.md").write_text(render("release/README.md", title=spec.title, name=spec.name, folder_hint=folder_hint),
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
