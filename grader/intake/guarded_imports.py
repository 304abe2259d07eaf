"""The top-level imports the definitions filter routes through the worker's `guarded_import`:
third-party packages (which may be missing where grading runs) and the submission's own modules
(found in its folders); the standard library, torch and numpy are imported as written.

Separate from the filter's keep-or-skip decisions: this is how a kept import is rewritten, one
line for one line, into a call that the worker's stand-ins (grader.boundary.inside.stand_ins) answer.
"""
from __future__ import annotations

import ast
import sys

# imported as written: the grading environment always has them (and a stand-in would hide a broken one)
PROVIDED = {"torch", "numpy", "__future__", "grader", "dlcourse"}
# how the filtered source reaches grader.boundary.inside.stand_ins in the worker (no import statement added)
STAND_INS = "__import__('grader.boundary.inside.stand_ins').boundary.inside.stand_ins"


def import_target(stmt, local: set[str]) -> list[tuple[str, bool]] | None:
    """For a top-level import: (module, optional) per name it binds when it must go through
    `guarded_import` (third-party or the submission's own modules), else None (stdlib, torch, numpy)."""
    if isinstance(stmt, ast.ImportFrom):
        if stmt.level or not stmt.module:
            return None
        modules = [stmt.module] * len(stmt.names)
    else:
        modules = [a.name for a in stmt.names]
    out, routed = [], False
    for module in modules:
        top = module.split(".")[0]
        provided = top in sys.stdlib_module_names or top in PROVIDED
        is_local = top in local
        routed |= is_local or not provided
        out.append((module, not provided and not is_local))
    return out if routed else None


def guarded_call(stmt, targets, dirs: list[str], where: str) -> str:
    """One line that binds what `stmt` binds, through guarded_import; `where` ("plotting.py, line 2")
    is how a stand-in names the import it replaced."""
    if isinstance(stmt, ast.ImportFrom) and stmt.names[0].name == "*":
        return (f"{STAND_INS}.guarded_import("
                f"globals(), {dirs!r}, {('star', stmt.module, targets[0][1])!r}, {where!r})")
    if isinstance(stmt, ast.ImportFrom):
        names = [a.asname or a.name for a in stmt.names]
        spec = ("from", stmt.module, [(a.name, a.asname or a.name) for a in stmt.names], targets[0][1])
    else:
        names = [a.asname or a.name.split(".")[0] for a in stmt.names]
        spec = ("import", [(a.name, a.asname, opt) for a, (_, opt) in zip(stmt.names, targets)])
    return (f"{', '.join(names)}, = {STAND_INS}.guarded_import("
            f"globals(), {dirs!r}, {spec!r}, {where!r})")
