"""The review app (`dlgrade review OUT`) through Flask's test client, over a real graded batch: who may
use it (the token, the Host, a same-origin CSRF-checked POST), that what a student named or printed
reaches the pages inert, that no request reaches a file outside a submission's pictures, and that a
decision saved in the browser lands in the gradebook where `grade` reads it and in the folder's files at
once, that the pages answer while `grade` holds the gradebook, and that the decisions export as CSV
(from the page, and with `dlgrade review OUT --export/--apply`)."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from grader import cli
from grader.core.errors import EXIT_OK
from grader.records.decisions import Decisions
from grader.records.gradebook import Gradebook
from grader.review.app import create_app
from grader.review.folder import GradingFolder
from grader.review.security import Access
from review_batch import HOSTILE_ID, HOSTILE_VALUE, RUBRIC_ITEM, make_review_batch

HOST = "localhost"          # the test client's Host
ORIGIN = {"Origin": f"http://{HOST}"}
ANSWER = "tests/public/test_public.py::test_answer"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000"
                    "050001a5f645400000000049454e44ae426082")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, Path]:
    """(assignment, grading folder), graded once for the module."""
    assignment, _, out = make_review_batch(tmp_path_factory.mktemp("review"))
    (out / "csaba" / "images").mkdir(exist_ok=True)
    (out / "csaba" / "images" / "curve.png").write_bytes(PNG)
    return assignment, out


@pytest.fixture()
def app(batch):
    assignment, out = batch
    access = Access.new(HOST)
    return create_app(GradingFolder(out, assignment=assignment), access, reviewer="tester"), access


def signed_in(app_access):
    app, access = app_access
    client = app.test_client()
    assert client.get(f"/?token={access.token}").status_code == 302
    return client


def test_every_page_refuses_a_request_without_the_token(app):
    flask_app, access = app
    client = flask_app.test_client()
    for path in ("/", "/s/anna", "/pair/code/anna/bela", "/static/review.css"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "anna" not in page.get_data(as_text=True).replace("/s/anna", "")
    assert client.get("/?token=" + "x" * len(access.token)).status_code == 403
    assert client.post("/s/anna/comment", data={"student_text": "hi"}, headers=ORIGIN).status_code == 403


def test_the_token_in_the_link_becomes_a_cookie_and_leaves_the_url(app):
    flask_app, access = app
    client = flask_app.test_client()
    first = client.get(f"/s/anna?token={access.token}&f=flagged")
    assert first.status_code == 302 and access.token not in first.headers["Location"]
    assert "f=flagged" in first.headers["Location"]
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "0 of 6 reviewed" in page.get_data(as_text=True)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_another_host_name_is_refused_even_with_the_token(app):
    """A page that rebinds its own host name to 127.0.0.1 sends its own name as Host."""
    flask_app, access = app
    client = flask_app.test_client()
    assert client.get(f"/?token={access.token}", headers={"Host": "evil.example"}).status_code == 403


@pytest.mark.parametrize("headers, with_csrf", [
    ({"Origin": "http://evil.example"}, True),              # another site's form
    ({"Origin": "http://localhost:9999"}, True),            # another port of this machine
    ({"Referer": "http://evil.example/page"}, True),        # no Origin, a foreign Referer
    ({}, True),                                             # neither header
    (ORIGIN, False),                                        # same origin, no CSRF field
])
def test_a_change_from_anywhere_but_the_apps_own_form_is_refused(app, batch, headers, with_csrf):
    client = signed_in(app)
    _, access = app
    data = {"student_text": "changed by another page", **({"csrf": access.csrf} if with_csrf else {})}
    assert client.post("/s/anna/comment", data=data, headers=headers).status_code == 403
    with Decisions(batch[1] / "gradebook.sqlite") as book:
        assert not [d for d in book.all() if d.student_text == "changed by another page"]


def test_a_hostile_name_and_message_render_inert(app):
    client = signed_in(app)
    pages = [client.get("/").get_data(as_text=True),
             client.get(f"/s/{quote(HOSTILE_ID, safe='')}").get_data(as_text=True)]
    for page in pages:
        assert "<img src=x" not in page and "<script>alert" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(" in pages[1]          # the test's message quotes the returned value
    assert HOSTILE_VALUE not in pages[1]


def test_a_picture_is_served_and_nothing_else_of_the_folder(app, batch):
    client = signed_in(app)
    picture = client.get("/s/csaba/image/curve.png")
    assert picture.status_code == 200 and picture.data == PNG and picture.mimetype == "image/png"
    (batch[1] / "csaba" / "images" / "key").symlink_to(batch[1] / "course.key")
    for path in ("/s/csaba/image/..%2F..%2Fcourse.key", "/s/csaba/image/%2E%2E%2Fresult.json",
                 "/s/csaba/image/..%2Fresult.json", "/s/..%2F..%2Fetc/image/passwd", "/s/csaba/image/key",
                 "/s/csaba/image/%2Fetc%2Fpasswd", "/s/..%2Fcsaba/image/curve.png", "/s/nobody/image/curve.png"):
        page = client.get(path)
        assert page.status_code in (403, 404), path
        assert page.data != (batch[1] / "course.key").read_bytes()


def test_an_adjustment_saved_in_the_page_lands_in_the_gradebook_and_the_score(app, batch):
    client = signed_in(app)
    _, access = app
    saved = client.post("/s/csaba/adjust", headers=ORIGIN, data={
        "csrf": access.csrf, "nodeid": ANSWER, "points": "1", "student_text": "'42' as text is accepted this year",
        "private_note": "lenient, see forum thread"})
    assert saved.status_code == 302
    with Decisions(batch[1] / "gradebook.sqlite") as book:
        (decision,) = [d for d in book.for_submission("csaba") if d.kind == "adjust"]
    assert (decision.target, decision.points, decision.who) == (ANSWER, 1.0, "tester")
    assert decision.private_note == "lenient, see forum thread" and decision.basis
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "saved: " in page and re.search(r'class="score">1 / 7', page)


def test_a_rubric_item_and_points_out_of_range(app, batch):
    client = signed_in(app)
    _, access = app
    too_many = client.post("/s/anna/rubric", headers=ORIGIN, follow_redirects=True, data={
        "csrf": access.csrf, "item": RUBRIC_ITEM, "points": "5"})
    assert "worth 2 points; cannot give 5" in too_many.get_data(as_text=True)
    client.post("/s/anna/rubric", headers=ORIGIN, data={"csrf": access.csrf, "item": RUBRIC_ITEM, "points": "1.5",
                                                        "student_text": "some comments are in Hungarian"})
    with Decisions(batch[1] / "gradebook.sqlite") as book:
        (item,) = [d for d in book.for_submission("anna") if d.kind == "rubric"]
    assert item.points == 1.5 and item.student_text == "some comments are in Hungarian"


def test_a_flagged_pair_shows_its_regions_and_takes_a_verdict(app, batch):
    client = signed_in(app)
    _, access = app
    page = client.get("/pair/code/anna/bela").get_data(as_text=True)
    assert page.count("<mark>") >= 3 and "anna" in page and "bela" in page
    client.post("/pair/code/anna/bela", headers=ORIGIN, data={"csrf": access.csrf, "verdict": "cleared",
                                                               "private_note": "same tutorial"})
    with Decisions(batch[1] / "gradebook.sqlite") as book:
        (verdict,) = [d for d in book.for_submission("bela") if d.kind == "integrity"]
    assert (verdict.verdict, verdict.private_note) == ("cleared", "same tutorial")
    assert client.get("/pair/code/anna/nobody").status_code == 404


def test_the_batch_filters_and_counts_the_reviewed(app):
    client = signed_in(app)
    _, access = app
    client.post("/s/dora/reviewed", headers=ORIGIN, data={"csrf": access.csrf, "reviewed": "yes"})
    batch_page = client.get("/").get_data(as_text=True)
    assert "1 of 6 reviewed" in batch_page
    flagged = client.get("/?f=flagged").get_data(as_text=True)
    assert all(f"/s/{sid}?" in flagged for sid in ("anna", "bela", "csaba", "dora"))
    assert "/s/%22%3E%3Cimg" not in flagged
    needs = client.get("/?f=needs-review").get_data(as_text=True)
    assert "/s/anna?" in needs and "/s/dora?" in needs    # dora's pair is still open


def test_the_submission_page_shows_the_code_and_marks_the_line_the_feedback_names(app):
    client = signed_in(app)
    page = client.get("/s/emil").get_data(as_text=True)
    assert "syntax error at line 3" in page
    marked = re.findall(r'<span class="ln mark"><span class="no">(\d+)</span>(.*?)</span>\n', page)
    assert [n for n, _ in marked] == ["3"] and 'class="nf">add</span>' in marked[0][1]   # highlighted by Pygments
    assert 'class="k">def</span>' in client.get("/s/csaba").get_data(as_text=True)


def test_pages_answer_and_take_decisions_while_grade_holds_the_gradebook(app, batch):
    """A `grade` run into the folder holds the gradebook's lock for as long as it runs."""
    client = signed_in(app)
    _, access = app
    with Gradebook(batch[1] / "gradebook.sqlite"):
        for path in ("/", "/s/anna", "/pair/code/anna/bela", "/decisions.csv"):
            assert client.get(path).status_code == 200, path
        saved = client.post("/s/bela/comment", headers=ORIGIN, data={
            "csrf": access.csrf, "student_text": "saved while grade was running"})
        assert saved.status_code == 302
    with Decisions(batch[1] / "gradebook.sqlite") as book:
        assert [d.student_text for d in book.for_submission("bela") if d.kind == "comment"] == [
            "saved while grade was running"]


def test_a_decision_saved_in_the_page_rewrites_the_students_files_and_the_tables_at_once(app, batch):
    client = signed_in(app)
    _, access = app
    out = batch[1]
    client.post("/s/dora/comment", headers=ORIGIN, data={
        "csrf": access.csrf, "student_text": "see me about the loop in total()", "private_note": "NOTE-dora-91"})
    client.post("/s/dora/adjust", headers=ORIGIN, data={
        "csrf": access.csrf, "nodeid": ANSWER, "points": "1", "student_text": "a string '42' counts this year"})
    feedback = (out / "dora" / "feedback.md").read_text(encoding="utf-8")
    assert "Comment from your instructor: see me about the loop in total()" in feedback
    assert "a string '42' counts this year" in feedback
    results = json.loads((out / "dora" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == results["extra_data"]["review"]["automatic_score"] + 1
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        moodle = {r["Full name"]: r for r in csv.DictReader(f)}
    assert float(moodle["dora"]["Grade"]) == results["score"]
    assert "see me about the loop" in moodle["dora"]["Feedback comments"]
    student_files = [p for p in (out / "dora").rglob("*") if p.is_file()] + [out / "moodle.csv"]
    assert not [p for p in student_files if b"NOTE-dora-91" in p.read_bytes()]


def test_the_batch_page_exports_every_decision_as_csv_behind_the_token(app, batch):
    flask_app, access = app
    assert flask_app.test_client().get("/decisions.csv").status_code == 403
    client = signed_in(app)
    client.post("/s/anna/comment", headers=ORIGIN, data={"csrf": access.csrf, "student_text": "well argued"})
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/decisions.csv"[^>]*>Export decisions \(CSV\)</a>', page)
    export = client.get("/decisions.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert {"submission": "anna", "kind": "comment", "student_text": "well argued"}.items() <= next(
        line for line in lines if line["submission"] == "anna" and line["kind"] == "comment").items()


def test_review_exports_and_applies_decisions_on_the_command_line(batch, tmp_path, capsys):
    assignment, out = batch
    exported = tmp_path / "decisions.csv"
    assert cli.main(["review", str(out), "--export", str(exported), "--assignment", str(assignment)]) == EXIT_OK
    lines = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    lines.append({"submission": "csaba", "kind": "comment", "student_text": "applied from a CSV"})
    with open(exported, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    capsys.readouterr()
    assert cli.main(["review", str(out), "--apply", str(exported), "--assignment", str(assignment),
                     "--who", "Dr. CSV"]) == EXIT_OK
    assert "1 decision(s) recorded" in capsys.readouterr().out   # the lines already there record nothing
    with Decisions(out / "gradebook.sqlite") as book:
        (comment,) = [d for d in book.for_submission("csaba") if d.kind == "comment"]
    assert (comment.student_text, comment.who) == ("applied from a CSV", "Dr. CSV")
    assert "applied from a CSV" in (out / "csaba" / "feedback.md").read_text(encoding="utf-8")
