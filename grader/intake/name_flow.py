"""Which names a statement binds, reads now, and may change in place: the data flow the
definitions filter (grader.intake.definitions) follows to decide what a kept statement needs.

Separate from the filter's decisions because these are plain facts about Python's syntax, used
by every part of the filter (what is cheap, what runs at class creation, what a skipped statement
takes with it). Iterative walks throughout: a hostile, deeply nested expression must not exhaust
the grader's stack (the nesting depth is bounded by grader.intake.source_limits).
"""
from __future__ import annotations

import ast

COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# calls whose result no later call can change in place (strings, numbers, paths, devices)
IMMUTABLE_CALLS = {"str", "int", "float", "bool", "round", "abs", "len", "tuple", "frozenset", "os.path.join",
                   "os.environ.get", "os.getenv", "os.cpu_count", "Path", "pathlib.Path", "torch.device",
                   "torch.cuda.is_available", "torch.cuda.device_count", "torch.backends.mps.is_available",
                   "torch.get_default_dtype"}


def dotted(node) -> str:
    """`torch.nn.Linear` for that attribute chain on a name; "" for anything else (a call's result, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def all_args(args: ast.arguments) -> list[ast.arg]:
    """Every parameter of a function or lambda, `*args` and `**kwargs` included."""
    return [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
            *([args.kwarg] if args.kwarg else [])]


def binds(stmt) -> set[str]:
    """Names a statement binds in the scope it runs in (not inside the functions or classes it defines)."""
    out, stack = set(), [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            out.add(node.name)  # what its body binds is its own
            continue
        if isinstance(node, (ast.Lambda, *COMPREHENSIONS)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return out


def reads(node, *, lazy_annotations: bool = False, ignore=frozenset()) -> set[str]:
    """Names a statement or expression reads when it runs now: lambda and function bodies are not run
    (their defaults, decorators and annotations are), class bodies are; comprehension variables are
    their own. Iterative, except one level per nested class (the depth is bounded by source_limits)."""
    out, local, stack = set(), set(), [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if not isinstance(n, ast.AST) or id(n) in ignore:
            continue
        if isinstance(n, (*FUNCTIONS, ast.Lambda)):
            stack += [*n.args.defaults, *[d for d in n.args.kw_defaults if d]]
            if isinstance(n, FUNCTIONS):
                stack += n.decorator_list
                if not lazy_annotations:
                    stack += [a.annotation for a in all_args(n.args)] + [n.returns]
            continue
        if isinstance(n, ast.ClassDef):
            stack += [*n.decorator_list, *n.bases, *[k.value for k in n.keywords]]
            inner = set().union(*[reads(s, lazy_annotations=lazy_annotations, ignore=ignore) for s in n.body])
            out |= inner - set().union(*[binds(s) for s in n.body])
            continue
        if isinstance(n, COMPREHENSIONS):
            for g in n.generators:
                local |= {t.id for t in ast.walk(g.target) if isinstance(t, ast.Name)}
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            out.add(n.target.id)  # `x /= 255` reads x
        for name, value in ast.iter_fields(n):
            if lazy_annotations and name == "annotation":
                continue
            stack.append(value)
    return out - local


def root_name(node) -> str:
    """`temps` for `temps`, `results["a"].items`, `*batch`; "" for anything not rooted in a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def changes(stmt, is_cheap, own=None) -> set[str]:
    """Names a statement may change without rebinding them: appended to or updated through a method
    (`temps.append(t)`), item- or attribute-assigned (`results[k] = v`), deleted from, or passed to
    a call that may change them (`fill(results)`). Function and lambda bodies are not run here.
    `is_cheap(dotted)`: calls that change nothing they are given (`len`, `np.array`); `own`: for the
    submission's functions, which of their parameters they change (see grader.intake.creation_work)."""
    out, stack = set(), [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(root_name(node.value))
        elif isinstance(node, ast.Call) and not is_cheap(name := dotted(node.func)):
            if isinstance(node.func, ast.Attribute):
                out.add(root_name(node.func.value))
            # what a call is given is a name (`fill(results)`); `f(cfg["lr"])` gives it an element only
            starred = any(isinstance(a, ast.Starred) for a in node.args)  # positions unknown from here on
            given = [(i, a.value if isinstance(a, ast.Starred) else a) for i, a in enumerate(node.args)]
            given += [(k.arg, k.value) for k in node.keywords]
            changed = (own or {}).get(name)
            if changed is not None:  # the submission's function: only the parameters its body changes
                positions, keywords = changed
                given = [(key, a) for key, a in given if key in positions or key in keywords or key is None
                         or (starred and isinstance(key, int))]
            out.update(a.id for _, a in given if isinstance(a, ast.Name))
        stack.extend(ast.iter_child_nodes(node))
    return out - {""}


def immutable(value, fixed: set) -> bool:
    """A value no call can change in place (a string, a number, a path, a tuple of those): `DATA =
    "data/"` passed to a skipped `np.load(DATA)` is still "data/" afterwards, so its readers keep it.
    `fixed`: the names already known to hold such values (and imports, functions, classes)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            if dotted(node.func) not in IMMUTABLE_CALLS:
                return False
        elif isinstance(node, ast.Name):
            if node.id not in fixed:
                return False
        elif isinstance(node, ast.IfExp):  # `"cuda" if torch.cuda.is_available() else "cpu"`: one of the two
            stack += [node.body, node.orelse]
        elif isinstance(node, (ast.Tuple, ast.BinOp, ast.UnaryOp, ast.BoolOp)):
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
        elif not isinstance(node, (ast.Constant, ast.JoinedStr, ast.Compare)):  # a new str, a bool
            return False
    return True


def free_names(stmt) -> set[str]:
    """Globals the functions in `stmt` may read when called (over-approximating their locals: every
    parameter and every name assigned anywhere inside counts as local)."""
    loads, local = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else local).add(node.id)
        elif isinstance(node, (*FUNCTIONS, ast.Lambda)):
            local |= {a.arg for a in all_args(node.args)}
    return loads - local
