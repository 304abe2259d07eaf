"""Which top-level statements the definitions filter keeps, skips or looks inside, by their cost:
imports and definitions stay, cheap calls (devices, seeds, configs, loss objects) stay, calls that
may do real work (load data, train, plot), loops and `with` blocks go.

Separate from the filter (grader.intake.definitions), which adds the data flow on top: a statement
these rules keep still goes when it reads a name a skipped statement bound. Nothing is executed.
"""
from __future__ import annotations

import ast

from grader.intake.name_flow import FUNCTIONS, dotted, reads

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


def cheap_library_call(name: str) -> bool:
    """A library call by this dotted name is cheap (and changes nothing it is given)."""
    return name in CHEAP_CALLS or name.startswith(CHEAP_CALL_PREFIXES)


def is_main_test(test) -> bool:
    """`__name__ == "__main__"`, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [isinstance(x, ast.Name) and x.id == "__name__" for x in sides]
    mains = [isinstance(x, ast.Constant) and x.value == "__main__" for x in sides]
    return (names[0] and mains[1]) or (mains[0] and names[1])


class StatementRules:
    def __init__(self, tree: ast.Module):
        # classes the submission defines as plain records (dataclasses, NamedTuples, enums)
        self.record_classes = set()
        self.lazy_annotations = any(isinstance(s, ast.ImportFrom) and s.module == "__future__" and
                                    any(a.name == "annotations" for a in s.names) for s in tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                decorated = any(dotted(d.func if isinstance(d, ast.Call) else d).endswith("dataclass")
                                for d in node.decorator_list)
                based = any(dotted(b).split(".")[-1] in ("NamedTuple", "Enum", "IntEnum", "TypedDict")
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
                name = dotted(node.func)
                if not self.cheap_name(name):
                    return name or ast.unparse(node.func)[:40]
                stack.extend(node.args)
                stack.extend(k.value for k in node.keywords)
            else:  # comprehensions included: their element is computed once per item
                stack.extend(child for child in ast.iter_child_nodes(node)
                             if isinstance(child, (ast.expr, ast.comprehension)))
        return None

    def cheap_name(self, name: str) -> bool:
        """A call by this dotted name is cheap (and changes nothing it is given)."""
        return name in CHEAP_CALLS or name in self.record_classes or name.startswith(CHEAP_CALL_PREFIXES)

    def cheap(self, node) -> bool:
        return self.costly_call(node) is None

    def kind(self, stmt) -> tuple[bool | str, str]:
        """(True: keep as is | False: skip | "recurse": keep the statement, filter its blocks; why not)."""
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[:2] == ["google", "colab"]:
            return False, "Colab only: there is no Google Drive when grading"
        if isinstance(stmt, ast.Import) and any(a.name.split(".")[:2] == ["google", "colab"] for a in stmt.names):
            return False, "Colab only: there is no Google Drive when grading"
        if isinstance(stmt, (ast.Import, ast.ImportFrom, *FUNCTIONS, ast.ClassDef, ast.Global, ast.Nonlocal,
                             ast.Pass)):
            return True, ""
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            call = self.costly_call(stmt.value)
            return (True, "") if call is None else (False, f"calls `{call}`, which may do real work")
        if isinstance(stmt, ast.Expr):
            v = stmt.value
            if isinstance(v, ast.Constant):
                return True, ""  # docstrings
            if isinstance(v, ast.Call) and dotted(v.func) in SEEDING:
                return True, ""
            return False, "top-level calls are not run (they may train, load data or plot)"
        if isinstance(stmt, ast.If):
            if is_main_test(stmt.test):
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
