"""feedback.html and summary.html as a browser shows them: headless Chromium (the Debian package
`chromium`, driven by Playwright; no browser is downloaded) opens the pages of graded example
batches at a laptop's and a phone's width. Nothing may overflow sideways, every picture must load
and the console must stay free of errors. A screenshot of each page goes to the test artefacts
($DLGRADE_ARTIFACTS, default build/test-artifacts/screenshots); with DLGRADE_DOCS_SCREENSHOTS=1 small
copies replace docs/screenshots/ (README links them).

The tiny batch (a dozen quick submissions of the fixture assignment, graded once per session)
covers every kind of page: full marks, failed tests, a submission that could not be loaded, a
rejected one, hidden tests, a roster with a missing student and a grader that fails every
submission the same way. One example submission per real assignment shows its pictures (marked
`browser_examples`: it grades four real submissions, a minute or more; .ci/run runs it after the suite)."""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.commands.grade import grade_submissions
from grader.core.gradebook_tests import GradebookTest
from grader.core.results import TestStatus
from grader.core.vocabulary import TestKind, Visibility
from grader.records.gradebook import GradebookRow
from grader.reports.html import summary_html
from browser_support import ARTIFACTS, CHROMIUM, DOCS, WIDTHS, docs_copy, pytestmark  # noqa: F401 - the skip marker
from tiny_batch import TINY, make_batch

REPO = Path(__file__).resolve().parents[1]
# one honest example per assignment: its feedback shows every picture its hidden tests draw
EXAMPLES = {"ae_bottleneck": "anna_good.ipynb", "conv1d_windowing": "julia_dilated_tcn.ipynb",
            "hpo": "lena_mlp_random_search", "gan": "honest_upsample.py"}

@dataclass
class PageCheck:
    overflow: int          # pixels the page is wider than the window (0: none)
    broken_images: list    # alt text of pictures that did not load
    errors: list           # console errors and uncaught exceptions


def open_page(browser, path: Path, *, width: int, screenshot: Path | None = None) -> PageCheck:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt)")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return PageCheck(overflow=overflow, broken_images=broken, errors=errors)


def assert_reads_well(browser, page: Path, name: str, *, docs: str = "") -> None:
    for device, width in WIDTHS.items():
        shot = ARTIFACTS / f"{name}-{device}.png"
        check = open_page(browser, page, width=width, screenshot=shot)
        assert check.overflow <= 0, f"{page} is {check.overflow} px wider than a {width} px window ({device})"
        assert not check.broken_images, f"{page}: pictures that did not load: {check.broken_images}"
        assert not check.errors, f"{page}: console errors: {check.errors}"
        if docs and device == "laptop":
            docs_copy(shot, docs)


@pytest.fixture(scope="session")
def tiny_batch(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser-tiny")
    subs = tmp / "subs"
    make_batch(subs, count=12)
    roster = tmp / "roster.csv"
    roster.write_text("id,name,email\ns000_correct,Kiss Anna,anna@example.com\nMISSING1,Szabó Éva,eva@example.com\n")
    out = tmp / "out"
    report = grade_submissions(assignment=TINY, submissions=[subs], out=out, jobs=2, roster=roster)
    assert report.found == 12
    return out


def test_tiny_batch_summary_reads_well_on_a_laptop_and_a_phone(browser, tiny_batch):
    page = tiny_batch / "summary.html"
    text = page.read_text(encoding="utf-8")
    for part in ("Score distribution", "Pass rate per test", "Failed submissions", "Slowest submissions",
                 "missing students", "Szabó Éva", "isolation"):
        assert part in text, part
    assert_reads_well(browser, page, "summary", docs="summary.png")


@pytest.mark.parametrize("submission", ["s000_correct", "s001_wrong_type", "s004_template", "s010_syntax_error"])
def test_tiny_feedback_pages_read_well(browser, tiny_batch, submission):
    assert_reads_well(browser, tiny_batch / submission / "feedback.html", f"tiny-{submission}")


def test_a_rejected_submission_shows_its_reason_not_an_empty_table(tiny_batch):
    page = (tiny_batch / "s010_syntax_error" / "feedback.html").read_text(encoding="utf-8")
    assert "syntax error at line" in page and "No test ran" in page and "<table>" not in page


def test_a_suspect_grader_gets_a_banner_and_each_row_once(browser, tmp_path):
    """Fourteen submissions whose every test failed with the same missing package on the grader's side
    (the tests import it): one banner, one group naming the package, and the failure counted once per
    submission, not once per test."""
    message = "your code raised ModuleNotFoundError: No module named 'keras' while importing your submission"
    tests = [GradebookTest(nodeid=f"tests/public/test_api.py::test_{i}", name=f"check {i}", points=1.0, score=0.0,
                           status=TestStatus.FAILED, visibility=Visibility.VISIBLE if i < 3 else Visibility.HIDDEN,
                           kind=TestKind.GRADER_ERROR, message=message) for i in range(6)]
    rows = [GradebookRow(submission=f"student_{i:02d}", mode="embedded", score=0.0,
                         max_score=6.0, status="graded", reason=message, tests=tests, duration=2.0 + i,
                         isolation="bwrap") for i in range(14)]
    page = tmp_path / "summary.html"
    page.write_text(summary_html(title="Demo (MNIST)", rows=rows, max_points=6.0), encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert "Suspect the grader" in text and "14 of 14 submissions" in text
    assert "No module named &#x27;keras&#x27;" in text
    assert '<td class="num">14</td><td class=""><span class="muted small">grader-error</span>' in text and text.count("(every test)") == 1
    assert_reads_well(browser, page, "summary-suspect")


@pytest.fixture(scope="session")
def example_pages(tmp_path_factory) -> dict[str, Path]:
    """One example submission per assignment, graded with its hidden tests (they draw the pictures)."""
    tmp = tmp_path_factory.mktemp("browser-examples")

    def grade(name: str) -> Path:
        out = tmp / name
        grade_submissions(assignment=name, submissions=[REPO / "examples" / name / EXAMPLES[name]], out=out, jobs=1,
                          single=True)
        return next(p for p in out.iterdir() if (p / "feedback.html").exists()) / "feedback.html"

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(EXAMPLES, pool.map(grade, EXAMPLES)))


@pytest.mark.browser_examples   # grades four real submissions: run with -m browser_examples (.ci/run does)
@pytest.mark.parametrize("assignment", list(EXAMPLES))
def test_each_assignment_feedback_shows_its_pictures(browser, example_pages, assignment):
    page = example_pages[assignment]
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 2, f"{assignment}: the feedback should show its pictures"
    assert "(MNIST" not in text and "(CIFAR" not in text  # the title names the data actually graded ...
    assert find_assignment(assignment).modes["embedded"].description.split(",")[0] in html.unescape(text)  # ... here
    assert_reads_well(browser, page, f"feedback-{assignment}", docs=f"feedback-{assignment}.png")

