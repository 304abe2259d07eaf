"""Where assignments, reference solutions and templates live, and finding them by name or path."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

from grader.core import python_ast
from grader.core.errors import ToolkitError
from grader.core.spec import SPEC_FILE, Spec, load_spec

TOOLKIT_ROOT = Path(__file__).resolve().parents[2]
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


def _marks(decorators) -> tuple[float | None, int, tuple | None]:
    """(points, parametrized cases, modes or None) from a test's decorators or a module's pytestmark."""
    points, cases, modes = None, 1, None
    for d in decorators:
        if not isinstance(d, ast.Call):
            continue
        name = ast.unparse(d.func)
        if name.endswith("mark.points"):
            try:
                points = float(eval(python_ast.compile_tree(ast.Expression(d.args[0]), "points", "eval"), {}))
            except Exception:  # noqa: BLE001 - an instructor's expression we cannot evaluate
                points = float("nan")
        elif name.endswith("mark.parametrize"):
            try:
                cases *= len(ast.literal_eval(d.args[1]))
            except ValueError:
                pass
        elif name.endswith("mark.modes"):
            modes = tuple(a.value for a in d.args if isinstance(a, ast.Constant))
    return points, cases, modes


def marked_points(spec: Spec, *, hidden: bool = True) -> tuple[list[tuple[str, float, tuple | None]], list[str]]:
    """(test, points, modes or None: every mode) for each test in the public (and hidden) test files,
    read statically from their markers without running anything; and the tests without points."""
    tests, missing = [], []
    for folder in (spec.public_tests, spec.hidden_tests) if hidden else (spec.public_tests,):
        for path in sorted(folder.glob("test_*.py")) if folder.exists() else []:
            tree = python_ast.parse(path.read_text(encoding="utf-8"))
            module_modes = None
            for node in tree.body:  # pytestmark = pytest.mark.modes(...) (or a list of marks)
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
                    marks = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
                    module_modes = _marks(marks)[2]
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    points, cases, modes = _marks(node.decorator_list)
                    if points is None:
                        missing.append(f"{path.name}::{node.name}")
                    else:
                        tests.append((f"{path.name}::{node.name}", points * cases, modes or module_modes))
    return tests, missing


def points_in_mode(tests: list[tuple[str, float, tuple | None]], mode: str) -> float:
    """What the tests of `marked_points` are worth in `mode` (a test marked for other modes counts 0)."""
    return sum(p for _, p, modes in tests if modes is None or mode in modes)
