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
  and class bodies are, so their names are;
- a skipped statement also takes the names it *changes*: appended to or updated through a method
  (`temps.append(t)`), item- or attribute-assigned (`results[k] = v`), augmented, deleted from, or
  passed to a call that may change them (a library's, or one of the submission's functions whose
  body changes that parameter). `series = np.array(temps); n = series.shape[1]` after a skipped
  loop filling `temps` goes with it, with a reason naming that loop. Strings, numbers, paths and
  tuples cannot be changed in place, so `DATA = "data/"` passed to a skipped `np.load` stays;
- work that runs when a kept function or class is *created* and calls the submission's own code
  (a class attribute, a default value, a class keyword, a decorator, a statement of
  `__init_subclass__`, `__set_name__` or a metaclass's `__new__`/`__init__`) would run once in
  every worker: a value becomes a stand-in that says why if used, a function's decorator is
  applied at its first call (a class's is not applied), a statement is skipped;
- a default value computed from skipped data becomes a value that says why if used.
Skipped statements are replaced by `pass` (values by a one-line stand-in) in place, so line
numbers (and tracebacks) do not move; every skipped line is listed with its reason.

Top-level imports of third-party packages (torchvision, matplotlib, tqdm, ...) go through
`guarded_import`: in the worker, a package that cannot be imported binds a stand-in that raises
`PackageUnavailable` naming the package and the import's file and line, only if graded code uses
it. Which packages are missing is decided there, at import time, since the trusted side's
environment may differ. Keras and TensorFlow always bind a stand-in: the course is graded in
PyTorch. The same call puts the submission's folders on sys.path, so `from model import Net`
beside model.py imports; the workspace (grader.intake.workspace) filters those modules too.

What the filter cannot see, a kept statement that still raises where the student's did not (no
GPU when grading), the worker handles: it runs the top level one statement at a time and drops
such a statement with a note (grader.boundary.inside.top_level).

The filter only parses the code; nothing is executed here. This module holds the walk over the
top level; its parts live beside it: the data flow of names (grader.intake.name_flow), which
statements are cheap (grader.intake.statement_rules), how kept imports are rewritten
(grader.intake.guarded_imports), work at class creation (grader.intake.creation_work), and the
records it returns (grader.intake.filtered_source).
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from grader.intake.creation_work import defer_creation_work, own_callables
from grader.intake.filtered_source import Filtered, Skipped
from grader.intake.guarded_imports import STAND_INS, guarded_call, import_target
from grader.intake.name_flow import FUNCTIONS, binds, changes, free_names, immutable, root_name
from grader.intake.source_limits import parse_bounded
from grader.intake.statement_rules import StatementRules

__all__ = ["Filtered", "Skipped", "definitions_only", "filter_definitions"]

# names bound before the first line runs
PREBOUND = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__",
                                 "__package__", "__annotations__"}



@dataclass
class _State:
    bound: set
    tainted: dict           # name -> line of the skipped statement that bound or changed it last
    star: bool = False      # a `from x import *` bound names we cannot list
    changed: set = field(default_factory=set)   # tainted names a skipped statement changed (not bound)
    fixed: set = field(default_factory=set)     # bound names no call can change: imports, functions, constants

    def copy(self) -> _State:
        return _State(set(self.bound), dict(self.tainted), self.star, set(self.changed), set(self.fixed))

    def merge(self, branches: list[_State]) -> None:
        """After an if/try: a name bound on any kept path counts as bound (the block was kept because
        its condition is cheap; which branch runs is the student's, not ours, to decide), unless a
        skipped statement on another path changed it."""
        changed = set().union(*[b.changed for b in branches])  # changed on one path: not what the run left
        self.bound = set().union(*[b.bound for b in branches]) - changed
        self.tainted = {k: v for b in branches for k, v in b.tainted.items() if k not in self.bound}
        self.changed = changed & set(self.tainted)
        self.fixed = set.intersection(*[b.fixed for b in branches]) & self.bound
        self.star = any(b.star for b in branches)



def _defaults(stmt) -> list[tuple[str, ast.expr]]:
    """(function name, default value) of a function, or of a class's methods."""
    fns = [stmt] if isinstance(stmt, FUNCTIONS) else [s for s in stmt.body if isinstance(s, FUNCTIONS)]
    return [(f"{stmt.name}.{fn.name}" if fn is not stmt else fn.name, d)
            for fn in fns for d in [*fn.args.defaults, *fn.args.kw_defaults] if d is not None]



def _describe(stmt, lines: list[str]) -> str:
    text = lines[stmt.lineno - 1].strip()
    kind = {ast.For: "loop", ast.While: "loop", ast.With: "with-block", ast.Expr: "call", ast.If: "if-block"}
    label = kind.get(type(stmt), "statement")
    if isinstance(stmt, ast.If):
        label = "`if __name__ == \"__main__\":` block" if "__main__" in text else "if-block"
    return f"{label}: {text[:80]}"



class _TopLevelFilter:
    """One run of the filter over one source: the edits it makes (statement, replacement text) and
    what it reports, built while walking the top level in order."""

    def __init__(self, source: str, tree: ast.Module, where, local: set[str], dirs: list[str]):
        self.rules = StatementRules(tree)
        self.lines = source.splitlines(keepends=True)
        self.where, self.local, self.dirs = where, local, dirs
        self.edits: list[tuple[ast.AST, str]] = []  # (statement or expression, replacement text)
        self.result = Filtered("")
        self.own = own_callables(tree, local, self.rules.record_classes)

    def skip(self, stmt, state: _State, reason: str) -> None:
        augmented = stmt.target.id if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) else ""
        kept_before = augmented in state.bound
        self.edits.append((stmt, "pass"))
        self.result.skipped.append(Skipped(stmt.lineno, _describe(stmt, self.lines), reason))
        for name in binds(stmt):
            state.bound.discard(name)
            state.fixed.discard(name)
            state.changed.discard(name)
            state.tainted[name] = stmt.lineno
        if kept_before:
            state.changed.add(augmented)  # `log += [...]` changes the list it had
        # `temps.append(t)` in a skipped loop: `temps` is not what the student's run left in it, so
        # `series = np.array(temps); n = series.shape[1]` goes too, instead of raising while importing
        for name in (changes(stmt, self.rules.cheap_name, self.own) & state.bound) - state.fixed:
            state.bound.discard(name)
            state.changed.add(name)
            state.tainted[name] = stmt.lineno

    def missing(self, stmt, state: _State, ignore=frozenset()) -> str:
        """Why `stmt` cannot run now: the first name it reads that no kept statement bound; "" if none."""
        for name in sorted(self.rules.reads(stmt, ignore) - state.bound - PREBOUND):
            if name in state.changed:
                return f"reads `{name}`, which a skipped statement changes ({self.where(state.tainted[name])})"
            if name in state.tainted:
                return f"reads `{name}`, which comes from a skipped statement ({self.where(state.tainted[name])})"
            if not state.star:
                return f"reads `{name}`, which is not defined above it"
        return ""

    def keep_without_defaults(self, stmt, state: _State) -> bool:
        """`def __init__(self, input_dim=input_dim)` after a skipped `input_dim = X.shape[1]`: the
        definition is kept, the default becomes a value that says why it is missing if it is used
        (the tests pass their arguments). True when that is enough to keep it."""
        bad = [(fn, d, why) for fn, d in _defaults(stmt) if (why := self.missing(d, state))]
        if not bad or self.missing(stmt, state, frozenset(id(d) for _, d, _ in bad)):
            return False
        for fn, d, why in bad:
            self.edits.append((d, f"{STAND_INS}.DefaultNotComputed({why!r})"))
            self.result.skipped.append(Skipped(d.lineno, f"default value: {fn}(... = {ast.unparse(d)[:60]})",
                                               why + "; calls that leave this argument out fail"))
        return True

    def walk(self, body: list[ast.stmt], state: _State, top: bool) -> None:
        for stmt in body:
            decision, why = self.rules.kind(stmt)
            if decision:
                why = self.missing(stmt, state)
                if why and isinstance(stmt, (*FUNCTIONS, ast.ClassDef)):
                    why = "" if self.keep_without_defaults(stmt, state) else why
                decision = decision if not why else False
            if not decision:
                self.skip(stmt, state, why)
            elif decision == "recurse":
                self.walk_blocks(stmt, state)
            else:
                self.keep(stmt, state, top)

    def walk_blocks(self, stmt: ast.If | ast.Try, state: _State) -> None:
        """A kept `if` or `try`: each path filtered on its own, then merged (see _State.merge)."""
        if isinstance(stmt, ast.If):
            paths = [stmt.body, stmt.orelse]
        else:
            paths = [stmt.body + stmt.orelse] + [h.body for h in stmt.handlers]
        branches = []
        for path in paths:
            branch = state.copy()
            if path is not stmt.body and isinstance(stmt, ast.Try):
                branch.bound |= {h.name for h in stmt.handlers if h.name}
            self.walk(path, branch, False)
            branches.append(branch)
        state.merge(branches)
        self.walk(getattr(stmt, "finalbody", []), state, False)

    def keep(self, stmt, state: _State, top: bool) -> None:
        """A statement that stays: its imports routed through guarded_import, the names it binds bound."""
        targets = None
        if top and isinstance(stmt, (ast.Import, ast.ImportFrom)):
            targets = import_target(stmt, self.local)
            if targets:
                self.edits.append((stmt, guarded_call(stmt, targets, self.dirs, self.where(stmt.lineno))))
                for (module, optional), alias in zip(targets, stmt.names):
                    if optional:
                        name = module if isinstance(stmt, ast.Import) else f"{module}.{alias.name}"
                        name = f"{module} (*: binds nothing if missing)" if alias.name == "*" else name
                        self.result.stand_ins.append((stmt.lineno, name + (f" as {alias.asname}" if alias.asname else "")))
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names) and not targets:
            state.star = True  # names we cannot list; a third-party `*` may bind nothing, so not that one
        fixed = isinstance(stmt, (ast.Import, ast.ImportFrom, *FUNCTIONS, ast.ClassDef)) or (
            isinstance(stmt, (ast.Assign, ast.AnnAssign)) and immutable(stmt.value, state.fixed))
        if isinstance(stmt, ast.AugAssign):
            fixed = root_name(stmt.target) in state.fixed and immutable(stmt.value, state.fixed)
        for name in binds(stmt):
            state.bound.add(name)
            state.tainted.pop(name, None)
            state.changed.discard(name)
            (state.fixed.add if fixed else state.fixed.discard)(name)
        if isinstance(stmt, (*FUNCTIONS, ast.ClassDef)):
            defer_creation_work(stmt, self.own, self.edits, self.result.skipped)

    def warn_about_skipped_names(self, tree: ast.Module, state: _State) -> None:
        """Graded functions that read a skipped name fail when called: say so before they are."""
        where = self.where
        for stmt in tree.body:
            if isinstance(stmt, (*FUNCTIONS, ast.ClassDef)) and not any(e[0] is stmt for e in self.edits):
                for name in sorted(free_names(stmt) & state.changed):
                    self.result.warnings.append(
                        f"`{stmt.name}` ({where(stmt.lineno)}) uses `{name}`, which a statement not run while grading "
                        f"changes ({where(state.tainted[name])}): a graded function that needs it sees it as it was "
                        f"before that statement; pass it as an argument or compute it inside the function")
                for name in sorted((free_names(stmt) & set(state.tainted)) - state.changed):
                    self.result.warnings.append(
                        f"`{stmt.name}` ({where(stmt.lineno)}) uses `{name}`, which comes from a statement not run while "
                        f"grading ({where(state.tainted[name])}): if a graded function needs it, it fails with NameError; "
                        f"pass it as an argument or compute it inside the function")


def _apply_edits(lines: list[str], edits: list[tuple[ast.AST, str]]) -> str:
    """The source with each edited statement's text replaced in place: line numbers do not move."""
    encoded = [line.encode("utf-8") for line in lines]
    for stmt, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        # a skipped decorated definition goes with its decorators (they sit at its column)
        a = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", []) if text == "pass"]) - 1
        b = stmt.end_lineno - 1
        head, tail = encoded[a][:stmt.col_offset], encoded[b][stmt.end_col_offset:]
        # a statement ending at end of line keeps that line's newline in `tail`
        replacement = head + text.encode("utf-8") + (b"\n" * (b - a)) + tail
        encoded[a:b + 1] = replacement.splitlines(keepends=True) or [b""]
    source = b"".join(encoded).decode("utf-8")
    if any(text != "pass" for _, text in edits):
        # appended, so no line moves: from here on, a stand-in's use is the graded code's
        source += ("" if source.endswith("\n") or not source else "\n") + f"{STAND_INS}.imports_done(globals())\n"
    return source


def filter_definitions(source: str, *, what: str = "your code", locate=None, local_modules=(),
                       code_dirs=(".",)) -> Filtered:
    """The source with top-level work replaced by `pass`, and what was skipped and why.
    `local_modules`: top-level module names the submission ships (model.py -> "model");
    `code_dirs`: the folders, relative to the generated module, its own imports are found in.
    Raises SyntaxError for code that does not parse, SourceRejected for code too large or too deeply
    nested to parse safely (`what` and `locate` word its message; see grader.intake.source_limits)."""
    tree = parse_bounded(source, what, locate=locate)
    run = _TopLevelFilter(source, tree, locate or (lambda n: f"line {n}"), set(local_modules), list(code_dirs))
    state = _State(set(), {})
    run.walk(tree.body, state, True)
    run.warn_about_skipped_names(tree, state)
    run.result.source = _apply_edits(run.lines, run.edits)
    return run.result


def definitions_only(source: str, *, what: str = "your code", locate=None) -> tuple[str, list[Skipped]]:
    """`filter_definitions` as (source, skipped)."""
    out = filter_definitions(source, what=what, locate=locate)
    return out.source, out.skipped

