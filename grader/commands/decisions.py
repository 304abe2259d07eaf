"""`adjust`, `rubric`, `comment`, `decide`, `decisions`: a reviewer's decisions from the command line.

Each verb records one decision in OUT's gradebook (grader.records.decisions), then rewrites the
submission's feedback, `results.json`, `grades.csv` and `moodle.csv` (grader.reports.reviewed), so
the folder a reviewer hands on is always up to date; the next `grade` keeps the decision. `decisions`
exports every current decision as CSV, or applies such a CSV (all lines or none); the review app's
`--apply`/`--export` can call `apply_decisions_csv` and `export_decisions_csv` here directly.

Every check happens before anything is written: an unknown submission, test or rubric item, or
points outside what the test or item is worth, is a DecisionError (exit 2) naming what exists.
"""
from __future__ import annotations

import getpass
import json
from pathlib import Path

from grader.core.assignments import find_assignment
from grader.core.errors import ToolkitError
from grader.core.gradebook_tests import GradebookTest
from grader.core.spec import Spec
from grader.records.decisions import Decision, DecisionError, Decisions, checked, now
from grader.records.gradebook import GRADEBOOK_FILE
from grader.reports.reviewed import republish

VERDICT_WORDS = {"confirm": "confirmed", "clear": "cleared", "confirmed": "confirmed", "cleared": "cleared"}


def reviewer() -> str:
    """Who is deciding, when not given: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no name for this uid (a container)
        return "unknown"


def assignment_of(out: Path, assignment: str | Path | None = None) -> Spec:
    """The spec OUT was graded with: `assignment` if given, else the one the gradebook names, else
    the one a submission's result.json names (gradebooks written before decisions existed)."""
    if assignment is not None:
        return find_assignment(assignment)
    with Decisions(Path(out) / GRADEBOOK_FILE) as book:
        stored = book.assignment()
    if stored:
        return find_assignment(stored)
    for result in sorted(Path(out).glob("*/result.json")):
        try:
            return find_assignment(json.loads(result.read_text(encoding="utf-8"))["assignment"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    raise ToolkitError(f"{out}: cannot tell which assignment it was graded with; pass --assignment NAME")


def record_decision(*, out: Path, decision: Decision, assignment: str | Path | None = None) -> Decision:
    """Check `decision` against OUT's gradebook and the spec, record it, rewrite the outputs it changes."""
    out = Path(out)
    spec = assignment_of(out, assignment)
    with Decisions(out / GRADEBOOK_FILE) as book:
        recorded = book.record(checked(decision, book.rows(), spec.manual))
    republish(spec, out, [recorded.submission] + ([recorded.target] if recorded.kind == "integrity" else []))
    return recorded


def adjust_test(*, out: Path, submission: str, test: str, points: float | None, reason: str, note: str = "",
                who: str | None = None, assignment: str | Path | None = None) -> Decision:
    """Give `test` of `submission` `points` (None: withdraw the adjustment) with `reason` for the student.
    `test` is its node id or, where that is unambiguous, its name or the node id's last part."""
    with Decisions(Path(out) / GRADEBOOK_FILE) as book:
        row = book.rows().get(submission)
    nodeid = resolve_test(row.tests, test) if row else test   # an unknown submission is named by `checked`
    return record_decision(out=out, assignment=assignment, decision=Decision(
        None, submission, "adjust", nodeid, points, None, reason, note, who or reviewer(), now(), None))


def score_rubric(*, out: Path, submission: str, item: str, points: float | None, comment: str = "", note: str = "",
                 who: str | None = None, assignment: str | Path | None = None) -> Decision:
    """Give the manual rubric item `item` of `submission` `points` (None: back to awaiting review)."""
    return record_decision(out=out, assignment=assignment, decision=Decision(
        None, submission, "rubric", item, points, None, comment, note, who or reviewer(), now(), None))


def comment_on(*, out: Path, submission: str, text: str, note: str = "", who: str | None = None,
               assignment: str | Path | None = None) -> Decision:
    """The instructor's comment to the student of `submission` (an empty text removes it)."""
    return record_decision(out=out, assignment=assignment, decision=Decision(
        None, submission, "comment", "", None, None, text, note, who or reviewer(), now(), None))


def decide_pair(*, out: Path, a: str, b: str, verdict: str, note: str, who: str | None = None,
                assignment: str | Path | None = None) -> Decision:
    """Confirm or clear the flagged pair (a, b) of integrity.csv; `note` stays with the instructors."""
    if verdict not in VERDICT_WORDS:
        raise DecisionError(f"the verdict is 'confirm' or 'clear' (got {verdict!r})")
    return record_decision(out=out, assignment=assignment, decision=Decision(
        None, a, "integrity", b, None, VERDICT_WORDS[verdict], "", note, who or reviewer(), now(), None))


def export_decisions_csv(*, out: Path, path: Path) -> int:
    """Every current decision of OUT as CSV at `path`; returns how many."""
    with Decisions(Path(out) / GRADEBOOK_FILE) as book:
        book.export_csv(Path(path))
        return len(book.all())


def apply_decisions_csv(*, out: Path, path: Path, who: str | None = None,
                        assignment: str | Path | None = None) -> list[Decision]:
    """Record every decision of the CSV at `path` (as `export_decisions_csv` writes it; all or none),
    then rewrite the outputs of the submissions it touched. Returns the decisions recorded."""
    out = Path(out)
    spec = assignment_of(out, assignment)
    with Decisions(out / GRADEBOOK_FILE) as book:
        recorded = book.apply_csv(Path(path), who or reviewer(), rows=book.rows(), manual_items=spec.manual)
    touched = sorted({d.submission for d in recorded} | {d.target for d in recorded if d.kind == "integrity"})
    if touched:
        republish(spec, out, touched)
    return recorded


def resolve_test(tests: list[GradebookTest], test: str) -> str:
    """A test's node id from what a reviewer typed: the node id, or a unique test name or function name."""
    if any(t.nodeid == test for t in tests):
        return test
    matches = [t.nodeid for t in tests if test in (t.name, t.nodeid.rsplit("::", 1)[-1])]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DecisionError(f"{test!r} names {len(matches)} tests; give the node id: {', '.join(matches)}")
    return test   # unknown: `checked` names the tests there are
