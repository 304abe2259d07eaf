"""The definitions-only load: keep what a submission defines, skip what it runs.

Student notebooks train at top level, often for hours. The tests need the definitions only, so
before the worker imports a submission its top-level statements are filtered: imports, functions,
classes and cheap constants stay; calls, loops, `with` blocks and `if __name__ == "__main__":`
go. Skipped statements are replaced by `pass` in place, so line numbers (and tracebacks) do not
move. The filter only parses the code; nothing is executed here.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from grader.source_limits import parse_bounded

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


@dataclass
class Skipped:
    line: int
    what: str


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


class _Filter:
    def __init__(self, tree: ast.Module):
        # classes the submission defines as plain records (dataclasses, NamedTuples, enums)
        self.record_classes = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                decorated = any(_dotted(d.func if isinstance(d, ast.Call) else d).endswith("dataclass")
                                for d in node.decorator_list)
                based = any(_dotted(b).split(".")[-1] in ("NamedTuple", "Enum", "IntEnum", "TypedDict")
                            for b in node.bases)
                if decorated or based:
                    self.record_classes.add(node.name)

    def cheap(self, node) -> bool:
        """True when evaluating `node` does no real work. Iterative: a deeply nested expression must
        not exhaust the grader's stack (grader.source_limits bounds the depth, this the recursion)."""
        stack = [node]
        while stack:
            node = stack.pop()
            if node is None or isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
                continue
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if not (name in CHEAP_CALLS or name in self.record_classes or name.startswith(CHEAP_CALL_PREFIXES)):
                    return False
                stack.extend(node.args)
                stack.extend(k.value for k in node.keywords)
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                stack.extend(g.iter for g in node.generators)
            else:
                stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
        return True

    def keep(self, stmt) -> bool | str:
        """True: keep as is; False: skip; "recurse": keep the statement, filter its blocks."""
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[:2] == ["google", "colab"]:
            return False  # Colab-only (drive.mount, files.upload): nothing to import outside Colab
        if isinstance(stmt, ast.Import) and any(a.name.split(".")[:2] == ["google", "colab"] for a in stmt.names):
            return False
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Global, ast.Nonlocal, ast.Pass)):
            return True
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.cheap(stmt.value)
        if isinstance(stmt, ast.Expr):
            v = stmt.value
            if isinstance(v, ast.Constant):
                return True  # docstrings
            return isinstance(v, ast.Call) and _dotted(v.func) in SEEDING
        if isinstance(stmt, ast.If):
            if _is_main_test(stmt.test):
                return False
            return "recurse" if self.cheap(stmt.test) else False
        if isinstance(stmt, ast.Try):
            return "recurse"
        return False


def _describe(stmt, lines: list[str]) -> str:
    text = lines[stmt.lineno - 1].strip()
    kind = {ast.For: "loop", ast.While: "loop", ast.With: "with-block", ast.Expr: "call", ast.If: "if-block"}
    label = kind.get(type(stmt), "statement")
    if isinstance(stmt, ast.If):
        label = "`if __name__ == \"__main__\":` block" if "__main__" in text else "if-block"
    return f"{label}: {text[:80]}"


def definitions_only(source: str, *, what: str = "your code", locate=None) -> tuple[str, list[Skipped]]:
    """Return the source with top-level work replaced by `pass`, and what was skipped.
    Raises SyntaxError for code that does not parse, SourceRejected for code too large or too deeply
    nested to parse safely (`what` and `locate` word its message; see grader.source_limits)."""
    tree = parse_bounded(source, what, locate=locate)
    filt = _Filter(tree)
    lines = source.splitlines(keepends=True)
    spans: list[tuple[ast.stmt, int]] = []  # (statement to blank, first line incl. decorators)
    skipped: list[Skipped] = []

    def walk(body: list[ast.stmt]):
        for stmt in body:
            decision = filt.keep(stmt)
            if decision == "recurse":
                for block in ("body", "orelse", "finalbody"):
                    walk(getattr(stmt, block, []) or [])
                for handler in getattr(stmt, "handlers", []):
                    walk(handler.body)
            elif not decision:
                spans.append(stmt)
                skipped.append(Skipped(stmt.lineno, _describe(stmt, lines)))

    walk(tree.body)
    encoded = [line.encode("utf-8") for line in lines]
    for stmt in sorted(spans, key=lambda s: (s.lineno, s.col_offset), reverse=True):
        a, b = stmt.lineno - 1, stmt.end_lineno - 1
        head, tail = encoded[a][:stmt.col_offset], encoded[b][stmt.end_col_offset:]
        # a statement ending at end of line keeps that line's newline in `tail`
        replacement = head + b"pass" + (b"\n" * (b - a)) + tail
        encoded[a:b + 1] = replacement.splitlines(keepends=True) or [b""]
    return b"".join(encoded).decode("utf-8"), skipped
