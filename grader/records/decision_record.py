"""A reviewer's decision: its record, the checks it must pass, and how a decision about a test is tied
to the automatic result it was made against. The kinds and their fields are described in
grader.records.decisions, which stores them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from grader.core.errors import ToolkitError
from grader.core.spec import ManualItem
from grader.records.gradebook import GradebookRow

KINDS = ("adjust", "rubric", "comment", "integrity")
VERDICTS = ("confirmed", "cleared")
MAX_TEXT = 4000   # characters of a comment or note: a reviewer's paragraph, not a file pasted by mistake


class DecisionError(ToolkitError):
    """A decision that cannot be recorded: an unknown submission, test or item, points out of range."""


@dataclass(frozen=True)
class Decision:
    """One reviewer's decision about one submission (see the module's docstring for each kind)."""
    id: int | None
    submission: str          # the gradebook's submission key
    kind: str                # "adjust" | "rubric" | "comment" | "integrity"
    target: str              # adjust: test node id; rubric: manual item id; comment: ""; integrity: the other submission
    points: float | None     # adjust: the test's new points; rubric: the points given; else None (None withdraws)
    verdict: str | None      # integrity: "confirmed" | "cleared"; else None
    student_text: str        # what the student sees (the reason or comment in the feedback)
    private_note: str        # the reviewer's note, never shown to the student
    who: str
    when: str                # ISO 8601 UTC
    basis: str | None = None         # adjust: result_basis() of the automatic result it was made against
    needs_rereview: bool = False     # set by a regrade when the automatic result under an adjustment changed

    @property
    def key(self) -> tuple[str, str, str]:
        return self.submission, self.kind, self.target


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def result_basis(row: GradebookRow, nodeid: str) -> str | None:
    """A digest of test `nodeid`'s automatic result in `row` (points, score, status, message), or None
    when the row has no such test: what an adjustment was made against."""
    test = next((t for t in row.tests if t.nodeid == nodeid), None)
    if test is None:
        return None
    data = [test.points, test.score, test.status, test.message]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:16]


def check_shape(d: Decision) -> None:
    """What any decision must look like, whatever the gradebook holds; raises DecisionError."""
    if d.kind not in KINDS:
        raise DecisionError(f"unknown decision kind {d.kind!r}; one of {', '.join(KINDS)}")
    if not d.submission:
        raise DecisionError("a decision needs a submission")
    if not d.who.strip():
        raise DecisionError("a decision needs who made it")
    if len(d.student_text) > MAX_TEXT or len(d.private_note) > MAX_TEXT:
        raise DecisionError(f"a comment or note is at most {MAX_TEXT} characters")
    if d.kind in ("adjust", "rubric"):
        if not d.target:
            raise DecisionError(f"a {d.kind} decision needs its {'test' if d.kind == 'adjust' else 'rubric item'}")
        if d.points is not None and not (d.points >= 0 and d.points < float("inf")):
            raise DecisionError(f"points must be a number of 0 or more (got {d.points!r})")
        if d.verdict is not None:
            raise DecisionError(f"a {d.kind} decision has no verdict")
    if d.kind == "adjust" and d.points is not None and not d.student_text.strip():
        raise DecisionError("an adjustment needs a reason the student sees (--reason)")
    if d.kind == "comment" and (d.target or d.points is not None or d.verdict is not None):
        raise DecisionError("a comment has only its text")
    if d.kind == "integrity":
        if d.verdict not in VERDICTS:
            raise DecisionError(f"an integrity decision is {' or '.join(VERDICTS)} (got {d.verdict!r})")
        if not d.target or d.target == d.submission:
            raise DecisionError("an integrity decision names the two submissions of the pair")
        if d.points is not None:
            raise DecisionError("an integrity decision has no points")


def checked(d: Decision, rows: dict[str, GradebookRow], manual_items: list[ManualItem], *, where: str = "") -> Decision:
    """`d` checked against the gradebook (`rows` by submission) and the spec's manual items; an
    adjustment without a basis gets the current one. Raises DecisionError naming what is unknown."""
    prefix = f"{where}: " if where else ""
    try:
        check_shape(d)
    except DecisionError as e:
        raise DecisionError(prefix + str(e)) from None
    row = rows.get(d.submission)
    if row is None:
        raise DecisionError(f"{prefix}no submission {d.submission!r} in the gradebook ({_some(rows)})")
    if d.kind == "adjust":
        test = next((t for t in row.tests if t.nodeid == d.target), None)
        if test is None:
            raise DecisionError(f"{prefix}{d.submission} has no test {d.target!r} "
                                f"({_some({t.nodeid: None for t in row.tests})})")
        if d.points is not None and d.points > test.points:
            raise DecisionError(f"{prefix}{d.target} is worth {test.points:g} points; cannot give {d.points:g}")
        if not d.basis:
            d = replace(d, basis=result_basis(row, d.target))
    elif d.kind == "rubric":
        item = next((i for i in manual_items if i.id == d.target), None)
        if item is None:
            raise DecisionError(f"{prefix}no rubric item {d.target!r} in the spec's manual: "
                                f"({', '.join(i.id for i in manual_items) or 'it has none'})")
        if d.points is not None and d.points > item.points:
            raise DecisionError(f"{prefix}rubric item {item.id} is worth {item.points:g} points; cannot give {d.points:g}")
    elif d.kind == "integrity" and d.target not in rows:
        raise DecisionError(f"{prefix}no submission {d.target!r} in the gradebook ({_some(rows)})")
    return d


def _some(names) -> str:
    names = sorted(names)
    if not names:
        return "it is empty"
    return "known: " + ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def make_adjustment(row: GradebookRow, nodeid: str, points: float | None, *, reason: str, note: str = "",
                    who: str) -> Decision:
    """An adjustment of test `nodeid` of `row` to `points`, made against its current automatic result."""
    d = Decision(None, row.submission, "adjust", nodeid, points, None, reason, note, who, now(), None)
    return checked(d, {row.submission: row}, [])
