"""Where the review of a batch stands, as the instructor's reports show it (summary.html): each
submission's score after review (grader.records.decisions.final_score: adjustments, rubric points,
then the late penalty), its review state, and the verdict on each flagged pair.

A submission's review state, in the words every report uses:
- "needs re-review": an adjustment was made against an automatic result that a regrade changed
  (the automatic result stands until a person looks again);
- "reviewed": a person marked it reviewed (what the review app's "41 of 300 reviewed" counts);
- "awaiting review": nobody has marked it reviewed yet.
A manual rubric item without points is said beside the state (`open_items`): a reviewer may mark a
submission reviewed and score its rubric items later.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.core.spec import Spec
from grader.records.decision_record import Decision
from grader.records.decisions import Decisions
from grader.records.final_score import FinalScore, final_scores
from grader.records.gradebook import GradebookRow

AWAITING_REVIEW = "awaiting review"
NEEDS_REREVIEW = "needs re-review"
REVIEWED = "reviewed"


@dataclass
class BatchReview:
    """The reviewers' decisions over a batch, ready for a report."""
    finals: dict[str, FinalScore]                      # by submission
    reviewed: set[str] = field(default_factory=set)    # submissions a person marked reviewed
    verdicts: dict[tuple[str, str], Decision] = field(default_factory=dict)   # (first id, second id) sorted

    def state(self, submission: str) -> str:
        final = self.finals.get(submission)
        if final is not None and final.needs_rereview:
            return NEEDS_REREVIEW
        return REVIEWED if submission in self.reviewed else AWAITING_REVIEW

    def is_reviewed(self, submission: str) -> bool:
        """A person marked it reviewed (whatever else is still open)."""
        return submission in self.reviewed

    def open_items(self, submission: str) -> list[str]:
        """The manual rubric items of `submission` still without points."""
        final = self.finals.get(submission)
        return final.awaiting_review if final is not None else []

    def verdict(self, a: str, b: str) -> Decision | None:
        """The current integrity decision on the pair (a, b), whichever way round it is named."""
        first, second = sorted((a, b))
        return self.verdicts.get((first, second))


def batch_review(gradebook_path: Path, rows: list[GradebookRow], spec: Spec) -> BatchReview:
    """The decisions and review state stored in the gradebook at `gradebook_path`, applied to `rows`."""
    with Decisions(gradebook_path) as book:
        decisions, reviewed = book.all(), book.reviewed()
    verdicts = {(d.submission, d.target): d for d in decisions if d.kind == "integrity"}   # stored sorted
    return BatchReview(final_scores(rows, decisions, spec), reviewed, verdicts)
