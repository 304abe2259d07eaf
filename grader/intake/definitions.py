"""The definitions-only load: keep what a submission defines, skip what it runs.

Student notebooks load data and train at top level, often for hours. The tests need the
definitions only, so before the worker imports a submission its top-level statements are
filtered, in order, following the data:
- imports, functions, classes and cheap statements (constants, configs, loss objects) stay;
- calls, loops, `with` blocks and `if __name__ == "__main__":` go;
- a statement stays only if every name it reads *now* is bound by a statement that stays, an
  import or a builtin: `input_dim = X.shape[1]` goes when `X = np.load(...)` went, instead of
  failing with a NameError that never happens in the student's notebook. Function bodies are
  not run at import (their free names are not checked); decorators, default values, annotations
  and class bodies are, so their names are.
Skipped statements are replaced by `pass` in place, so line numbers (and tracebacks) do not move.

Top-level imports of third-party packages (torchvision, matplotlib, tqdm, ...) go through
`guarded_import`: in the worker, a package that cannot be imported binds a stand-in that raises
`PackageUnavailable` naming the package, only if graded code uses it. Which packages are missing
is decided there, at import time, since the trusted side's environment may differ. Keras and
TensorFlow always bind a stand-in: the course is graded in PyTorch. The same call puts the
submission's folders on sys.path, so `from model import Net` beside model.py imports.

The filter only parses the code; nothing is executed here.
"""
from __future__ import annotations

import ast
import builtins
import sys
from dataclasses import dataclass, field

from grader.intake.source_limits import parse_bounded

# calls cheap enough to keep at top level (device selection, constants, loss objects, configs)
CHEAP_CALLS = {
    "range", "len", "list", "dict", "tuple", "set", "frozenset", "int", "float", "str", "bool", "bytes",
    "sorted", "min", "max", "abs", "round", "zip", "enumerate", "getattr", "isinstance", "print",
    "torch.device", "torch.cuda.is_available", "torch.cuda.device_count", "torch.backends.mps.is_available",
    "torch.manual_seed", "torch.set_num_threads", "torch.set_default_dtype", "torch.tensor",
    "torch.get_default_dtype", "torch.set_float32_matmul_precision",
    "np.random.seed", "numpy.random.seed", "random.seed", "np.random.default_rng", "np.array", "np.asarray",
    "np.float32", "np.int64", "os.path.join", "os.environ.get", "os.getenv", "Path", "pathlib.Path",
    "field", "dataclasses.field", "namedtuple", "collections.namedtuple", "TypeVar", "typing.TypeVar",
    "logging.getLogger", "warnings.filterwarnings", "partial", "functools.partial", "re.compile",
}
CHEAP_CALL_PREFIXES = ("nn.", "torch.nn.", "F.", "transforms.", "torch.optim.lr_scheduler.")
SEEDING = {"torch.manual_seed", "np.random.seed", "numpy.random.seed", "random.seed", "torch.set_num_threads",
           "torch.set_default_dtype", "torch.set_float32_matmul_precision", "warnings.filterwarnings"}
# names bound before the first line runs
PREBOUND = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__",
                                 "__package__", "__annotations__"}
# imported as written: the grading environment always has them (and a stand-in would hide a broken one)
PROVIDED = {"torch", "numpy", "__future__", "grader", "dlcourse"}
# bound to a stand-in even where installed: a Keras model cannot pass a PyTorch assignment's tests
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Skipped:
    line: int
    what: str          # "loop: for epoch in range(10):"
    reason: str = ""   # "reads `X`, which comes from a skipped statement (cell 2, line 1)"


@dataclass
class Filtered:
    source: str
    skipped: list[Skipped] = field(default_factory=list)
    stand_ins: list[tuple[int, str]] = field(default_factory=list)  # (line, "torchvision.transforms as T")
    warnings: list[str] = field(default_factory=list)                # graded code reading skipped names


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _is_main_test(test) -> bool:
    """`__name__ == "__main__"`, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [isinstance(x, ast.Name) and x.id == "__name__" for x in sides]
    mains = [isinstance(x, ast.Constant) and x.value == "__main__" for x in sides]
    return (names[0] and mains[1]) or (mains[0] and names[1])


def _all_args(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
            *([args.kwarg] if args.kwarg else [])]


def binds(stmt) -> set[str]:
    """Names a statement binds in the scope it runs in (not inside the functions or classes it defines)."""
    out, stack = set(), [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            out.add(node.name)  # what its body binds is its own
            continue
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
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
        if isinstance(n, (*_FUNCTIONS, ast.Lambda)):
            stack += [*n.args.defaults, *[d for d in n.args.kw_defaults if d]]
            if isinstance(n, _FUNCTIONS):
                stack += n.decorator_list
                if not lazy_annotations:
                    stack += [a.annotation for a in _all_args(n.args)] + [n.returns]
            continue
        if isinstance(n, ast.ClassDef):
            stack += [*n.decorator_list, *n.bases, *[k.value for k in n.keywords]]
            inner = set().union(*[reads(s, lazy_annotations=lazy_annotations, ignore=ignore) for s in n.body])
            out |= inner - set().union(*[binds(s) for s in n.body])
            continue
        if isinstance(n, _COMPREHENSIONS):
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


def _free_names(stmt) -> set[str]:
    """Globals the functions in `stmt` may read when called (over-approximating their locals: every
    parameter and every name assigned anywhere inside counts as local)."""
    loads, local = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else local).add(node.id)
        elif isinstance(node, (*_FUNCTIONS, ast.Lambda)):
            local |= {a.arg for a in _all_args(node.args)}
    return loads - local


def _is_stub(fn) -> bool:
    """A function the student has not written yet: empty, or raising NotImplementedError."""
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(
        getattr(fn.body[0], "value", None), ast.Constant) else fn.body
    if all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body):
        return True
    for s in body:
        if isinstance(s, ast.Raise) and s.exc is not None:
            target = s.exc.func if isinstance(s.exc, ast.Call) else s.exc
            if _dotted(target) == "NotImplementedError":
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
        if isinstance(node, _FUNCTIONS) and not member and not _is_stub(node):
            implemented.add(label)
        elif isinstance(node, ast.ClassDef):
            methods = {s.name: s for s in node.body if isinstance(s, _FUNCTIONS)}
            fn = methods.get(member or "__init__")
            if (fn is None and not member) or (fn is not None and not _is_stub(fn)):
                implemented.add(label)
    return defined, implemented


class _Filter:
    def __init__(self, tree: ast.Module):
        # classes the submission defines as plain records (dataclasses, NamedTuples, enums)
        self.record_classes = set()
        self.lazy_annotations = any(isinstance(s, ast.ImportFrom) and s.module == "__future__" and
                                    any(a.name == "annotations" for a in s.names) for s in tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                decorated = any(_dotted(d.func if isinstance(d, ast.Call) else d).endswith("dataclass")
                                for d in node.decorator_list)
                based = any(_dotted(b).split(".")[-1] in ("NamedTuple", "Enum", "IntEnum", "TypedDict")
                            for b in node.bases)
                if decorated or based:
                    self.record_classes.add(node.name)

    def costly_call(self, node) -> str | None:
        """The first call in `node` that may do real work, or None when evaluating it is cheap.
        Iterative: a deeply nested expression must not exhaust the grader's stack."""
        stack = [node]
        while stack:
            node = stack.pop()
            if node is None or isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
                continue
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if not (name in CHEAP_CALLS or name in self.record_classes or name.startswith(CHEAP_CALL_PREFIXES)):
                    return name or ast.unparse(node.func)[:40]
                stack.extend(node.args)
                stack.extend(k.value for k in node.keywords)
            else:  # comprehensions included: their element is computed once per item
                stack.extend(child for child in ast.iter_child_nodes(node)
                             if isinstance(child, (ast.expr, ast.comprehension)))
        return None

    def cheap(self, node) -> bool:
        return self.costly_call(node) is None

    def kind(self, stmt) -> tuple[bool | str, str]:
        """(True: keep as is | False: skip | "recurse": keep the statement, filter its blocks; why not)."""
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[:2] == ["google", "colab"]:
            return False, "Colab only: there is no Google Drive when grading"
        if isinstance(stmt, ast.Import) and any(a.name.split(".")[:2] == ["google", "colab"] for a in stmt.names):
            return False, "Colab only: there is no Google Drive when grading"
        if isinstance(stmt, (ast.Import, ast.ImportFrom, *_FUNCTIONS, ast.ClassDef, ast.Global, ast.Nonlocal,
                             ast.Pass)):
            return True, ""
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            call = self.costly_call(stmt.value)
            return (True, "") if call is None else (False, f"calls `{call}`, which may do real work")
        if isinstance(stmt, ast.Expr):
            v = stmt.value
            if isinstance(v, ast.Constant):
                return True, ""  # docstrings
            if isinstance(v, ast.Call) and _dotted(v.func) in SEEDING:
                return True, ""
            return False, "top-level calls are not run (they may train, load data or plot)"
        if isinstance(stmt, ast.If):
            if _is_main_test(stmt.test):
                return False, "runs only when the file is run as a script"
            call = self.costly_call(stmt.test)
            return ("recurse", "") if call is None else (False, f"its condition calls `{call}`")
        if isinstance(stmt, ast.Try):
            return "recurse", ""
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            return False, "top-level loops are not run (they train or load data)"
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return False, "top-level `with` blocks are not run (they open files or time training)"
        return False, "not needed to define the graded functions"

    def reads(self, stmt, ignore=frozenset()) -> set[str]:
        if isinstance(stmt, ast.If):
            return reads(stmt.test)
        if isinstance(stmt, ast.Try):
            return set()
        return reads(stmt, lazy_annotations=self.lazy_annotations, ignore=ignore)


def _defaults(stmt) -> list[tuple[str, ast.expr]]:
    """(function name, default value) of a function, or of a class's methods."""
    fns = [stmt] if isinstance(stmt, _FUNCTIONS) else [s for s in stmt.body if isinstance(s, _FUNCTIONS)]
    return [(f"{stmt.name}.{fn.name}" if fn is not stmt else fn.name, d)
            for fn in fns for d in [*fn.args.defaults, *fn.args.kw_defaults] if d is not None]


@dataclass
class _State:
    bound: set
    tainted: dict           # name -> line of the skipped statement that bound it last
    star: bool = False      # a `from x import *` bound names we cannot list

    def copy(self) -> _State:
        return _State(set(self.bound), dict(self.tainted), self.star)

    def merge(self, branches: list[_State]) -> None:
        """After an if/try: a name bound on any kept path counts as bound (the block was kept because
        its condition is cheap; which branch runs is the student's, not ours, to decide)."""
        self.bound = set().union(*[b.bound for b in branches])
        self.tainted = {k: v for b in branches for k, v in b.tainted.items() if k not in self.bound}
        self.star = any(b.star for b in branches)


def _describe(stmt, lines: list[str]) -> str:
    text = lines[stmt.lineno - 1].strip()
    kind = {ast.For: "loop", ast.While: "loop", ast.With: "with-block", ast.Expr: "call", ast.If: "if-block"}
    label = kind.get(type(stmt), "statement")
    if isinstance(stmt, ast.If):
        label = "`if __name__ == \"__main__\":` block" if "__main__" in text else "if-block"
    return f"{label}: {text[:80]}"


def _import_target(stmt, local: set[str]) -> list[tuple[str, bool]] | None:
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


def _guarded_call(stmt, targets, dirs: list[str]) -> str:
    """One line that binds what `stmt` binds, through guarded_import."""
    if isinstance(stmt, ast.ImportFrom) and stmt.names[0].name == "*":
        return (f"__import__('grader.boundary.stand_ins').boundary.stand_ins.guarded_import("
                f"globals(), {dirs!r}, {('star', stmt.module, targets[0][1])!r})")
    if isinstance(stmt, ast.ImportFrom):
        names = [a.asname or a.name for a in stmt.names]
        spec = ("from", stmt.module, [(a.name, a.asname or a.name) for a in stmt.names], targets[0][1])
    else:
        names = [a.asname or a.name.split(".")[0] for a in stmt.names]
        spec = ("import", [(a.name, a.asname, opt) for a, (_, opt) in zip(stmt.names, targets)])
    return (f"{', '.join(names)}, = __import__('grader.boundary.stand_ins').boundary.stand_ins.guarded_import("
            f"globals(), {dirs!r}, {spec!r})")


def filter_definitions(source: str, *, what: str = "your code", locate=None, local_modules=(),
                       code_dirs=(".",)) -> Filtered:
    """The source with top-level work replaced by `pass`, and what was skipped and why.
    `local_modules`: top-level module names the submission ships (model.py -> "model");
    `code_dirs`: the folders, relative to the generated module, its own imports are found in.
    Raises SyntaxError for code that does not parse, SourceRejected for code too large or too deeply
    nested to parse safely (`what` and `locate` word its message; see grader.intake.source_limits)."""
    tree = parse_bounded(source, what, locate=locate)
    where = locate or (lambda n: f"line {n}")
    filt = _Filter(tree)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[ast.stmt, str]] = []  # (statement, replacement text)
    result = Filtered("")
    local, dirs = set(local_modules), list(code_dirs)

    def skip(stmt, state: _State, reason: str):
        edits.append((stmt, "pass"))
        result.skipped.append(Skipped(stmt.lineno, _describe(stmt, lines), reason))
        for name in binds(stmt):
            state.bound.discard(name)
            state.tainted[name] = stmt.lineno

    def missing(stmt, state: _State, ignore=frozenset()) -> str:
        for name in sorted(filt.reads(stmt, ignore) - state.bound - PREBOUND):
            if name in state.tainted:
                return f"reads `{name}`, which comes from a skipped statement ({where(state.tainted[name])})"
            if not state.star:
                return f"reads `{name}`, which is not defined above it"
        return ""

    def keep_without_defaults(stmt, state: _State) -> str:
        """`def __init__(self, input_dim=input_dim)` after a skipped `input_dim = X.shape[1]`: the
        definition is kept, the default becomes a value that says why it is missing if it is used
        (the tests pass their arguments). True when that is enough to keep it."""
        bad = [(fn, d, why) for fn, d in _defaults(stmt) if (why := missing(d, state))]
        if not bad or missing(stmt, state, frozenset(id(d) for _, d, _ in bad)):
            return False
        for fn, d, why in bad:
            edits.append((d, f"__import__('grader.boundary.stand_ins').boundary.stand_ins.DefaultNotComputed({why!r})"))
            result.skipped.append(Skipped(d.lineno, f"default value: {fn}(... = {ast.unparse(d)[:60]})",
                                          why + "; calls that leave this argument out fail"))
        return True

    def walk(body: list[ast.stmt], state: _State, top: bool):
        for stmt in body:
            decision, why = filt.kind(stmt)
            if decision:
                why = missing(stmt, state)
                if why and isinstance(stmt, (*_FUNCTIONS, ast.ClassDef)):
                    why = "" if keep_without_defaults(stmt, state) else why
                decision = decision if not why else False
            if not decision:
                skip(stmt, state, why)
                continue
            if decision == "recurse":
                if isinstance(stmt, ast.If):
                    paths = [stmt.body, stmt.orelse]
                else:
                    paths = [stmt.body + stmt.orelse] + [h.body for h in stmt.handlers]
                branches = []
                for path in paths:
                    branch = state.copy()
                    if path is not stmt.body and isinstance(stmt, ast.Try):
                        branch.bound |= {h.name for h in stmt.handlers if h.name}
                    walk(path, branch, False)
                    branches.append(branch)
                state.merge(branches)
                walk(getattr(stmt, "finalbody", []), state, False)
                continue
            targets = None
            if top and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                targets = _import_target(stmt, local)
                if targets:
                    edits.append((stmt, _guarded_call(stmt, targets, dirs)))
                    for (module, optional), alias in zip(targets, stmt.names):
                        if optional:
                            name = module if isinstance(stmt, ast.Import) else f"{module}.{alias.name}"
                            name = f"{module} (*: binds nothing if missing)" if alias.name == "*" else name
                            result.stand_ins.append((stmt.lineno, name + (f" as {alias.asname}" if alias.asname else "")))
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names) and not targets:
                state.star = True  # names we cannot list; a third-party `*` may bind nothing, so not that one
            for name in binds(stmt):
                state.bound.add(name)
                state.tainted.pop(name, None)

    state = _State(set(), {})
    walk(tree.body, state, True)
    # graded functions that read a skipped name fail when called: say so before they are
    for stmt in tree.body:
        if isinstance(stmt, (*_FUNCTIONS, ast.ClassDef)) and not any(e[0] is stmt for e in edits):
            for name in sorted(_free_names(stmt) & set(state.tainted)):
                result.warnings.append(
                    f"`{stmt.name}` ({where(stmt.lineno)}) uses `{name}`, which comes from a statement not run while "
                    f"grading ({where(state.tainted[name])}): if a graded function needs it, it fails with NameError; "
                    f"pass it as an argument or compute it inside the function")
    encoded = [line.encode("utf-8") for line in lines]
    for stmt, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        # a skipped decorated definition goes with its decorators (they sit at its column)
        a = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", []) if text == "pass"]) - 1
        b = stmt.end_lineno - 1
        head, tail = encoded[a][:stmt.col_offset], encoded[b][stmt.end_col_offset:]
        # a statement ending at end of line keeps that line's newline in `tail`
        replacement = head + text.encode("utf-8") + (b"\n" * (b - a)) + tail
        encoded[a:b + 1] = replacement.splitlines(keepends=True) or [b""]
    result.source = b"".join(encoded).decode("utf-8")
    if any(text != "pass" for _, text in edits):
        # appended, so no line moves: from here on, a stand-in's use is the graded code's
        result.source += ("" if result.source.endswith("\n") or not result.source else "\n") + \
            "__import__('grader.boundary.stand_ins').boundary.stand_ins.imports_done(globals())\n"
    return result


def definitions_only(source: str, *, what: str = "your code", locate=None) -> tuple[str, list[Skipped]]:
    """`filter_definitions` as (source, skipped)."""
    out = filter_definitions(source, what=what, locate=locate)
    return out.source, out.skipped


# --- in the worker: imports that may be missing there ---------------------------------------------
