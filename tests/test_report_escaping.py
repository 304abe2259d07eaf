"""Student text on feedback.html and summary.html is text, never markup: every field a student
controls (the submission's name, test messages and tracebacks, reading notes, picture titles, file
names, log lines, write-ups, the code lines of the side-by-side view) is fed a script, an attribute
break-out and a template expression, and each page holds them only escaped, never run or evaluated."""
from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest

from grader.core.gradebook_tests import GradebookTest
from grader.core.results import SubmissionResult, TestStatus
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.core.vocabulary import TestKind
from grader.integrity.similarity import compare_submissions
from grader.records.gradebook import GradebookRow
from grader.records.roster import RosterMatch
from grader.reports.html import failure_reason, feedback_html, summary_html

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append((tag, dict(attrs)))


def injected(page: str) -> list[str]:
    """What of the page a browser would run or fetch beyond the grader's own markup: script
    elements, event-handler attributes, pictures from anywhere but the page itself."""
    parser = _Elements()
    parser.feed(page)
    return [f"{tag} {attrs}" for tag, attrs in parser.found
            if tag == "script" or any(a.startswith("on") for a in attrs)
            or (tag == "img" and not str(attrs.get("src")).startswith("data:image/png;base64,"))]


def _words(n: int) -> str:
    """Text long enough to compare, hostile from the first word."""
    return " ".join(HOSTILE) + " " + " ".join(f"word{i} {HOSTILE[i % 3]}" for i in range(n))


def _escaped_in(page: str, text: str) -> bool:
    return html.escape(text, quote=True) in page


@pytest.mark.parametrize("bad", HOSTILE)
def test_feedback_shows_every_student_field_as_text(bad: str):
    tests = [OneTest(name=f"check {bad}", nodeid="tests/test_a.py::test_1", points=1.0, score=0.0, status="failed",
                     visibility="visible", message=f"expected 1, got {bad}", kind="assertion",
                     detail=f"Traceback:\n  {bad}", images=[{"title": f"plot {bad}", "file": "p.png"}],
                     notes=[f"note {bad}"]),
             OneTest(name="check 2", nodeid="tests/test_a.py::test_2", points=1.0, score=1.0, status="passed",
                     visibility="visible")]
    result = SubmissionResult(f"anna{bad}", "ae", "embedded", tests=tests, notes=[f"skipped `{bad}` at line 3"])
    page = feedback_html(result, title="Demo", images={"p.png": PNG}, data=f"data {bad}")
    assert injected(page) == []
    for field in (f"anna{bad}", f"check {bad}", f"expected 1, got {bad}", f"  {bad}", f"plot {bad}", f"note {bad}",
                  f"data {bad}", f"skipped `{bad}` at line 3"):
        assert _escaped_in(page, field), field


def test_a_rejected_submissions_reason_is_text():
    bad = " ".join(HOSTILE)
    result = SubmissionResult(f"dora{bad}", "ae", "embedded", status="rejected", reason=f"{bad}.py could not be read")
    page = feedback_html(result, title=f"Demo {bad}", images={})
    assert injected(page) == [] and _escaped_in(page, f"{bad}.py could not be read")
    assert _escaped_in(page, f"dora{bad}")


def _row(sid: str, *, message: str, status: str = "graded", reason: str = "") -> GradebookRow:
    test = GradebookTest(name=f"check {sid}", nodeid=f"tests/test_a.py::test_{sid}", points=1.0, score=0.0,
                         status=TestStatus.FAILED, message=message, kind=TestKind.ASSERTION)
    return GradebookRow(submission=sid, status=status, score=0.0, max_score=1.0, reason=reason, duration=1.0,
                        mode="embedded", isolation="bwrap", tests=[test] if status == "graded" else [])


def test_summary_shows_ids_reasons_file_names_logs_write_ups_and_code_lines_as_text():
    bad = " ".join(HOSTILE)
    code = f"""import torch
from torch import nn


class Encoder(nn.Module):
    \"\"\"{bad}\"\"\"

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))  # {bad}

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)  # {bad}
        return x


def train(model, data, epochs=3):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for batch, target in data:
            loss = ((model(batch) - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(epoch, loss.item(), "{bad}")
    return model
"""
    log = "".join(f'{{"epoch": {i}, "loss": 0.{i}, "note": "{bad}"}}\n' for i in range(12)).encode()
    ids = [f"anna{HOSTILE[0]}", f"bela{HOSTILE[1]}", f"cili{HOSTILE[2]}"]
    report = compare_submissions(code={s: code for s in ids},
                                 artifacts={s: {f"log{HOSTILE[1]}.jsonl": log} for s in ids},
                                 prose={s: {f"analysis{HOSTILE[0]}.md": _words(60)} for s in ids},
                                 code_names={s: f"hw{HOSTILE[2]}.py" for s in ids})
    report.not_compared.append(f"dora{bad}: the code file could not be read")
    assert {p.kind for p in report.flagged} == {"code", "artifact", "prose"} and any(p.regions for p in report.flagged)
    rows = [_row(s, message=f"expected 1, got {bad}") for s in ids] + [_row(f"dora{bad}", message="", status="rejected",
                                                                            reason=f"{bad} is not a notebook")]
    roster = RosterMatch(warnings={f"eva{bad}": f"matched nobody: {bad}"})
    page = summary_html(title=f"Demo {bad}", rows=rows, max_points=1.0, integrity=report, roster=roster)
    assert injected(page) == []
    for field in [*ids, failure_reason(f"expected 1, got {bad}"), f"{bad} is not a notebook", f"dora{bad}: the code file",
                  f"matched nobody: {bad}", f"torch.relu(x)  # {bad}", f"hw{HOSTILE[2]}.py lines", f"log{HOSTILE[1]}.jsonl"]:
        assert _escaped_in(page, field), field
    assert page.count("<mark>") > 10   # the side-by-side view's matched code lines are marked, and escaped
