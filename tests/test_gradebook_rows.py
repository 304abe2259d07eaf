"""A gradebook row's tests are typed values, read the same from any gradebook a toolkit ever wrote:
a row graded today, a row stored before the tests had a contract (the decisions made against it still
apply), and a row spoiled on disk, which is named (file, submission, field) instead of breaking a report
with a KeyError or scoring a student wrongly. No grading runs here: rows are written directly."""
from __future__ import annotations

import hashlib
import json

import pytest

from grader.core.errors import ToolkitError
from grader.core.gradebook_tests import GradebookTest
from grader.core.results import SubmissionResult, TestStatus
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.core.vocabulary import TestKind, Visibility
from grader.records.decisions import Decision, final_score
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook, row_from_result
from grader.reports.spreadsheets import feedback_comment, write_grades_csv

NODE_A, NODE_B = "tests/public/test_api.py::test_shape", "tests/hidden/test_fit.py::test_loss"


def _graded() -> SubmissionResult:
    tests = [OneTest(name="output shape", nodeid=NODE_A, points=2.0, score=0.0, status=TestStatus.FAILED,
                        visibility=Visibility.VISIBLE, kind=TestKind.ASSERTION,
                        message="expected (8, 10), got (8, 12)\nfull comparison follows", detail="assert ..."),
             OneTest(name="loss falls", nodeid=NODE_B, points=3.0, score=3.0, status=TestStatus.PASSED,
                        visibility=Visibility.HIDDEN)]
    return SubmissionResult("anna", "ae", "embedded", tests=tests)


def _store_tests(path, submission: str, tests_json: str) -> None:
    """A row whose tests column holds `tests_json` as it is, as an older toolkit or a damaged disk left it."""
    with Gradebook(path) as book:
        book.record(row_from_result(_graded(), grader_version="v", content_hash="h"))
        book.db.execute("UPDATE submissions SET submission = ?, tests = ?", (submission, tests_json))


def test_a_graded_row_comes_back_as_typed_tests_with_the_messages_first_line(tmp_path):
    path = tmp_path / GRADEBOOK_FILE
    with Gradebook(path) as book:
        book.record(row_from_result(_graded(), grader_version="v", content_hash="h"))
        stored = json.loads(book.db.execute("SELECT tests FROM submissions").fetchone()[0])
        row = book.get("anna")
    assert [t["version"] for t in stored] == [1, 1]
    assert row.tests == [GradebookTest(NODE_A, "output shape", 2.0, 0.0, TestStatus.FAILED, TestKind.ASSERTION,
                                       Visibility.VISIBLE, "expected (8, 10), got (8, 12)"),
                         GradebookTest(NODE_B, "loss falls", 3.0, 3.0, TestStatus.PASSED, TestKind.NONE,
                                       Visibility.HIDDEN, "")]
    assert "Not fully passed: output shape." in feedback_comment(row)


# the oldest form a toolkit stored: no version, and neither kind, visibility nor message
OLDEST = [{"nodeid": NODE_A, "name": "output shape", "points": 2.0, "score": 0.0, "status": "failed"},
          {"nodeid": NODE_B, "name": "loss falls", "points": 3.0, "score": 3.0, "status": "passed"}]


def test_a_row_stored_before_the_contract_reads_and_keeps_its_reviewers_adjustment(tmp_path):
    path = tmp_path / GRADEBOOK_FILE
    _store_tests(path, "old", json.dumps(OLDEST))
    # the digest an adjustment recorded then carries: the stored values, message "" when there was none
    basis = hashlib.sha256(json.dumps([2.0, 0.0, "failed", ""]).encode()).hexdigest()[:16]
    adjusted = Decision(1, "old", "adjust", NODE_A, 2.0, None, "shape was fine", "", "me", "2026-01-01", basis)
    with Gradebook(path) as book:
        [row] = book.rows()
    assert [(t.kind, t.visibility, t.message) for t in row.tests] == [(TestKind.NONE, Visibility.VISIBLE, "")] * 2
    final = final_score(row, [adjusted], [])
    assert (final.score, final.needs_rereview) == (5.0, [])
    write_grades_csv(tmp_path / "grades.csv", [row], finals={"old": final})
    grades = (tmp_path / "grades.csv").read_text().splitlines()
    assert grades[1].split(",")[4:6] == ["5", "5"] and grades[1].endswith(",2,3")


@pytest.mark.parametrize("tests_json, names", [
    ("[{\"nodeid\": ", "Expecting value"),
    ('{"nodeid": "x"}', "tests: expected a list"),
    (json.dumps([OLDEST[0], {**OLDEST[1], "points": "three"}]), r"tests\[1\]\.points: expected float, got str 'three'"),
    (json.dumps([{**OLDEST[0], "status": "great"}]), r"tests\[0\]\.status: 'great' is not a TestStatus"),
    (json.dumps([{k: v for k, v in OLDEST[0].items() if k != "nodeid"}]), r"tests\[0\]: the field 'nodeid' is missing"),
    (json.dumps([{**OLDEST[0], "version": 7}]), r"tests\[0\]: version 7"),
])
def test_a_spoiled_row_is_named_by_file_submission_and_field(tmp_path, tests_json, names):
    path = tmp_path / GRADEBOOK_FILE
    _store_tests(path, "bence", tests_json)
    with Gradebook(path) as book, pytest.raises(ToolkitError, match=names) as raised:
        book.rows()
    assert str(path) in str(raised.value) and "'bence'" in str(raised.value)
