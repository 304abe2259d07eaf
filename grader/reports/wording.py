"""The words every report shares: headings, status words, the kinds of failure and the sentences that
feedback.md (grader.reports.markdown), feedback.html and summary.html (grader.reports.html, its
templates) and `check`'s table (grader.reports.terminal) say alike. Plain text only: each renderer
escapes it for its own output. The deadline's words are in grader.reports.late_work."""
from __future__ import annotations

LEAD_LABEL = "Why you lost points"   # the headline's label (grader.intake.headline), in every report
ONE_REASON_LABEL = "Every test failed for one reason"
WHY_ALL_FAILED_HEADING = "Why every test failed"
REVIEW_HEADING = "Reviewed by your instructor"
DETAILS_HEADING = "Details"
READING_HEADING = "How your submission was read"
ADJUSTED_NOTE = " (adjusted by your instructor)"
# "No test ran" in three parts: the middle one is the command, set as code by each renderer
NO_TEST_RAN = ("No test ran: the reason above is why. Fix it and run ", "check", " again.")

STATUS_TEXT = {"passed": "passed", "partial": "partial", "failed": "failed", "skipped": "skipped"}
STATUS_MARK = {"passed": "✅ passed", "partial": "🟡 partial", "failed": "❌ failed", "skipped": "⏭ skipped"}

# what went wrong in a test, by its kind: enough to act on, nothing of the test's content
KIND_TEXT = {
    "exception": "your code raised an error", "missing": "a function or class it needs is missing",
    "timeout": "it ran out of time", "crashed": "the worker stopped (memory, a crash or an exit)",
    "protocol": "a returned value could not be read", "load": "your submission could not be loaded",
    "assertion": "a result was not what the task asks for", "credit": "a measured quality is below full marks",
    "not-run": "it was not run", "grader-error": "the grader failed (not your fault)",
    "unevaluable": "the grader could not evaluate your values",
    "wall-timeout": "stopped while the machine was busy (graded again alone)",
}


def hidden_tests_note(count: int) -> str:
    """What a student is told about the tests whose details they may not see."""
    return (f"{count} hidden test(s) are listed with their points only and, if they did not pass, "
            "the part of the task they cover and the kind of failure.")
