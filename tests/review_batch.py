"""A small graded batch for the review app's tests: the `tiny` fixture assignment with one manual rubric
item, two pairs of copies (each flagged by the integrity report), one failing submission, one that does not parse and one whose
file name and message are hostile HTML. Grades in a few seconds."""
from __future__ import annotations

import shutil
from pathlib import Path

from grader.commands.grade import grade_submissions
from tiny_batch import TINY, renamed_reference

HOSTILE_ID = '"><img src=x onerror=alert(1)><script>alert(2)<'
HOSTILE_VALUE = "<script>alert('owned')</script>"
RUBRIC_ITEM = "comments"
BROKEN = "def answer():\n    return 42\ndef add(a, b)\n    return a + b\n"   # a syntax error at line 3
WRONG = """def answer():
    value = str(6 * 7)
    return value


def add(a, b):
    out = []
    for x, y in zip(a, b):
        out.append(x + y)
    return out


def total(x):
    s = 0
    for row in x:
        for v in row:
            s = s + v * 1
    return str(s)
"""


def tiny_with_rubric(folder: Path) -> Path:
    """A copy of the tiny assignment whose scale has one manual item (2 points) beside its tests."""
    copy = folder / "tiny"
    shutil.copytree(TINY, copy)
    spec = copy / "assignment.yaml"
    text = spec.read_text().replace("points: 6\n", "points: 8\n").replace("points: 5 ", "points: 7 ")
    spec.write_text(text + "manual:\n  - id: comments\n    points: 2\n"
                           "    description: \"the code is commented in English\"\n")
    return copy


def make_review_batch(root: Path) -> tuple[Path, Path, Path]:
    """(assignment folder, submissions folder, grading folder) of a freshly graded batch."""
    assignment = tiny_with_rubric(root)
    subs = root / "subs"
    subs.mkdir()
    (subs / "anna.py").write_text(renamed_reference(1))
    (subs / "bela.py").write_text(renamed_reference(2))            # anna's copy
    (subs / "csaba.py").write_text(WRONG + "\n# csaba's own work\n")
    (subs / "dora.py").write_text(WRONG.replace("value", "v42") + "\n# dora\n")   # csaba's copy
    (subs / "emil.py").write_text(BROKEN)
    (subs / f"{HOSTILE_ID}.py").write_text(f"def answer():\n    return {HOSTILE_VALUE!r}\n")
    out = root / "out"
    report = grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2)
    assert report.found == 6, report.notes
    return assignment, subs, out
