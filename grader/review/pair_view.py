"""A flagged pair's evidence for the review page: the two submissions compared again exactly as
`grade` compared the batch (grader.integrity.report: the same reading of each submission, the
template's code and the assignment's text removed), so the page shows the matching regions that
summary.html shows. Comparing two submissions leaves out the batch-wide "most students have it"
filter, so a region here may include a line that filter dropped; the similarity shown is the batch's."""
from __future__ import annotations

from pathlib import Path

from grader.core.spec import Spec
from grader.intake.discovery import SubmissionInput
from grader.integrity.report import integrity_report
from grader.integrity.similarity import MatchedRegion
from grader.review.folder import FlaggedPair

EVERY_PAIR = 1e-9   # a threshold that flags the pair, so its regions are found


def pair_regions(pair: FlaggedPair, spec: Spec, source_a: Path, source_b: Path) -> tuple[list[MatchedRegion], str]:
    """(the matching regions of `pair`'s kind, why there are none)."""
    missing = [str(s) for s in (source_a, source_b) if not s.exists()]
    if missing:
        return [], f"the submission is no longer at {missing[0]} (grade read it from there)"
    report = integrity_report(spec, [SubmissionInput(pair.a, source_a), SubmissionInput(pair.b, source_b)],
                              threshold=EVERY_PAIR)
    found = next((p for p in report.pairs if p.kind == pair.kind), None)
    if found is None or not found.regions:
        why = "; ".join(report.not_compared) or "compared alone, the two share nothing of this kind"
        return [], why
    return found.regions, ""
