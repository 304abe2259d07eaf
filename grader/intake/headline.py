"""The first line a student reads when the way their submission was read explains its lost points:
Keras/TensorFlow code in a PyTorch course, or a notebook cell skipped for a syntax error (whose
classes then show up only as "not found"). The runner puts it in `result.reason`; feedback.md,
feedback.html and `check` show it above the tests.

It is read from the intake's notes (grader/intake/notebooks.py writes the syntax-error note,
grader/intake/workspace.py the Keras one); tests/test_helpful_messages.py grades real submissions,
so a change of either note's wording fails there, not silently here."""
from __future__ import annotations

import re

from collections.abc import Sequence

from grader.core.gradebook_tests import GradebookTest
from grader.core.results import NOT_FULL, TestResult

_KERAS_NOTE = re.compile(r"^(?P<packages>[\w, ]+) imported: this assignment is graded in PyTorch;.*?"
                         r"(?:; first imported at (?P<where>.+))?$", re.S)
_SYNTAX_NOTE = re.compile(r"^cell (?P<cell>\d+): syntax error at line (?P<line>\d+): (?P<msg>.*?)"
                          r"(?: \(`(?P<text>.*)`\))?; the cell was skipped$", re.S)
# a failure a skipped cell explains: what it defined is missing, or a later line cannot find its names
_EXPLAINED_KINDS = {"missing", "load"}


Test = TestResult | GradebookTest   # a graded test, or the gradebook's record of one


def _explained_by_a_skipped_cell(t: Test) -> bool:
    return t.kind in _EXPLAINED_KINDS or "NameError" in t.message


def _first_note(pattern: re.Pattern, notes: list[str]) -> re.Match | None:
    """The first of `notes` that `pattern` matches, as its match."""
    return next((m for m in map(pattern.match, notes) if m), None)


def reading_headline(notes: list[str], tests: Sequence[Test]) -> str:
    """The headline, or "" when the submission earned every point it ran for or its notes explain nothing."""
    lost = [t for t in tests if t.status in NOT_FULL]
    if not lost:
        return ""
    keras = _first_note(_KERAS_NOTE, notes)
    if keras:
        where = f" ({keras['where']})" if keras["where"] else ""
        return (f"this assignment is graded in PyTorch, but your code uses {keras['packages']}{where}: "
                "Keras/TensorFlow code cannot be graded; write the graded classes and functions with torch")
    syntax = _first_note(_SYNTAX_NOTE, notes) if any(_explained_by_a_skipped_cell(t) for t in lost) else None
    if syntax:
        text = f" in `{syntax['text']}`" if syntax["text"] else ""
        return (f"syntax error in cell {syntax['cell']}, line {syntax['line']}{text}: {syntax['msg']}; the grader "
                "skipped that cell, so nothing it defines exists when grading: fix the line and run every cell again")
    return ""
