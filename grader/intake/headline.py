"""The first line a student reads when the way their submission was read explains its lost points:
Keras/TensorFlow code in a PyTorch course, or a notebook cell skipped for a syntax error (whose
classes then show up only as "not found"). The runner puts it in `result.reason`; feedback.md,
feedback.html and `check` show it above the tests.

It is read from the intake's notes (grader/intake/notebooks.py writes the syntax-error note,
grader/intake/workspace.py the Keras one); tests/test_helpful_messages.py grades real submissions,
so a change of either note's wording fails there, not silently here."""
from __future__ import annotations

import re

from grader.core.results import NOT_FULL

_KERAS_NOTE = re.compile(r"^(?P<packages>[\w, ]+) imported: this assignment is graded in PyTorch;.*?"
                         r"(?:; first imported at (?P<where>.+))?$", re.S)
_SYNTAX_NOTE = re.compile(r"^cell (?P<cell>\d+): syntax error at line (?P<line>\d+): (?P<msg>.*?)"
                          r"(?: \(`(?P<text>.*)`\))?; the cell was skipped$", re.S)
# a failure a skipped cell explains: what it defined is missing, or a later line cannot find its names
_EXPLAINED_KINDS = {"missing", "load"}


def _get(t, key: str):
    return t[key] if isinstance(t, dict) else getattr(t, key)


def _explained_by_a_skipped_cell(t) -> bool:
    return _get(t, "kind") in _EXPLAINED_KINDS or "NameError" in (_get(t, "message") or "")


def reading_headline(notes: list[str], tests) -> str:
    """The headline, or "" when the submission earned every point it ran for or its notes explain
    nothing. `tests`: TestResults or gradebook dicts."""
    lost = [t for t in tests if _get(t, "status") in NOT_FULL]
    if not lost:
        return ""
    for note in notes:
        m = _KERAS_NOTE.match(note)
        if m:
            where = f" ({m['where']})" if m["where"] else ""
            return (f"this assignment is graded in PyTorch, but your code uses {m['packages']}{where}: "
                    "Keras/TensorFlow code cannot be graded; write the graded classes and functions with torch")
    if any(_explained_by_a_skipped_cell(t) for t in lost):
        for note in notes:
            m = _SYNTAX_NOTE.match(note)
            if m:
                text = f" in `{m['text']}`" if m["text"] else ""
                return (f"syntax error in cell {m['cell']}, line {m['line']}{text}: {m['msg']}; the grader skipped "
                        "that cell, so nothing it defines exists when grading: fix the line and run every cell again")
    return ""
