"""The student's feedback as Markdown, honouring each test's visibility.

Student text (ids, messages, notes) is made inert first (grader.safe_text): messages sit in code
fences they cannot close, everything else is escaped, so feedback.md renders no HTML of theirs."""
from __future__ import annotations

from urllib.parse import quote

from grader.results import SubmissionResult
from grader.safe_text import md_code, md_fence, md_inline

STATUS_MARK = {"passed": "✅ passed", "partial": "🟡 partial", "failed": "❌ failed", "skipped": "⏭ skipped"}


def shows_details(visibility: str, *, after_due_date: bool) -> bool:
    return visibility == "visible" or (visibility == "after_due_date" and after_due_date)


def feedback_markdown(result: SubmissionResult, *, title: str, after_due_date: bool = True) -> str:
    lines = [f"# {md_inline(title)}: feedback for {md_code(result.submission)}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**  (data mode: {md_inline(result.mode)})", ""]
    if result.reason and result.status != "graded":
        lines += [f"> **{md_inline(result.status.upper())}**: {md_inline(result.reason)}", ""]
    if result.tests:
        lines += ["| Test | Points | Result |", "|---|---:|---|"]
        for t in result.tests:
            lines.append(f"| {md_inline(t.name)} | {t.score:g} / {t.points:g} | "
                         f"{md_inline(STATUS_MARK.get(t.status, t.status))} |")
        lines.append("")
    details = [t for t in result.tests if shows_details(t.visibility, after_due_date=after_due_date)
               and (t.status != "passed" or t.images or t.notes or t.metrics)]
    if details:
        lines += ["## Details", ""]
    for t in details:
        lines += [f"### {md_inline(t.name)}", ""]
        if t.message:
            lines += [*md_fence(t.message.strip()), ""]
        if t.detail and t.status != "passed":
            lines += [*md_fence(t.detail.strip()), ""]
        lines += [f"- {md_inline(n)}" for n in t.notes]
        for img in t.images:
            caption = md_inline(img.get("title", ""))
            lines += [f"**{caption}**", "", f"![{caption}](images/{quote(str(img.get('file', '')))})", ""]
    hidden = [t for t in result.tests if not shows_details(t.visibility, after_due_date=after_due_date)]
    if hidden:
        lines += [f"_{len(hidden)} hidden test(s) are listed with their points only._", ""]
    if result.notes:
        lines += ["## How your submission was read", ""] + [f"- {md_inline(n)}" for n in result.notes] + [""]
    return "\n".join(lines)
