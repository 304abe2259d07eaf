"""How much of an assignment's API a code file defines and implements: tells the solved file
from the untouched template beside it (grader.intake.workspace picks the graded file with it).

Separate from the definitions filter: it reads the same syntax tree for another question, and
never changes the source. Nothing is executed.
"""
from __future__ import annotations

import ast

from grader.intake.name_flow import FUNCTIONS, binds, dotted


def is_stub(fn) -> bool:
    """A function the student has not written yet: empty, or raising NotImplementedError."""
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(
        getattr(fn.body[0], "value", None), ast.Constant) else fn.body
    if all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body):
        return True
    for s in body:
        if isinstance(s, ast.Raise) and s.exc is not None:
            target = s.exc.func if isinstance(s.exc, ast.Call) else s.exc
            if dotted(target) == "NotImplementedError":
                return True
    return False


def api_coverage(tree: ast.Module, api: list[tuple[str, str | None]]) -> tuple[set[str], set[str]]:
    """(names of the API the module binds at top level, API entries it implements): used to tell a
    solved file from an untouched template. `api` holds (name, member or None) pairs."""
    top: dict[str, ast.AST] = {}
    for stmt in tree.body:
        blocks = [stmt]
        if isinstance(stmt, (ast.If, ast.Try)):  # `try: import x except: ...`, `if CUDA: class ...`
            blocks = [s for s in ast.walk(stmt) if isinstance(s, ast.stmt) and not isinstance(s, (ast.If, ast.Try))]
        for s in blocks:
            for name in binds(s):
                top[name] = s
    defined, implemented = set(), set()
    for owner, member in api:
        node = top.get(owner)
        if node is None:
            continue
        defined.add(owner)
        label = f"{owner}.{member}" if member else owner
        if isinstance(node, FUNCTIONS) and not member and not is_stub(node):
            implemented.add(label)
        elif isinstance(node, ast.ClassDef):
            methods = {s.name: s for s in node.body if isinstance(s, FUNCTIONS)}
            fn = methods.get(member or "__init__")
            if (fn is None and not member) or (fn is not None and not is_stub(fn)):
                implemented.add(label)
    return defined, implemented
