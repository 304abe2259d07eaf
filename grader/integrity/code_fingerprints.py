"""Code fingerprints that survive padding, renaming and reordering: a normalised syntax tree, winnowed.

A copy disguised by a program (or by hand) keeps what the code does and changes what it looks like:
a no-op statement after every line (`pass`, `; pass`, a bare constant or docstring, `x = x`, `_ = 0`,
`x += 0`), `if False:` / `if 0:` blocks, dead code after `return`/`raise`/`continue`/`break`,
renamed names, independent statements or functions put in another order. Token-level fingerprints
(MOSS) lose most of a copy under such changes: a statement inserted after every line breaks every
k-gram. So, as JPlag's normalisation against automated obfuscation does (Sağlam et al., KIT,
2024-2025: "Automated detection of AI-obfuscated plagiarism"; "Obfuscation-resilient software
plagiarism detection with JPlag"), the code is parsed (within grader/intake/source_limits.py's
bounds) and normalised before any token is taken:

1. statements that cannot change a result are removed (the list above; an assignment of a pure
   value to a name nobody reads; a call statement the file repeats verbatim as padding);
2. branches a constant decides are replaced by the branch that runs; code after a statement that
   leaves the block is removed;
3. imports come first and definitions (functions, classes, methods) next, each group in a canonical
   order (by its own tokens), so moving functions around changes nothing;
4. inside every block, statements that do not depend on each other (no name one writes is read or
   written by the other; calls as statements, returns and compound statements keep their place)
   are put in a canonical order: the smallest topological order by their tokens.

The tokens are the syntax tree's node types in pre-order (`FunctionDef`, `Assign`, `Call`, `BinOp`,
`Add`, ...), names as `ID`, strings `STR`, numbers `NUM`, `END` after each block: layout, comments,
names and constants are gone. Each token keeps the source line it came from, so a shared
fingerprint points at lines of both files. Winnowing (Schleimer, Wilkerson, Aiken, SIGMOD 2003)
keeps, in every window of `w` k-gram hashes, the smallest. Code that does not parse (a half-written
cell) falls back to Python's lexical tokens, names and literals replaced the same way.
"""
from __future__ import annotations

import ast
import hashlib
import heapq
import io
import keyword
import re
import tokenize
from collections import Counter
from dataclasses import dataclass

from grader.intake.source_limits import SourceRejected, parse_bounded

MAX_REORDERED_BLOCK = 300      # statements in one block sorted by dependencies (quadratic); larger keep their order
# a call statement repeated verbatim this often (and in this share of the statements) is padding: `print(end='')`
# after every line. Honest code repeats `optimizer.zero_grad()` or `plt.show()` a few times, not 5 % of its lines.
REPEATED_CALL_MIN, REPEATED_CALL_SHARE = 5, 0.05
# builtins without side effects: `_n = len(x)` read by nobody is padding too
PURE_CALLS = frozenset({"len", "int", "float", "str", "bool", "abs", "min", "max", "sum", "round", "range", "tuple",
                        "list", "dict", "set", "type", "id", "isinstance", "repr", "hash", "sorted", "reversed"})
_LEAVES_BLOCK = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)
_BLOCK_FIELDS = ("body", "orelse", "finalbody")
_DROPPED_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                   tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_TYPES = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                  if hasattr(tokenize, n)}   # Python 3.12+
_FALLBACK_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"[^\"\n]*\"|'[^'\n]*'|\S")


@dataclass(frozen=True)
class Fingerprint:
    """One winnowed k-gram: its hash and the source lines its tokens came from."""
    hash: int
    lines: frozenset[int]


# --- normalisation ---------------------------------------------------------------------------------

def _is_pure(node: ast.AST) -> bool:
    """Whether evaluating `node` can have no effect: no call (but to a pure builtin), await, yield or walrus."""
    for n in ast.walk(node):
        if isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda)):
            return False
        if isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and n.func.id in PURE_CALLS):
            return False
    return True


def _constant_truth(test: ast.AST) -> bool | None:
    """True/False when the test of an `if`/`while` is a constant (`if 0:`, `if False:`, `if not True:`)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _constant_truth(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Constant):
        return bool(test.value)
    return None


@dataclass(frozen=True)
class _Module:
    """What the clean-up needs to know of the whole module."""
    read: frozenset[str]         # names read anywhere: an assignment to any other is unused
    repeated: frozenset[str]     # call statements (ast.dump) repeated as padding is

    @classmethod
    def of(cls, tree: ast.Module) -> _Module:
        read, statements, calls = {"__all__", "__name__"}, 0, Counter()
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
                read.add(n.id)
            elif isinstance(n, ast.stmt):
                statements += 1
                if isinstance(n, (ast.Global, ast.Nonlocal)):
                    read.update(n.names)
                elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Call):
                    calls[ast.dump(n)] += 1
        bar = max(REPEATED_CALL_MIN, REPEATED_CALL_SHARE * statements)
        return cls(frozenset(read), frozenset(d for d, c in calls.items() if c >= bar))


def _is_noop(stmt: ast.stmt, module: _Module) -> bool:
    read = module.read
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):          # a bare constant, docstring, name or pure expression; padding
        return _is_pure(stmt.value) or ast.dump(stmt) in module.repeated
    if isinstance(stmt, ast.Assign):
        names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        if len(names) != len(stmt.targets):
            return False
        if isinstance(stmt.value, ast.Name) and all(n == stmt.value.id for n in names):   # x = x
            return True
        return _is_pure(stmt.value) and not any(n in read for n in names)                  # nobody reads it
    if isinstance(stmt, ast.AnnAssign):
        return (isinstance(stmt.target, ast.Name) and stmt.target.id not in read
                and (stmt.value is None or _is_pure(stmt.value)))
    if isinstance(stmt, ast.AugAssign):     # x += 0, x *= 1
        neutral = {ast.Add: 0, ast.Sub: 0, ast.BitOr: 0, ast.BitXor: 0, ast.LShift: 0, ast.RShift: 0,
                   ast.Mult: 1, ast.Div: 1, ast.FloorDiv: 1, ast.Pow: 1}.get(type(stmt.op))
        return (isinstance(stmt.value, ast.Constant) and not isinstance(stmt.value.value, (str, bytes))
                and neutral is not None and stmt.value.value == neutral)
    if isinstance(stmt, ast.Assert):
        return _constant_truth(stmt.test) is True
    return False


def _clean_block(stmts: list[ast.stmt], module: _Module) -> list[ast.stmt]:
    """The block without no-ops, constant branches resolved, nothing after a statement that leaves it."""
    out: list[ast.stmt] = []
    for stmt in stmts:
        _clean_children(stmt, module)
        if isinstance(stmt, (ast.If, ast.While)) and (truth := _constant_truth(stmt.test)) is not None:
            if isinstance(stmt, ast.If):
                out.extend(stmt.body if truth else stmt.orelse)
            elif not truth:
                out.extend(stmt.orelse)
            else:
                out.append(stmt)     # while True: a real loop
            if out and isinstance(out[-1], _LEAVES_BLOCK):
                break
            continue
        if _is_noop(stmt, module):
            continue
        out.append(stmt)
        if isinstance(stmt, _LEAVES_BLOCK):
            break                    # dead code follows
    return out


def _clean_children(node: ast.AST, module: _Module) -> None:
    for name in _BLOCK_FIELDS:
        block = getattr(node, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            setattr(node, name, _clean_block(block, module))
    for handler in getattr(node, "handlers", ()) or ():
        handler.body = _clean_block(handler.body, module)
    for case in getattr(node, "cases", ()) or ():
        case.body = _clean_block(case.body, module)


# --- tokens ----------------------------------------------------------------------------------------

Tokens = list[tuple[str, int]]   # (token, source line)


class _Emitter:
    """Pre-order node types with lines; each statement's tokens computed once (blocks are sorted by them)."""

    def __init__(self) -> None:
        self.cache: dict[int, Tokens] = {}

    def statement(self, stmt: ast.stmt) -> Tokens:
        key = id(stmt)
        if key not in self.cache:
            out: Tokens = []
            self._node(stmt, stmt.lineno, out)
            self.cache[key] = out
        return self.cache[key]

    def block(self, stmts: list[ast.stmt], out: Tokens, line: int) -> None:
        for stmt in _canonical_order(stmts, self):
            out.extend(self.statement(stmt))
        out.append(("END", line))

    def _node(self, node: ast.AST, line: int, out: Tokens) -> None:
        line = getattr(node, "lineno", line) or line
        if isinstance(node, ast.Name):
            out.append(("ID", line))
            return
        if isinstance(node, ast.Constant):
            v = node.value
            out.append(("STR" if isinstance(v, (str, bytes)) else
                        "NUM" if isinstance(v, (int, float, complex)) and not isinstance(v, bool) else repr(v), line))
            return
        if isinstance(node, ast.JoinedStr):
            out.append(("STR", line))
            return
        if isinstance(node, (ast.expr_context, ast.type_ignore)):
            return
        out.append((type(node).__name__, line))
        for _, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.block(value, out, line)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, ast.AST):
                        self._node(v, line, out)
            elif isinstance(value, ast.AST):
                self._node(value, line, out)


def _paths(node: ast.AST) -> set[str]:
    """Dotted names `node` refers to, each chain whole: `self.enc`, `x`, `nn.Linear` (not `self`, `nn`)."""
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        parts, cur = [], n
        while isinstance(cur, ast.Attribute):
            parts.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name):
            out.add(".".join([cur.id, *reversed(parts)]))
            continue
        stack.extend(ast.iter_child_nodes(cur))
    return out


def _target_paths(target: ast.AST) -> set[str]:
    while isinstance(target, (ast.Subscript, ast.Starred)):
        target = target.value
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_paths(t) for t in target.elts)) if target.elts else set()
    return _paths(target) if isinstance(target, (ast.Name, ast.Attribute)) else set()


def _target_reads(target: ast.AST) -> set[str]:
    """What assigning to `target` reads: indices and slices (`x[i] = ...` reads `i`), a subscript's container."""
    out = set()
    for n in ast.walk(target):
        if isinstance(n, ast.Subscript):
            out |= _paths(n.slice) | _paths(n.value)
    return out


def _effects(stmt: ast.stmt) -> tuple[set[str], set[str]] | None:
    """(paths read, paths written) of a movable statement; None for one that keeps its place."""
    if isinstance(stmt, ast.Assign):
        written = set().union(*(_target_paths(t) for t in stmt.targets))
        return _paths(stmt.value) | set().union(*(_target_reads(t) for t in stmt.targets)), written
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        written = _target_paths(stmt.target)
        reads = _target_reads(stmt.target) | (written if isinstance(stmt, ast.AugAssign) else set())
        return (_paths(stmt.value) if stmt.value is not None else set()) | reads, written
    if isinstance(stmt, _IMPORTS):
        return set(), {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, _DEFINITIONS):
        return set().union(*(_paths(d) for d in stmt.decorator_list)), {stmt.name}
    return None


def _conflict(a: set[str], b: set[str]) -> bool:
    return any(p == q or p.startswith(q + ".") or q.startswith(p + ".") for p in a for q in b)


def _canonical_order(stmts: list[ast.stmt], emitter: _Emitter) -> list[ast.stmt]:
    """Imports, then definitions, each sorted by their tokens; then the rest, its independent
    statements in the smallest topological order by their tokens."""
    if len(stmts) > MAX_REORDERED_BLOCK:
        return stmts

    def key(s: ast.stmt) -> str:
        return " ".join(t for t, _ in emitter.statement(s))

    imports = sorted((s for s in stmts if isinstance(s, _IMPORTS)), key=key)
    definitions = sorted((s for s in stmts if isinstance(s, _DEFINITIONS)), key=key)
    rest = [s for s in stmts if not isinstance(s, _IMPORTS + _DEFINITIONS)]
    effects = [_effects(s) for s in rest]
    after: list[list[int]] = [[] for _ in rest]
    waiting = [0] * len(rest)
    for j, ej in enumerate(effects):
        for i in range(j):
            ei = effects[i]
            if (ei is None or ej is None or _conflict(ei[1], ej[0] | ej[1]) or _conflict(ej[1], ei[0])):
                after[i].append(j)
                waiting[j] += 1
    ready = [(key(s), i) for i, s in enumerate(rest) if not waiting[i]]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, i = heapq.heappop(ready)
        ordered.append(rest[i])
        for j in after[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (key(rest[j]), j))
    return imports + definitions + ordered


def lexical_tokens(source: str) -> Tokens:
    """Python's tokens with names, strings and numbers as ID, STR, NUM; comments and layout dropped
    (a rough regex tokenizer for text that does not tokenize)."""
    out: Tokens = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            line = tok.start[0]
            if tok.type in _DROPPED_TOKENS:
                continue
            if tok.type == tokenize.NAME:
                out.append((tok.string if keyword.iskeyword(tok.string) else "ID", line))
            elif tok.type == tokenize.STRING or tok.type in _FSTRING_TYPES:
                if not out or out[-1][0] != "STR":   # an f-string's parts count as one string
                    out.append(("STR", line))
            elif tok.type == tokenize.NUMBER:
                out.append(("NUM", line))
            else:
                out.append((tok.string, line))
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = []
        for number, text in enumerate(source.splitlines(), start=1):
            for t in _FALLBACK_TOKEN.findall(re.sub(r"#[^\n]*", "", text)):
                kind = ("STR" if t[0] in "\"'" else "NUM" if t[0].isdigit() else
                        (t if keyword.iskeyword(t) else "ID") if t[0].isalpha() or t[0] == "_" else t)
                out.append((kind, number))
        return out


def normalised_tokens(source: str) -> Tokens:
    """The normalised syntax tree's tokens with their source lines (the module docstring); the
    lexical tokens when the code does not parse within bounds."""
    try:
        tree = parse_bounded(source, "the code")
    except (SyntaxError, SourceRejected, RecursionError, MemoryError):
        return lexical_tokens(source)
    try:
        tree.body = _clean_block(tree.body, _Module.of(tree))
        out: Tokens = []
        _Emitter().block(tree.body, out, 0)
        return out[:-1]   # the module's own END
    except RecursionError:   # within MAX_DEPTH this does not happen; a bound, not a verdict
        return lexical_tokens(source)


# --- winnowing -------------------------------------------------------------------------------------

def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def winnow(tokens: Tokens, *, k: int = 8, w: int = 4) -> dict[int, Fingerprint]:
    """Winnowed k-gram hashes of a token list (the rightmost smallest of every window of `w`),
    each with the lines of its first occurrence."""
    hashes = [_hash("\x1f".join(t for t, _ in tokens[i:i + k])) for i in range(len(tokens) - k + 1)]
    if not hashes:
        return {}
    positions = [len(hashes) - 1 - hashes[::-1].index(min(hashes))] if len(hashes) < w else []
    last = -1
    for start in range(len(hashes) - w + 1):
        window = hashes[start:start + w]
        pos = start + w - 1 - window[::-1].index(min(window))   # the rightmost minimum
        if pos != last:
            positions.append(pos)
            last = pos
    chosen: dict[int, Fingerprint] = {}
    for pos in positions:
        if hashes[pos] not in chosen:
            chosen[hashes[pos]] = Fingerprint(hashes[pos], frozenset(line for _, line in tokens[pos:pos + k]))
    return chosen


def code_fingerprints(source: str, *, k: int = 8, w: int = 4) -> dict[int, Fingerprint]:
    """The winnowed fingerprints of a piece of Python source, normalised."""
    return winnow(normalised_tokens(source), k=k, w=w)


def code_similarity(a: str, b: str, *, k: int = 8, w: int = 4) -> float:
    """|F(a) ∩ F(b)| / min(|F(a)|, |F(b)|) for two pieces of source (no template removed)."""
    fa, fb = code_fingerprints(a, k=k, w=w), code_fingerprints(b, k=k, w=w)
    return len(fa.keys() & fb.keys()) / min(len(fa), len(fb)) if fa and fb else 0.0
