"""Self-contained HTML pages: `feedback.html` for each student and `summary.html` for the instructor.

Rendered from Jinja2 templates (`templates/`, grader.reports.page_templates) with autoescaping on:
test names, messages, reasons, ids and file names all carry text the student controls, and no value
reaches a page unescaped. This module decides what each page says, as plain values; the templates
decide the markup. Pictures are embedded as base64 PNG data; the histogram and the bars are inline
SVG and CSS drawn from numbers only, so each page is one file that opens anywhere, offline. The
layout holds from a phone (390 px) to a laptop: tables wrap their text instead of widening the page,
pictures shrink.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.core.results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from grader.integrity.similarity import IntegrityReport
from grader.intake.headline import reading_headline
from grader.records.final_score import FinalScore
from grader.records.gradebook import GradebookRow
from grader.records.roster import RosterMatch
from grader.reports.failure_groups import failure_reason, suspect_grader
from grader.reports.late_work import DEADLINE_HEADING, deadline_lines
from grader.reports.markdown import (common_cause, heading, hidden_outcome, late_note, note_text, review_lines,
                                     score_line, scrub_paths, shows_details, useful_detail)
from grader.reports.page_templates import render
from grader.reports.score_histogram import histogram_svg
from grader.reports.summary_sections import summary_context
from grader.reports.wording import ADJUSTED_NOTE, LEAD_LABEL, ONE_REASON_LABEL, STATUS_TEXT

if TYPE_CHECKING:   # batch_review builds on reviewed.py, which renders its pages with this module
    from grader.reports.batch_review import BatchReview


@dataclass(frozen=True)
class TestRow:
    name: str
    score: str
    points: str
    status: str
    result: str


@dataclass(frozen=True)
class Banner:
    label: str
    text: str


@dataclass(frozen=True)
class Figure:
    title: str
    data: str   # base64 of the PNG the test's picture helper wrote: only [A-Za-z0-9+/=]


@dataclass(frozen=True)
class Detail:
    name: str
    message: str
    detail: str
    notes: list[str]
    figures: list[Figure]


def _test_row(t: TestResult, *, visible: bool, adjusted: dict) -> TestRow:
    outcome = STATUS_TEXT.get(t.status, t.status)
    if not visible and t.status not in (TestStatus.PASSED, TestStatus.SKIPPED):
        outcome += f" ({hidden_outcome(t)})"
    score = t.score
    if t.nodeid in adjusted:
        score, outcome = adjusted[t.nodeid].score, outcome + ADJUSTED_NOTE
    return TestRow(t.name, f"{score:g}", f"{t.points:g}", str(t.status), outcome)


def _detail(t: TestResult, *, cause: str, images: dict[str, bytes]) -> Detail | None:
    """What a visible test shows under Details, or None when it has nothing to add."""
    if t.status == TestStatus.PASSED and not (t.images or t.notes):
        return None
    figures = [Figure(str(img.get("title", "")), base64.b64encode(images[img["file"]]).decode())
               for img in t.images if img.get("file") in images]
    message = "" if cause and t.message.strip() == cause else scrub_paths(t.message.strip())
    detail = useful_detail(t.detail) if t.status != TestStatus.PASSED and not cause else ""
    if not (message or detail or t.notes or figures):
        return None   # its message is the one reason above
    return Detail(t.name, message, detail, [scrub_paths(n) for n in t.notes], figures)


def _banners(result: SubmissionResult, cause: str) -> tuple[list[Banner], str]:
    """The reasons above the table (why it was not graded, or why points were lost) and, when every
    test failed for one reason, that reason's traceback once."""
    if result.reason and result.status != SubmissionStatus.GRADED:
        return [Banner(result.status.upper(), scrub_paths(result.reason))], ""
    lead = reading_headline(result.notes, result.tests)
    banners = [Banner(LEAD_LABEL, scrub_paths(lead))] if lead else []
    if not cause:
        return banners, ""
    first = next(t for t in result.tests if t.status == TestStatus.FAILED and t.visibility == "visible")
    return banners + [Banner(ONE_REASON_LABEL, cause)], useful_detail(first.detail)


def feedback_html(result: SubmissionResult, *, title: str, images: dict[str, bytes],
                  after_due_date: bool = True, data: str = "", final: FinalScore | None = None) -> str:
    """One student's page: score, the test table, messages and pictures of the tests they may see.

    Tests whose visibility does not allow details show their name, points, the part of the task
    they cover and the kind of failure only. `data`: the graded mode's description. `final`: the
    review's decisions (grader.records.decisions.final_score): adjusted points, rubric items, comment."""
    adjusted = {t.nodeid: t for t in final.adjusted} if final else {}
    cause = common_cause(result.tests)
    rows, details, hidden = [], [], 0
    for t in result.tests:
        visible = shows_details(t.visibility, after_due_date=after_due_date)
        rows.append(_test_row(t, visible=visible, adjusted=adjusted))
        hidden += not visible
        if visible and (d := _detail(t, cause=cause, images=images)) is not None:
            details.append(d)
    banners, cause_detail = _banners(result, cause)
    score, max_score = (final.score, final.max_score) if final else (result.after_late_policy()[0], result.max_score)
    return render("feedback.html.j2", page_title=f"{heading(title)}: {result.submission}", title=heading(title),
                  submission=result.submission, mode=result.mode, data=data, score_line=score_line(result, final),
                  percent=f"{100 * score / max_score if max_score else 0.0:.0f}", banners=banners,
                  cause_detail=cause_detail, tests=rows, review=review_lines(final),
                  deadline_heading=DEADLINE_HEADING, deadline=deadline_lines(result.late, note=late_note(result, final)),
                  hidden=hidden, details=details, notes=[note_text(n) for n in result.notes])


def summary_html(*, title: str, rows: list[GradebookRow], max_points: float, roster: RosterMatch | None = None,
                 integrity: IntegrityReport | None = None, review: BatchReview | None = None) -> str:
    """The instructor's page, to read in a minute: the figures that matter as tiles, a banner when the
    grader is suspect, the score distribution, the scores after review with late days and review state
    (`review`: the reviewers' decisions, grader.reports.batch_review), pass rate per test, failed
    submissions, failures by reason, time per submission, flagged pairs with their verdicts and
    missing students."""
    context = summary_context(title=heading(title), rows=rows, max_points=max_points, roster=roster,
                              integrity=integrity, review=review)
    return render("summary.html.j2", page_title=f"{heading(title)}: summary", **context)


__all__ = ["feedback_html", "summary_html", "histogram_svg", "failure_reason", "suspect_grader"]
