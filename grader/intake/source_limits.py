"""Parsing student source on the trusted side, within bounds.

`ast.parse` costs up to ~700 bytes of memory per byte of source (a 2.9 MB file peaked at 0.6-1.5 GB)
and fails with RecursionError or MemoryError on deeply nested expressions; the definitions filter
recurses further still. So before parsing, the size and the number of tokens are checked (a regex
count: cheap, no tree built), parser failures become a reason for the student, and the tree's
depth is checked (iteratively) before anything walks it recursively.

The limits are far above any honest submission: the largest reference solution in the course is
48 KB, 12,700 tokens and 16 levels deep.
"""
from __future__ import annotations

import ast
import re

from grader.core import python_ast

MAX_SOURCE_BYTES = 1 << 20     # 1 MB of code (a notebook's outputs and markdown do not count)
MAX_TOKENS = 200_000           # bounds the parser's memory (~150 MB at worst)
MAX_DEPTH = 100                # nesting of the syntax tree: statements, expressions, calls, operators

_TOKEN = re.compile(r"\w+|[^\w\s]")


class SourceRejected(ValueError):
    """The code is too large or too deeply nested to be graded; the message says so, for the student."""


def check_size(text: str, what: str) -> None:
    """Raise SourceRejected when `text` is too large to parse; `what` names it ('tiny.py', 'your notebook')."""
    # characters never outnumber bytes: a long text is refused before it is encoded (copied)
    size = len(text) if len(text) > MAX_SOURCE_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SourceRejected(f"{what} holds {size / 2 ** 20:.1f} MB of code; at most {MAX_SOURCE_BYTES // 2 ** 20} MB "
                             "is accepted (load large data from a file instead of pasting it into the code)")
    tokens = 0
    for tokens, _ in enumerate(_TOKEN.finditer(text), start=1):
        if tokens > MAX_TOKENS:
            raise SourceRejected(f"{what} holds more than {MAX_TOKENS:,} names, numbers and symbols; at most "
                                 f"{MAX_TOKENS:,} are accepted (load large data from a file instead of pasting it "
                                 "into the code)")


def tree_depth(tree: ast.AST) -> tuple[int, int]:
    """(depth of the deepest node, its line), level by level: no recursion, and ~10x faster than
    a walk with ast.iter_child_nodes (this runs on every submission)."""
    level, depth, line = [tree], 0, 0
    while level:
        depth += 1
        line = next((n.lineno for n in level if hasattr(n, "lineno")), line)
        below = []
        for node in level:
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, ast.AST):
                    below.append(value)
                elif isinstance(value, list):
                    below.extend([v for v in value if isinstance(v, ast.AST)])
        level = below
    return depth, line


def parse_bounded(text: str, what: str, *, locate=None) -> ast.Module:
    """`ast.parse(text)` within the bounds above. SyntaxError passes through (the caller says where);
    anything else that stops the parse raises SourceRejected. `locate(line)` names a line ('cell 3,
    line 2'); without it, 'line N'."""
    check_size(text, what)
    where = locate or (lambda n: f"line {n}")
    try:
        tree = python_ast.parse(text)
    except (RecursionError, MemoryError):
        # the parser's own limits (about 1,000-2,000 levels); the tree was never built
        raise SourceRejected(f"{what} nests expressions too deeply for Python's parser (a very long chain of "
                             f"operators, calls or brackets); at most {MAX_DEPTH} levels are accepted: split it "
                             "into smaller steps") from None
    except ValueError as e:  # e.g. null bytes, on Python versions that do not raise SyntaxError for them
        raise SourceRejected(f"{what} could not be parsed as Python: {e}") from None
    depth, line = tree_depth(tree)
    if depth > MAX_DEPTH:
        raise SourceRejected(f"{what} nests expressions {depth} levels deep (at {where(line)}); at most "
                             f"{MAX_DEPTH} are accepted: split it into smaller steps")
    return tree
