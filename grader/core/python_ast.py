"""`ast.parse` and `compile` of syntax trees behind one lock per process.

A batch reads submissions in threads. CPython 3.11 (and 3.12 before its fix) shares one recursion counter
between threads while it converts syntax trees between C and Python objects, so two threads parsing
at once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905):
the grader's failure, booked on an innocent submission. Every parse in the trusted processes goes
through here; the worker runs one thread and parses its own module directly.
"""
from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    with _LOCK:
        return ast.parse(source, filename, mode)


def compile_tree(tree: ast.AST, filename: str, mode: str):
    with _LOCK:
        return compile(tree, filename, mode)
