"""Where assignments, reference solutions and templates live, and finding them by name or path."""
from __future__ import annotations

import shutil
from pathlib import Path

from grader.errors import ToolkitError
from grader.spec import SPEC_FILE, Spec, load_spec

TOOLKIT_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS_DIR = TOOLKIT_ROOT / "assignments"
REFERENCE_DIR = TOOLKIT_ROOT / "reference_solutions"
TEMPLATES_DIR = TOOLKIT_ROOT / "templates"


def find_assignment(name_or_path: str | Path) -> Spec:
    """An assignment by name (a folder in assignments/) or by the path of its folder."""
    candidate = Path(name_or_path)
    if (candidate / SPEC_FILE).is_file():
        return load_spec(candidate)
    named = ASSIGNMENTS_DIR / str(name_or_path)
    if (named / SPEC_FILE).is_file():
        return load_spec(named)
    known = ", ".join(s.name for s in all_assignments()) or "none"
    raise ToolkitError(f"no assignment {str(name_or_path)!r} (known: {known}; or give the path of a folder "
                       f"holding {SPEC_FILE})")


def all_assignments() -> list[Spec]:
    if not ASSIGNMENTS_DIR.is_dir():
        return []
    return [load_spec(d) for d in sorted(ASSIGNMENTS_DIR.iterdir()) if (d / SPEC_FILE).is_file()]


def reference_dir(spec: Spec) -> Path:
    """reference_solutions/<name>/ beside the assignment's folder."""
    return spec.path.parent.parent / "reference_solutions" / spec.name


def reference_file(spec: Spec) -> Path:
    path = reference_dir(spec) / (spec.solution or f"{spec.name}.py")
    if not path.is_file():
        raise ToolkitError(f"{spec.name}: reference solution {path} not found (spec key `solution`)")
    return path


def reference_submission(spec: Spec, mode: str | None, dest: Path) -> Path:
    """What `validate` grades as the reference in `mode`: the solution file, or, when the mode names
    `reference_artifacts`, a folder `dest/<name>/` holding a copy of the solution file and of that
    folder's files (the logs and write-ups a submission hands in beside its code)."""
    solution = reference_file(spec)
    extra = spec.mode(mode).reference_artifacts
    if not extra:
        return solution
    source = solution.parent / extra
    if not source.is_dir():
        raise ToolkitError(f"{spec.name}: reference artifacts folder {source} not found "
                           f"(spec key `modes.{mode or spec.default_mode}.reference_artifacts`)")
    folder = Path(dest) / spec.name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copyfile(solution, folder / solution.name)
    return folder


def template_dir(spec: Spec) -> Path:
    return spec.path.parent.parent / "templates" / spec.name
