"""What `grade` writes: one run over a zipped Moodle export with a roster, then its moodle.csv,
grades.csv, feedback.html (escaped, hidden tests reduced to name and points), summary.html and
integrity report; and feedback.html's pictures and escaping on their own."""
from __future__ import annotations

import base64
import csv
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.commands.grade import GradeReport, grade_submissions
from grader.reports.html import feedback_html
from grader.authoring.pictures import png_bytes
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from tiny_batch import CORPUS, REFERENCE, TINY, renamed_reference

HOSTILE_TEXT = "<script>alert('x')</script>"
STRANGER = f'''
def answer():
    raise ValueError("{HOSTILE_TEXT}")


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
'''


@dataclass
class Run:
    out: Path
    report: GradeReport


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("moodle")
    files = {
        "Kiss Anna_101_assignsubmission_file_/tiny.py": REFERENCE.read_text(),
        "Kovács Áron_102_assignsubmission_file_/code/tiny.py": (CORPUS / "wrong_type.py").read_text(),
        "Kovács Áron_102_assignsubmission_file_/code/train_log.jsonl": '{"epoch": 1}\n',
        "Nagy Béla_103_assignsubmission_file_/tiny.py": renamed_reference(7),
        "Idegen Iván_105_assignsubmission_file_/tiny.py": STRANGER,
    }
    export = tmp / "submissions.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    roster = tmp / "roster.csv"
    roster.write_text("id,name,email\nABC123,Kiss Anna,anna@example.com\nXYZ789,Kovács Áron,aron@example.com\n"
                      "QQQ111,Nagy Béla,bela@example.com\nEVA444,Szabó Éva,eva@example.com\n", encoding="utf-8")
    out = tmp / "out"
    report = grade_submissions(assignment=TINY, submissions=[export], out=out, jobs=2, roster=roster)
    return Run(out, report)


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_moodle_csv_is_the_grading_worksheet(graded: Run):
    rows = _csv(graded.out / "moodle.csv")
    assert list(rows[0]) == ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"]
    by_id = {r["Identifier"]: r for r in rows}
    assert sorted(by_id) == ["Participant 101", "Participant 102", "Participant 103", "Participant 105",
                             "eva@example.com"]
    anna = by_id["Participant 101"]
    assert (anna["Full name"], anna["Email address"], anna["Grade"], anna["Maximum Grade"]) == \
        ("Kiss Anna", "anna@example.com", "5.00", "5.00")
    assert by_id["eva@example.com"]["Grade"] == "0.00" and by_id["eva@example.com"]["Maximum Grade"] == "5.00"  # the embedded mode's maximum
    stranger = by_id["Participant 105"]["Feedback comments"]
    assert "<" not in stranger   # Moodle shows comments as HTML: escaped


@pytest.mark.slow
def test_grades_csv_has_roster_columns_missing_rows_and_a_column_per_test(graded: Run):
    rows = _csv(graded.out / "grades.csv")
    by_id = {r["submission"] or r["student_id"]: r for r in rows}
    assert by_id["Kiss_Anna_101"]["student_id"] == "ABC123" and by_id["Kiss_Anna_101"]["score"] == "5"
    assert by_id["Kovács_Áron_102"]["student_id"] == "XYZ789"
    assert by_id["Kovács_Áron_102"]["tests/public/test_public.py::test_answer"] == "0"
    assert by_id["Nagy_Béla_103"]["tests/hidden/test_hidden.py::test_total"] == "1"
    assert by_id["Nagy_Béla_103"]["tests/hidden/test_hidden.py::test_total_tensor"] == ""   # skipped in this mode
    assert by_id["EVA444"]["status"] == "missing" and by_id["EVA444"]["score"] == "0"
    assert by_id["Idegen_Iván_105"]["warning"] == "matches no student of the roster"
    assert by_id["Idegen_Iván_105"]["status"] == "graded" and by_id["Idegen_Iván_105"]["score"] == "4"
    assert [s.id for s in graded.report.roster.missing] == ["EVA444"]


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.slow
def test_feedback_html_escapes_the_students_text_and_hides_hidden_messages(graded: Run):
    page = (graded.out / "Idegen_Iván_105" / "feedback.html").read_text(encoding="utf-8")
    assert HOSTILE_TEXT not in page and "&lt;script&gt;" in page
    parsed = _Text()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert HOSTILE_TEXT in "".join(parsed.text)       # shown to the student, as text
    aron = (graded.out / "Kovács_Áron_102" / "feedback.html").read_text(encoding="utf-8")
    assert "total(x) sums every element" in aron          # a hidden test's name and points ...
    assert "expected a Python float" not in aron          # ... but not its message
    assert "answer() returned &#x27;42&#x27;, expected the int 42" in aron   # a visible test's message
    assert (graded.out / "Kovács_Áron_102" / "feedback.md").is_file()


@pytest.mark.slow
def test_summary_html_and_the_integrity_report(graded: Run):
    page = (graded.out / "summary.html").read_text(encoding="utf-8")
    for part in ("<svg", "Pass rate per test", "Failures grouped by reason", "Slowest submissions", "Integrity",
                 "missing: EVA444 Szabó Éva"):
        assert part in page, part
    assert HOSTILE_TEXT not in page
    flagged = [(p.a, p.b) for p in graded.report.integrity.flagged]
    assert ("Kiss_Anna_101", "Nagy_Béla_103") in flagged      # a renamed copy of the same code
    rows = _csv(graded.out / "integrity.csv")
    assert rows[0]["flagged"] == "yes" and rows[0]["kind"] == "code"


def test_feedback_html_embeds_pictures_and_respects_visibility():
    picture = png_bytes([[0.0, 1.0], [1.0, 0.0]])
    result = SubmissionResult("s1", "demo", "embedded", tests=[
        OneTest(name="reconstructions <b>", nodeid="t.py::a", points=2, score=1, status="partial",
                   visibility="visible", message="BCE 0.2 > 0.1 & <more>", images=[{"title": "x<y", "file": "a-1.png"}]),
        OneTest(name="hidden check", nodeid="t.py::b", points=3, score=0, status="failed", visibility="hidden",
                   message="the secret threshold is 0.123"),
        OneTest(name="after the deadline", nodeid="t.py::c", points=1, score=0, status="failed",
                   visibility="after_due_date", message="later"),
    ], total_points=6)
    page = feedback_html(result, title="Demo & co", images={"a-1.png": picture}, after_due_date=False)
    assert "data:image/png;base64," + base64.b64encode(picture).decode() in page
    assert "reconstructions &lt;b&gt;" in page and "BCE 0.2 &gt; 0.1 &amp; &lt;more&gt;" in page
    assert 'alt="x&lt;y"' in page and "Demo &amp; co" in page
    assert "hidden check" in page and "0 / 3" in page and "0.123" not in page and "later" not in page
    assert "2 hidden test(s) are listed with their points only" in page
    assert "later" in feedback_html(result, title="Demo", images={}, after_due_date=True)


@pytest.mark.slow
def test_pictures_from_the_tests_reach_the_feedback_pages(tmp_path):
    """A test that calls feedback.image(): the PNG lands in <id>/images and inside feedback.html."""
    import shutil
    assignment = tmp_path / "tiny"
    shutil.copytree(TINY, assignment, ignore=shutil.ignore_patterns("__pycache__"))
    spec = assignment / "assignment.yaml"
    spec.write_text(spec.read_text().replace("points: 6", "points: 7"))
    (assignment / "tests" / "public" / "test_picture.py").write_text(
        "import numpy as np\nimport pytest\n\n\n@pytest.mark.points(1)\ndef test_picture(student, feedback):\n"
        "    '''a picture of add(a, b)'''\n"
        "    a = np.linspace(0, 1, 64).reshape(8, 8)\n"
        "    feedback.image('the sum <of> two ramps', np.clip(student.add(a, a) / 2, 0, 1))\n")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "anna.py").write_text(REFERENCE.read_text())
    report = grade_submissions(assignment=assignment, submissions=[subs], out=tmp_path / "out", jobs=1)
    assert report.results[0].score == 6
    pictures = list((tmp_path / "out" / "anna" / "images").glob("*.png"))
    assert len(pictures) == 1
    page = (tmp_path / "out" / "anna" / "feedback.html").read_text()
    assert base64.b64encode(pictures[0].read_bytes()).decode() in page
    assert "the sum &lt;of&gt; two ramps" in page
    assert f"images/{pictures[0].name}" in (tmp_path / "out" / "anna" / "feedback.md").read_text()
