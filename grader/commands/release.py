"""`release`: the student bundle. Task README, templates, public tests and the toolkit to run them.
No hidden tests, no reference solution."""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.assignments import TOOLKIT_ROOT, find_assignment, template_dir
from grader.commands.build import build_templates
from grader.course_key import KEY_FILE
from grader.errors import ToolkitError

BUNDLE_README = """# {title}

Your task is in `{name}/README.md`; start from `{name}.ipynb` (open it in Jupyter or Colab) or `{name}.py`.

Check your work with the public tests (needs Python 3.10+ with torch, pytest, nbformat, pyyaml, rich,
numpy and scikit-learn; `pip install -r requirements.txt`):

    python cli.py check {name} {name}.ipynb

The final grading runs more (hidden) tests with the same engine.
"""


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
    # the engine, so `python cli.py check` works in the bundle
    shutil.copytree(TOOLKIT_ROOT / "grader", folder / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(TOOLKIT_ROOT / "cli.py", folder)
    (folder / "requirements.txt").write_text("torch>=2.1\nnumpy\npytest>=7\nnbformat>=5\nnbconvert>=7\npyyaml>=6\nrich>=13\nscikit-learn>=1.2\n")
    (folder / "README.md").write_text(BUNDLE_README.format(title=spec.title, name=spec.name))
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
