"""Did you mean `AutoEncoder`? The name a submission defines that is nearest to one the tests looked
for and did not find (a class, a function, a method, a keyword parameter).

The names come from the submission's source, parsed here on the trusted side; the worker is never
asked, since its answers are the submission's to make up, and asking would run its code. The source
is the module the intake wrote, which has already passed the intake's parse bounds (size, tokens,
nesting), so parsing it again here is cheap and safe."""
from __future__ import annotations

import ast
import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path

from grader.core import python_ast

CUTOFF = 0.85   # difflib's similarity ratio: "encoder" for "encode", never "train_autoencoder" for "Autoencoder"


@dataclass(frozen=True)
class Suggestion:
    name: str   # the submission's own spelling
    line: int   # where the submission defines it (a line of the module the intake wrote)


@dataclass
class SubmissionNames:
    """What the submission defines, each with its line: top-level names, each class's members and
    bases, and the keyword parameters of functions, methods and classes (a class's are its __init__'s)."""
    top: dict[str, int] = field(default_factory=dict)
    members: dict[str, dict[str, int]] = field(default_factory=dict)
    bases: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, dict[str, int]] = field(default_factory=dict)   # "f", "Class", "Class.method"

    @classmethod
    def from_source(cls, source: str) -> SubmissionNames:
        names = cls()
        try:
            tree = python_ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return names   # no suggestion is better than a grader failure
        for node in tree.body:
            for name, line in _bound_names(node):
                names.top.setdefault(name, line)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.params[node.name] = _parameters(node)
            elif isinstance(node, ast.ClassDef):
                members = names.members.setdefault(node.name, {})
                names.bases[node.name] = [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                                          if isinstance(b, (ast.Name, ast.Attribute))]
                for item in node.body:
                    for name, line in _bound_names(item):
                        members.setdefault(name, line)
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.params[f"{node.name}.{item.name}"] = _parameters(item)
        return names

    def of_class(self, name: str) -> dict[str, int]:
        """A class's members with those of its bases defined in the same file (nearest class first)."""
        out: dict[str, int] = {}
        for klass in self._lineage(name):
            for member, line in self.members[klass].items():
                out.setdefault(member, line)
        return out

    def parameters_of(self, callee: str) -> dict[str, int]:
        """The keyword parameters of `f`, `Class` (its __init__, maybe inherited) or `Class.method`."""
        owner, _, method = callee.rpartition(".")
        if not owner and callee in self.params:
            return self.params[callee]
        for klass in self._lineage(owner or callee):
            if f"{klass}.{method if owner else '__init__'}" in self.params:
                return self.params[f"{klass}.{method if owner else '__init__'}"]
        return {}

    def _lineage(self, name: str) -> list[str]:
        """`name` and its bases that the file defines, breadth first, each once (cycles cannot loop)."""
        out, todo = [], [name]
        while todo:
            current = todo.pop(0)
            if current in out or current not in self.members:
                continue
            out.append(current)
            todo += self.bases.get(current, [])
        return out


def _bound_names(node: ast.stmt) -> list[tuple[str, int]]:
    """The names a top-level (or class-level) statement binds: definitions, assignments, imports."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [(node.name, node.lineno)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [((a.asname or a.name).split(".")[0], node.lineno) for a in node.names if a.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return [(n.id, node.lineno) for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, int]:
    """Parameters a caller may pass by keyword (`self`/`cls` first of a method is harmless to list)."""
    args = fn.args
    return {a.arg: a.lineno for a in (*args.args, *args.kwonlyargs)}


@functools.lru_cache(maxsize=4)
def names_in(path: str) -> SubmissionNames:
    """The names defined by the module at `path` (one pytest process grades one submission: cached)."""
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return SubmissionNames()
    return SubmissionNames.from_source(source)


def nearest(missing: str, candidates: dict[str, int]) -> Suggestion | None:
    """The candidate that differs from `missing` in letter case only, else the closest by difflib
    (compared case-insensitively); None when nothing is close or `missing` itself is defined."""
    if not missing or missing in candidates:
        return None
    usable = {c: line for c, line in candidates.items() if not (c.startswith("__") and c.endswith("__"))}
    by_lower: dict[str, str] = {}
    for c in usable:
        by_lower.setdefault(c.lower(), c)
    if missing.lower() in by_lower:
        found = by_lower[missing.lower()]
    else:
        close = difflib.get_close_matches(missing.lower(), list(by_lower), n=1, cutoff=CUTOFF)
        if not close:
            return None
        found = by_lower[close[0]]
    return Suggestion(found, usable[found])
