"""The review app in headless Chromium (the Debian package, driven by Playwright as in
test_browser_reports.py), end to end on a freshly graded batch: open the link, move through the batch
with the keys, adjust a test with a comment, score a rubric item, confirm one flagged pair and clear
another, find them in moodle.csv and the feedback at once, then grade the same folder again (every submission
regraded) and find every decision in moodle.csv, the feedback, the gradebook and summary.html. A hostile submission name and message stay text; a
browser without the token is refused. With DLGRADE_DOCS_SCREENSHOTS=1 a small copy of each page
replaces docs/screenshots/review-*.png (README links them)."""
from __future__ import annotations

import csv
import threading

import pytest
from werkzeug.serving import make_server

from grader.commands.grade import grade_submissions
from grader.records.decisions import Decisions
from grader.review.app import create_app
from grader.review.folder import GradingFolder
from grader.review.security import Access
from grader.review.server import LOOPBACK, free_port
from review_batch import HOSTILE_ID, RUBRIC_ITEM, make_review_batch
from browser_support import ARTIFACTS, docs_copy, pytestmark  # noqa: F401 - the skip marker

ANSWER = "tests/public/test_public.py::test_answer"


@pytest.fixture()
def served(tmp_path):
    """(link with the token, assignment, submissions, grading folder) of a review app running here."""
    assignment, subs, out = make_review_batch(tmp_path)
    access = Access.new(f"{LOOPBACK}:{free_port()}")
    server = make_server(LOOPBACK, int(access.host.rsplit(":", 1)[1]),
                         create_app(GradingFolder(out, assignment=assignment), access, reviewer="Dr. Review"),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield access.link(), assignment, subs, out
    server.shutdown()
    thread.join(10)


def shot(page, name: str) -> None:
    path = ARTIFACTS / f"review-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    docs_copy(path, f"review-{name}.png")


def saved(page) -> str:
    return page.locator(".flash").first.inner_text()


def test_a_batch_reviewed_end_to_end_keeps_every_decision_through_a_regrade(browser, served):
    link, assignment, subs, out = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    assert "token=" not in page.url
    assert page.locator("#progress").inner_text() == "0 of 6 reviewed"
    shot(page, "batch")

    # the keys: j twice selects the third row (ids sorted: the hostile one, anna, bela, ...), Enter opens it
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/s/bela*")
    page.keyboard.press("j")
    page.wait_for_url("**/s/csaba*")

    # adjust a test of csaba's, with a reason for the student and a private note
    test = page.locator("article.test", has=page.locator(f"text={ANSWER}"))
    test.locator("details.decide > summary").click()
    test.locator("input[name=points]").fill("1")
    test.locator("textarea[name=student_text]").fill("'42' as a string is accepted this year")
    test.locator("textarea[name=private_note]").fill("lenient: the task text was ambiguous")
    test.locator("button").click()
    assert saved(page).startswith("saved:")
    page.locator("form.comment textarea[name=student_text]").fill("Good structure; read the numpy docs on sum.")
    page.locator("form.comment button").click()
    assert saved(page).startswith("saved:")
    assert page.locator("p.score").inner_text().startswith("1 / 7")
    shot(page, "submission")
    page.keyboard.press("r")            # reviewed, and on to the next
    page.wait_for_url("**/s/dora*")
    page.keyboard.press("b")
    page.wait_for_url("**/?f=all*")
    assert page.locator("#progress").inner_text() == "1 of 6 reviewed"

    # score anna's rubric item
    page.goto(link.split("?")[0] + "s/anna")
    rubric = page.locator(f"#rubric-{RUBRIC_ITEM}")
    rubric.locator("input[name=points]").fill("2")
    rubric.locator("textarea[name=student_text]").fill("Clear English comments throughout.")
    rubric.locator("button").click()
    assert saved(page).startswith("saved:")
    assert page.locator("p.score").inner_text().startswith("7 / 7")

    # confirm one flagged pair, clear the other
    page.goto(link.split("?")[0] + "?f=flagged")
    page.locator("ul.pairs a", has_text="anna and bela").click()
    assert page.locator("table.side mark").count() >= 3
    shot(page, "pair")
    page.locator("textarea[name=private_note]").fill("identical down to the variable order")
    page.locator("#confirm").click()
    assert "confirmed" in page.locator("#verdict").inner_text()
    page.goto(link.split("?")[0] + "?f=flagged")
    page.locator("ul.pairs a", has_text="csaba and dora").click()
    page.locator("textarea[name=private_note]").fill("both started from the lab's example")
    page.locator("#clear").click()
    assert "cleared" in page.locator("#verdict").inner_text()

    # the hostile submission: its name and message are text, nothing runs
    page.goto(link.split("?")[0])
    page.locator("table.batch a").first.click()
    assert page.locator("h1").inner_text() == HOSTILE_ID
    assert page.locator('img[src="x"]').count() == 0 and page.locator("script:not([src])").count() == 0
    assert not dialogs and not errors

    # without the token: refused
    stranger = browser.new_context()
    refused = stranger.new_page().goto(link.split("?")[0])
    assert refused.status == 403
    stranger.close()
    page.close()

    # the folder followed every decision at once, before any new `grade`
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        before = {r["Identifier"]: r for r in csv.DictReader(f)}
    assert float(before["csaba"]["Grade"]) == 1 and float(before["anna"]["Grade"]) == 7
    assert "read the numpy docs on sum" in (out / "csaba" / "feedback.md").read_text(encoding="utf-8")

    # grade the same folder again, every submission regraded: every decision is kept
    grade_submissions(assignment=assignment, submissions=[subs], out=out, jobs=2, force=True)
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        moodle = {r["Identifier"]: r for r in csv.DictReader(f)}
    assert float(moodle["csaba"]["Grade"]) == 1 and float(moodle["anna"]["Grade"]) == 7
    assert float(moodle["bela"]["Grade"]) == 5
    feedback = (out / "csaba" / "feedback.md").read_text(encoding="utf-8")
    assert "accepted this year" in feedback and "read the numpy docs on sum" in feedback
    assert "ambiguous" not in feedback and "ambiguous" not in (out / "csaba" / "feedback.html").read_text()
    assert "Clear English comments throughout." in (out / "anna" / "feedback.md").read_text(encoding="utf-8")
    with Decisions(out / "gradebook.sqlite") as book:
        verdicts = {(d.submission, d.target): d.verdict for d in book.all() if d.kind == "integrity"}
        assert "csaba" in book.reviewed()
    assert verdicts == {("anna", "bela"): "confirmed", ("csaba", "dora"): "cleared"}
    summary = (out / "summary.html").read_text(encoding="utf-8")   # the instructor's page shows the review too
    assert "confirmed (by Dr. Review)" in summary and "cleared (by Dr. Review)" in summary
    assert "Scores after review" in summary and "1 of 6" in summary
