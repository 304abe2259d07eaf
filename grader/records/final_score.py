"""The final score: a submission's automatic result with the reviewers' current decisions applied,
test by test, plus the manual rubric items, capped at the scale, then the late policy. What every
output (feedback, spreadsheets, the review app) shows."""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.core.lateness import Lateness, apply_late_policy
from grader.core.results import TestStatus
from grader.core.spec import ManualItem, Spec
from grader.core.vocabulary import Visibility
from grader.records.decision_record import Decision, result_basis
from grader.records.gradebook import GradebookRow


@dataclass
class TestScore:
    """One test as the student's outputs show it after review."""
    nodeid: str
    name: str
    points: float
    automatic: float               # what the automatic grading gave
    score: float                   # what counts: the adjustment where one applies, else `automatic`
    status: TestStatus
    visibility: Visibility
    reason: str = ""               # the adjustment's reason for the student
    adjusted: bool = False
    needs_rereview: bool = False   # an adjustment exists but the automatic result changed under it


@dataclass
class RubricScore:
    """One manual rubric item: None points while it awaits review."""
    id: str
    description: str
    points: float
    given: float | None = None
    comment: str = ""

    @property
    def awaiting_review(self) -> bool:
        return self.given is None


@dataclass
class FinalScore:
    """A submission's score after review, with every part a report shows."""
    submission: str
    automatic: float
    score: float
    max_score: float
    tests: list[TestScore] = field(default_factory=list)
    rubric: list[RubricScore] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)           # to the student
    integrity: list[Decision] = field(default_factory=list)     # confirmed or cleared pairs (instructors' eyes only)
    capped: bool = False                                         # the sum exceeded the scale
    late_note: str = ""            # what the late policy took (grader.core.lateness), "" when nothing
    before_late: float = 0.0       # the score before the late policy

    @property
    def awaiting_review(self) -> list[str]:
        return [r.id for r in self.rubric if r.awaiting_review]

    @property
    def needs_rereview(self) -> list[str]:
        return [t.nodeid for t in self.tests if t.needs_rereview]

    @property
    def adjusted(self) -> list[TestScore]:
        return [t for t in self.tests if t.adjusted]

    @property
    def reviewed_parts(self) -> bool:
        """Anything a person decided that changes what the student sees."""
        return bool(self.adjusted or any(not r.awaiting_review for r in self.rubric) or self.comments)

    def to_json(self) -> dict:
        """For results.json/result.json: no private note, no integrity decision."""
        return {"automatic_score": self.automatic, "score": self.score, "max_score": self.max_score,
                "adjustments": [{"nodeid": t.nodeid, "name": t.name, "automatic": t.automatic, "score": t.score,
                                 "reason": t.reason} for t in self.adjusted],
                "rubric": [{"id": r.id, "description": r.description, "points": r.points, "given": r.given,
                            "comment": r.comment, "awaiting_review": r.awaiting_review} for r in self.rubric],
                "comments": list(self.comments),
                "awaiting_rereview": [t.name for t in self.tests if t.needs_rereview], "late_note": self.late_note}


def final_scores(rows: list[GradebookRow], decisions: list[Decision], spec: Spec) -> dict[str, FinalScore]:
    """Every row's reviewed score, by submission."""
    by_submission: dict[str, list[Decision]] = {}
    for d in decisions:
        by_submission.setdefault(d.submission, []).append(d)
        if d.kind == "integrity":   # a pair's decision belongs to both
            by_submission.setdefault(d.target, []).append(d)
    return {r.submission: final_score(r, by_submission.get(r.submission, []), spec.manual) for r in rows}


def final_score(row: GradebookRow, decisions: list[Decision], manual_items: list[ManualItem]) -> FinalScore:
    """The automatic result of `row` with the current `decisions` about it applied: each adjustment
    whose basis still matches (else the automatic score stands and the test needs re-review), each
    rubric item's points (none while it awaits review), capped at the scale: the row's (the tests')
    plus the manual items'."""
    current = {d.key: d for d in decisions if d.submission == row.submission or d.kind == "integrity"}
    tests = []
    for t in row.tests:
        adj = current.get((row.submission, "adjust", t.nodeid))
        score = TestScore(t.nodeid, t.name, t.points, t.score, t.score, t.status, t.visibility)
        if adj is not None and adj.points is not None:
            if adj.needs_rereview or result_basis(row, t.nodeid) != adj.basis:
                score.needs_rereview = True
            else:
                score.score, score.reason, score.adjusted = min(adj.points, t.points), adj.student_text, True
        tests.append(score)
    rubric = []
    for item in manual_items:
        given = current.get((row.submission, "rubric", item.id))
        points = None if given is None or given.points is None else min(given.points, item.points)
        rubric.append(RubricScore(item.id, item.description, item.points, points,
                                  given.student_text if given is not None and points is not None else ""))
    comment = current.get((row.submission, "comment", ""))
    total = sum(t.score for t in tests) + sum(r.given or 0.0 for r in rubric)
    # the row's scale is the tests' (spec.automatic_points): the manual items are on top of it
    scale = (row.max_score or sum(t.points for t in row.tests)) + sum(i.points for i in manual_items)
    before_late = round(min(total, scale), 4)
    late_score, late_note = _late(row, before_late, scale)
    return FinalScore(
        submission=row.submission, automatic=row.score, score=late_score, max_score=scale, late_note=late_note,
        before_late=before_late,
        tests=tests, rubric=rubric, comments=[comment.student_text] if comment and comment.student_text.strip() else [],
        integrity=[d for d in decisions if d.kind == "integrity" and row.submission in (d.submission, d.target)],
        capped=total > scale + 1e-9)


def _late(row: GradebookRow, score: float, scale: float) -> tuple[float, str]:
    """The late policy, last: after the automatic score, the adjustments and the rubric points."""
    return apply_late_policy(score, scale, Lateness.from_json(row.late))
