"""Work that runs when a kept function or class is *created* and calls the submission's own code:
decorators, default values, class attributes and keywords, and the statements of the methods
Python runs at class creation. Kept as written, it would run once in every worker; the definitions
filter (grader.intake.definitions) defers or replaces it here, each with a reason.

Separate from the filter's top-level walk: this looks inside kept definitions, at what the
submission's own callables (and which of their parameters they change) are.
"""
from __future__ import annotations

import ast

from grader.intake.filtered_source import Skipped
from grader.intake.guarded_imports import STAND_INS, import_target
from grader.intake.name_flow import FUNCTIONS, changes, dotted, root_name
from grader.intake.statement_rules import cheap_library_call

# methods that run when a class is created, not when it is used
CREATION_METHODS = {"__init_subclass__", "__set_name__", "__class_getitem__"}
METACLASS_METHODS = {"__new__", "__init__", "__prepare__"}


def changed_parameters(fn, skip_first: bool) -> tuple[set[int], set[str]]:
    """(positions, names) of the parameters a function of the submission may change in place:
    `def fill(results): results["a"] = 1` changes its first; `def train(model, cfg)` reading cfg does not."""
    params = [*fn.args.posonlyargs, *fn.args.args][1 if skip_first else 0:]
    changed = set().union(*[changes(s, cheap_library_call) for s in fn.body])
    positions = {i for i, p in enumerate(params) if p.arg in changed}
    names = {p.arg for p in [*params, *fn.args.kwonlyargs] if p.arg in changed}
    if fn.args.vararg is not None and fn.args.vararg.arg in changed:
        positions |= set(range(len(params), len(params) + 64))
    return positions, names


def own_callables(tree: ast.Module, local: set[str], record_classes: set[str]) -> dict[str, tuple | None]:
    """The submission's own top-level functions and classes (and what it imports from its own
    modules), each with the parameters it changes (`changed_parameters`), or None where its body
    is not in this file. Calling one of them at class creation runs the student's code."""
    own: dict[str, tuple | None] = {}
    stack = list(tree.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, FUNCTIONS):
            own[stmt.name] = changed_parameters(stmt, skip_first=False)
        elif isinstance(stmt, ast.ClassDef) and stmt.name not in record_classes:
            init = next((s for s in stmt.body if isinstance(s, FUNCTIONS) and s.name == "__init__"), None)
            own[stmt.name] = changed_parameters(init, skip_first=True) if init else None
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and import_target(stmt, local):
            modules = [stmt.module or ""] * len(stmt.names) if isinstance(stmt, ast.ImportFrom) else \
                [a.name for a in stmt.names]
            for module, alias in zip(modules, stmt.names):
                if module.split(".")[0] in local:
                    own[alias.asname or alias.name.split(".")[0]] = None
        elif isinstance(stmt, (ast.If, ast.Try, ast.For, ast.While, ast.With)):
            stack += [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", [])]
            stack += [s for h in getattr(stmt, "handlers", []) for s in h.body]
    return own


def own_call(node, own: dict) -> str:
    """The first call in `node` (lambda bodies aside) that runs the submission's own code, or ""."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Lambda) or not isinstance(n, ast.AST):
            continue
        if isinstance(n, ast.Call) and (dotted(n.func) in own or root_name(n.func) in own):
            return dotted(n.func) or ast.unparse(n.func)[:40]
        stack.extend(ast.iter_child_nodes(n))
    return ""


def defer_creation_work(stmt, own: dict, edits: list, skipped: list[Skipped], owner: str = "") -> None:
    """What a kept function or class runs when it is defined (decorators, default values, class
    attributes, class keywords, `__init_subclass__`, `__set_name__`, a metaclass's methods) and that
    calls the submission's own code is not paid at import in every worker: a decorator is applied at
    the function's first call (a class's is not applied), a value becomes one that says why it is
    missing if used, a statement of a creation method is not run. Each goes to `skipped`."""
    label = f"{owner}.{stmt.name}" if owner else stmt.name
    later = f"when `{label}` is defined"
    done = {id(e[0]) for e in edits}

    def stand_in(node, kind: str, call: str, text: str, *described: str) -> None:
        """`described`: (what the value is, what to do instead) for DefaultNotComputed, if not a default's."""
        why = f"calls `{call}`, defined in your code, {later}"
        args = ", ".join(repr(x) for x in (why, *described))
        edits.append((node, f"{STAND_INS}.DefaultNotComputed({args})"))
        skipped.append(Skipped(node.lineno, f"{kind}: {text}", why + "; using it fails"))

    for d in stmt.decorator_list:
        call = own_call(d, own) or (dotted(d) if root_name(d) in own else "")
        if call and id(d) not in done:
            if isinstance(stmt, FUNCTIONS):
                edits.append((d, f"{STAND_INS}.deferred_decorator(lambda: {ast.unparse(d)})"))
                why = f"calls `{call}`, defined in your code, when `{label}` is defined; applied at its first call instead"
            else:
                edits.append((d, "(lambda cls: cls)"))
                why = f"calls `{call}`, defined in your code, when `{label}` is defined; not applied while grading"
            skipped.append(Skipped(d.lineno, f"decorator: @{ast.unparse(d)[:60]} of {label}", why))
    if isinstance(stmt, FUNCTIONS):
        for d in [*stmt.args.defaults, *[k for k in stmt.args.kw_defaults if k is not None]]:
            if id(d) not in done and (call := own_call(d, own)):
                stand_in(d, "default value", call, f"{label}(... = {ast.unparse(d)[:60]})")
        return
    metaclass = any(dotted(b) in ("type", "abc.ABCMeta", "ABCMeta") for b in stmt.bases)
    for k in stmt.keywords:
        if call := own_call(k.value, own):
            stand_in(k.value, "class keyword", call, f"class {stmt.name}(... {k.arg}={ast.unparse(k.value)[:60]})",
                     f"the class keyword `{k.arg}` of `{label}`", "compute it in a method, or make it a constant")
    later = "when the class is created"
    for s in stmt.body:
        if isinstance(s, (*FUNCTIONS, ast.ClassDef)):
            defer_creation_work(s, own, edits, skipped, label)
            if isinstance(s, FUNCTIONS) and (s.name in CREATION_METHODS or (metaclass and s.name in METACLASS_METHODS)):
                for inner in ast.walk(s):
                    if isinstance(inner, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)) and \
                            (call := own_call(inner, own)):
                        edits.append((inner, "pass"))
                        skipped.append(Skipped(inner.lineno, f"statement of {label}.{s.name}: "
                                               f"{ast.unparse(inner)[:60]}", f"calls `{call}`, defined in your code, "
                                               f"{later}: not run while grading"))
        elif isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and s.value is not None and \
                (call := own_call(s.value, own)):
            target = ast.unparse(s.targets[0] if isinstance(s, ast.Assign) else s.target)
            stand_in(s.value, "class attribute", call, f"{label}.{target} = {ast.unparse(s.value)[:60]}",
                     f"the class attribute `{label}.{target}`", "compute it in a method, or make it a constant")
        elif isinstance(s, ast.Expr) and (call := own_call(s, own)):
            edits.append((s, "pass"))
            skipped.append(Skipped(s.lineno, f"statement of class {label}: {ast.unparse(s)[:60]}",
                                   f"calls `{call}`, defined in your code, {later}: not run while grading"))
