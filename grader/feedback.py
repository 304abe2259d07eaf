"""The student's feedback as Markdown, honouring each test's visibility."""
from __future__ import annotations

from grader.results import SubmissionResult

STATUS_MARK = {"passed": "✅ passed", "partial": "🟡 partial", "failed": "❌ failed", "skipped": "⏭ skipped"}


def shows_details(visibility: str, *, after_due_date: bool) -> bool:
    return visibility == "visible" or (visibility == "after_due_date" and after_due_date)


def feedback_markdown(result: SubmissionResult, *, title: str, after_due_date: bool = True) -> str:
    lines = [f"# {title}: feedback for `{result.submission}`", "",
             f"**Score: {result.score:g} / {result.max_score:g}**  (data mode: {result.mode})", ""]
    if result.reason and result.status != "graded":
        lines += [f"> **{result.status.upper()}**: {result.reason}", ""]
    if result.tests:
        lines += ["| Test | Points | Result |", "|---|---:|---|"]
        for t in result.tests:
            lines.append(f"| {t.name} | {t.score:g} / {t.points:g} | {STATUS_MARK.get(t.status, t.status)} |")
        lines.append("")
    details = [t for t in result.tests if shows_details(t.visibility, after_due_date=after_due_date)
               and (t.status != "passed" or t.images or t.notes or t.metrics)]
    if details:
        lines += ["## Details", ""]
    for t in details:
        lines += [f"### {t.name}", ""]
        if t.message:
            lines += ["```text", t.message.strip(), "```", ""]
        if t.detail and t.status != "passed":
            lines += ["```text", t.detail.strip(), "```", ""]
        lines += [f"- {n}" for n in t.notes]
        for img in t.images:
            lines += [f"**{img['title']}**", "", f"![{img['title']}](images/{img['file']})", ""]
    hidden = [t for t in result.tests if not shows_details(t.visibility, after_due_date=after_due_date)]
    if hidden:
        lines += [f"_{len(hidden)} hidden test(s) are listed with their points only._", ""]
    if result.notes:
        lines += ["## How your submission was read", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)
