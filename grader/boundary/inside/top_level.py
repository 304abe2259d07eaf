"""Running a submission's top level in the worker one statement at a time.

The definitions-only filter (grader.intake.definitions) keeps only cheap top-level statements, but
"cheap" is read from the code, not run: a kept `best = min(results, key=results.get)` may still
raise where the student's notebook did not. A kept statement that raises must not make the whole
submission unloadable, so each top-level statement runs on its own:
- a definition (def, class, import, and the `guarded_import` line that replaced an import) that
  raises fails the import as before, with the student's file and line;
- any other statement that raises is dropped: the names it would bind get a stand-in that says
  why if used, a record (file, line, exception) goes back to the trusted side, which lists it in
  the feedback, and loading goes on.
The submission's own modules (`from plotting import show`) are imported the same way, through a
finder for the .py files inside the submission's folder, so the filter's rewrite of them (done on
the trusted side, in place) and the dropping apply there too.

Each statement is compiled with the file's own name and line numbers, so tracebacks point at the
student's lines; the text of a line the grader rewrote is read back as written from AS_WRITTEN_DIR.
Runs in the sandboxed worker: standard library and grader.boundary only.
"""
from __future__ import annotations

import __future__
import ast
import importlib.abc
import importlib.machinery
import os
import sys

from grader.boundary.inside.stand_ins import AS_WRITTEN_DIR, DefaultNotComputed

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_DROPPED = 200  # records sent back; a file of thousands of failing lines is described by the first ones


def _is_guarded_import(stmt: ast.stmt) -> bool:
    """The line the filter wrote in place of an import: `x, = ...stand_ins.guarded_import(...)`."""
    value = getattr(stmt, "value", None)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "guarded_import"


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names a statement binds in the module's namespace (not in the functions or lambdas inside it)."""
    out, stack = [], [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp, *DEFINITIONS)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in out:
            out.append(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return out


def run_top_level(namespace: dict, source: bytes | str, filename: str, label: str, dropped: list) -> None:
    """Execute `source` in `namespace` statement by statement (see the module's docstring). `label`:
    the file as the trusted side names it ("" for the graded module, "plotting.py" for a helper);
    `dropped` gets [label, line, exception type, message] per dropped statement. Raises what a
    definition raises, and SyntaxError for a file that does not compile at all."""
    compile(source, filename, "exec", dont_inherit=True)  # a syntax error anywhere fails the import, as before
    tree = ast.parse(source, filename)
    docstring = ast.get_docstring(tree, clean=False)
    if docstring is not None:
        namespace.setdefault("__doc__", docstring)
    flags = 0
    for stmt in tree.body:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", flags=flags, dont_inherit=True)
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            for alias in stmt.names:
                flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
        if isinstance(stmt, DEFINITIONS) or _is_guarded_import(stmt):
            exec(code, namespace)
            continue
        try:
            exec(code, namespace)
        except Exception as e:  # noqa: BLE001 - the student's statement may raise anything; SystemExit is not caught
            if len(dropped) < MAX_DROPPED:
                dropped.append([label, stmt.lineno, type(e).__name__, str(e)[:300]])
            why = (f"comes from a statement that raised {type(e).__name__} while grading and was dropped "
                   f"(the notes on how your submission was read list it)")
            for name in _bound_names(stmt):
                if name not in namespace:
                    namespace[name] = DefaultNotComputed(why, f"`{name}`", "compute it inside the graded function")


class _TopLevelLoader(importlib.machinery.SourceFileLoader):
    """Loads one of the submission's own modules with `run_top_level`."""

    def __init__(self, fullname: str, path: str, root: str, dropped: list):
        super().__init__(fullname, path)
        self.root, self.dropped = root, dropped

    def exec_module(self, module) -> None:
        label = os.path.relpath(self.path, self.root)
        run_top_level(module.__dict__, self.get_data(self.path), self.path, label, self.dropped)


class SubmissionFinder(importlib.abc.MetaPathFinder):
    """Finds modules as Python would, and loads those inside the submission's folder (`root`, the
    graded module's own aside) with `_TopLevelLoader`."""

    def __init__(self, root: str, dropped: list, exclude: str):
        self.root, self.dropped, self.exclude = os.path.realpath(root), dropped, os.path.realpath(exclude)

    def find_spec(self, fullname, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        origin = os.path.realpath(spec.origin) if spec is not None and spec.origin else ""
        if not origin.endswith(".py") or origin == self.exclude or not origin.startswith(self.root + os.sep):
            return None
        if os.path.relpath(origin, self.root).split(os.sep)[0] == AS_WRITTEN_DIR:
            return None
        spec.loader = _TopLevelLoader(fullname, spec.origin, self.root, self.dropped)
        return spec


def install_finder(root: str, dropped: list, exclude: str) -> None:
    sys.meta_path.insert(0, SubmissionFinder(root, dropped, exclude))


def as_written(root: str, filename: str, line: int) -> str | None:
    """The text of `line` of a submission file as the student wrote it (the filter may have rewritten
    it: `guarded_import(...)` in place of `from plotting import show`), or None if not recorded."""
    try:
        rel = os.path.relpath(os.path.realpath(filename), os.path.realpath(root))
        with open(os.path.join(root, AS_WRITTEN_DIR, rel), encoding="utf-8") as f:
            for number, text in enumerate(f, 1):
                if number == line:
                    return text.strip()
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    return None
