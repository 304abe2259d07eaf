"""The student's feedback as Markdown, honouring each test's visibility, and the wording every report
shares with the others (grader.reports.wording holds the words themselves).

Student text (ids, messages, notes) is made inert first (grader.reports.safe_text): messages sit in code
fences they cannot close, everything else is escaped, so feedback.md renders no HTML of theirs."""
from __future__ import annotations

import re
import site
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from grader.core.gradebook_tests import GradebookTest
from grader.core.results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from grader.intake.headline import reading_headline
from grader.records.final_score import FinalScore
from grader.reports.late_work import DEADLINE_HEADING, deadline_lines
from grader.reports.safe_text import md_code, md_fence, md_inline
from grader.reports.wording import (ADJUSTED_NOTE, DETAILS_HEADING, KIND_TEXT, LEAD_LABEL, NO_TEST_RAN, ONE_REASON_LABEL,
                                    READING_HEADING, REVIEW_HEADING, STATUS_MARK, WHY_ALL_FAILED_HEADING,
                                    hidden_tests_note)

_ROOT = Path(__file__).resolve().parents[2]


def shows_details(visibility: str, *, after_due_date: bool) -> bool:
    return visibility == "visible" or (visibility == "after_due_date" and after_due_date)


def heading(title: str) -> str:
    """The assignment's title without the data set it names in a trailing parenthesis ("(MNIST: 784 ->
    32, 16, 8)"): a run in another data mode is on other data, which the page names from the mode."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", title).strip() or title


def _install_paths() -> list[str]:
    paths = {str(_ROOT), sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    if site.ENABLE_USER_SITE:
        paths.add(site.getusersitepackages())
    return sorted((p for p in paths if len(p) > 1), key=len, reverse=True)


_PATHS = _install_paths()


def scrub_paths(text: str) -> str:
    """`text` without the grader's install paths (the repository, the Python installation): a
    student's report says `grader/trusted/plugin.py`, not where this machine keeps it."""
    for p in _PATHS:
        text = text.replace(p + "/", "").replace(p, "<grader>")
    return re.sub(r"/[^\s'\"():]*/(?:site|dist)-packages/", "", text)  # another environment's packages


def note_text(note: str) -> str:
    """A loader note without its repetitions ("`if x:` block: if x:" says the line twice)."""
    return re.sub(r"`([^`]+)` block: \1", r"`\1` block", scrub_paths(note))


def useful_detail(detail: str) -> str:
    """A test's detail, or "" when it is only pytest's bare `assert None` (an `assert x, message` whose x
    was None or another empty value): it adds nothing to the message above it."""
    text = scrub_paths(detail.strip())
    return "" if re.fullmatch(r"assert (not )?(None|False|0|''|\"\"|\[\]|\{\}|\(\)|set\(\))", text) else text


def common_cause(tests: Sequence[TestResult | GradebookTest]) -> str:
    """The one message every test that ran failed with (a submission that could not be loaded fails
    them all the same way), or "". Shown once, never once per test; it is a visible test's message
    too, so it reveals nothing of a hidden one."""
    ran = [t for t in tests if t.status != TestStatus.SKIPPED]
    failed = [t for t in ran if t.status == TestStatus.FAILED]
    if len(failed) < 2 or len(failed) != len(ran):
        return ""
    messages = {t.message.strip() for t in failed}
    if len(messages) != 1 or not any(t.visibility == "visible" for t in failed):
        return ""
    return scrub_paths(messages.pop())


def task_part(nodeid: str) -> str:
    """Which part of the task a test covers, from its file: tests/hidden/test_forecasting.py -> "forecasting"."""
    stem = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
    return "" if stem in ("hidden", "public", "tests", "test") else stem.replace("_", " ")


def hidden_outcome(t: TestResult | GradebookTest) -> str:
    """What a hidden test that did not pass may say: its part of the task and the kind of failure."""
    part = task_part(t.nodeid)
    return "; ".join(x for x in (f"part: {part}" if part else "", KIND_TEXT.get(t.kind, "")) if x) or "hidden"


def score_line(result: SubmissionResult, final: FinalScore | None) -> str:
    """"7 / 10", or with a review or manual items "9 / 12 (automatic tests 7 / 10)"."""
    if final is None:
        after_late, _ = result.after_late_policy()
        late = f" (automatic tests {result.score:g}, before the late policy)" if after_late != result.score else ""
        return f"{after_late:g} / {result.max_score:g}{late}"
    text = f"{final.score:g} / {final.max_score:g}"
    if final.rubric or final.adjusted or final.late_note:
        text += f" (automatic tests {result.score:g} / {result.max_score:g})"
    return text


def late_note(result: SubmissionResult, final: FinalScore | None) -> str:
    """What the late policy took from the score the student sees ("" when nothing)."""
    return final.late_note if final is not None else result.after_late_policy()[1]


def review_lines(final: FinalScore | None) -> list[str]:
    """What a review decided, as plain sentences for the student (each report escapes them): the
    adjusted tests with their reasons, the manual rubric items (or "awaiting review"), a test whose
    adjustment awaits re-review, the instructor's comment. Never a private note."""
    if final is None:
        return []
    lines = [f"{t.name}: adjusted from {t.automatic:g} to {t.score:g} / {t.points:g}: {t.reason}" for t in final.adjusted]
    for r in final.rubric:
        if r.awaiting_review:
            lines.append(f"{r.description}: awaiting review (0 / {r.points:g} until your instructor scores it)")
        else:
            lines.append(f"{r.description}: {r.given:g} / {r.points:g}" + (f": {r.comment}" if r.comment.strip() else ""))
    lines += [f"{t.name}: a decision about this test awaits re-review (the test's result changed when it was graded "
              "again); the automatic result stands until then" for t in final.tests if t.needs_rereview]
    lines += [f"Comment from your instructor: {c}" for c in final.comments]
    if final.capped:
        lines.append(f"The points add up to more than the maximum; the score is capped at {final.max_score:g}.")
    return lines


def feedback_markdown(result: SubmissionResult, *, title: str, after_due_date: bool = True, data: str = "",
                      final: FinalScore | None = None) -> str:
    """The student's feedback; `final`: the review's decisions (grader.records.decisions.final_score)."""
    adjusted = {t.nodeid: t for t in final.adjusted} if final else {}
    lines = [f"# {md_inline(heading(title))}: feedback for {md_code(result.submission)}", "",
             f"**Score: {score_line(result, final)}**  (data mode {md_inline(result.mode)}"
             + (f": {md_inline(data)}" if data else "") + ")", ""]
    cause = common_cause(result.tests)
    lead = reading_headline(result.notes, result.tests)
    if result.reason and result.status != SubmissionStatus.GRADED:
        lines += [f"> **{md_inline(result.status.upper())}**: {md_inline(scrub_paths(result.reason))}", ""]
    elif lead:
        lines += [f"> **{LEAD_LABEL}**: {md_inline(scrub_paths(lead))}", ""]
    if cause and not (result.reason and result.status != SubmissionStatus.GRADED):
        lines += [f"> **{ONE_REASON_LABEL}**: {md_inline(cause.splitlines()[0])}", ""]
    if not result.tests:
        before, command, after = NO_TEST_RAN
        lines += [f"{before}{md_code(command)}{after}", ""]
    else:
        lines += ["| Test | Points | Result |", "|---|---:|---|"]
        for t in result.tests:
            mark = STATUS_MARK.get(t.status, t.status)
            if t.status not in (TestStatus.PASSED, TestStatus.SKIPPED) and not shows_details(t.visibility, after_due_date=after_due_date):
                mark += f" ({hidden_outcome(t)})"
            score = t.score
            if t.nodeid in adjusted:
                score, mark = adjusted[t.nodeid].score, mark + ADJUSTED_NOTE
            lines.append(f"| {md_inline(t.name)} | {score:g} / {t.points:g} | {md_inline(mark)} |")
        lines.append("")
    review = review_lines(final)
    if review:
        lines += [f"## {REVIEW_HEADING}", "", *[f"- {md_inline(line)}" for line in review], ""]
    deadline = deadline_lines(result.late, note=late_note(result, final))
    if deadline:
        lines += [f"## {DEADLINE_HEADING}", "", *[f"- {md_inline(line)}" for line in deadline], ""]
    details = [t for t in result.tests if shows_details(t.visibility, after_due_date=after_due_date)
               and (t.status != TestStatus.PASSED or t.images or t.notes or t.metrics)]
    sections = []
    for t in details:
        body = []
        if t.message and not (cause and t.message.strip() == cause):
            body += [*md_fence(scrub_paths(t.message.strip())), ""]
        if useful_detail(t.detail) and t.status != TestStatus.PASSED and not cause:
            body += [*md_fence(useful_detail(t.detail)), ""]
        body += [f"- {md_inline(n)}" for n in t.notes] + ([""] if t.notes else [])
        for img in t.images:
            caption = md_inline(img.get("title", ""))
            body += [f"**{caption}**", "", f"![{caption}](images/{quote(str(img.get('file', '')))})", ""]
        if body:  # a heading with nothing under it says nothing: its message is the one reason above
            sections += [f"### {md_inline(t.name)}", "", *body]
    if sections:
        lines += [f"## {DETAILS_HEADING}", "", *sections]
    if cause:  # the traceback once, under the reason, not under every test
        first = next(t for t in result.tests if t.status == TestStatus.FAILED and t.visibility == "visible")
        if useful_detail(first.detail):
            lines += [f"## {WHY_ALL_FAILED_HEADING}", "", *md_fence(useful_detail(first.detail)), ""]
    hidden = [t for t in result.tests if not shows_details(t.visibility, after_due_date=after_due_date)]
    if hidden:
        lines += [f"_{hidden_tests_note(len(hidden))}_", ""]
    if result.notes:
        lines += [f"## {READING_HEADING}", ""] + [f"- {md_inline(note_text(n))}" for n in result.notes] + [""]
    return "\n".join(lines)
