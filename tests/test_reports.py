"""What the reports say, without a browser: the feedback page of a rejected or unloadable
submission, hidden tests that name their part of the task only, moodle.csv's cause of a load
failure, summary.html's grouping and its "suspect the grader" banner, the pictures' labels, and no
install path of the grader anywhere a student or an instructor reads."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from grader.reports.spreadsheets import feedback_comment
from grader.reports.markdown import common_cause, feedback_markdown, heading, note_text, scrub_paths, useful_detail
from grader.core.gradebook_tests import GradebookTest
from grader.records.gradebook import GradebookRow
from grader.reports.html import failure_reason, feedback_html, summary_html
from grader.authoring.pictures import image_rows, line_plot, scatter_plot
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.core.lateness import LATE, Lateness
from grader.core.spec import ManualItem
from grader.records.decisions import Decision, final_score, result_basis
from grader.reports.batch_review import BatchReview
from grader.integrity.similarity import IntegrityReport, SimilarPair

REPO = str(Path(__file__).resolve().parents[1])
KERAS = "your code raised ModuleNotFoundError: No module named 'keras' (at hw.py, line 3) while importing your submission"


def _test(i: int, *, message: str = KERAS, visibility: str = "visible", kind: str = "exception",
          status: str = "failed", detail: str = "") -> OneTest:
    return OneTest(name=f"check {i}", nodeid=f"tests/hidden/test_forecasting.py::test_{i}", points=1.0, score=0.0,
                   status=status, visibility=visibility, message=message, kind=kind, detail=detail)


def _row(sid: str, tests: list[OneTest], *, status: str = "graded", reason: str = "") -> GradebookRow:
    return GradebookRow(submission=sid, status=status, score=sum(t.score for t in tests), max_score=len(tests) or 5.0,
                        reason=reason, duration=1.0, mode="embedded", isolation="bwrap",
                        tests=[GradebookTest.from_result(t) for t in tests])


def test_the_title_names_the_data_graded_not_the_full_data_set():
    assert heading("Autoencoder bottleneck (MNIST: 784 -> 32, 16, 8)") == "Autoencoder bottleneck"
    result = SubmissionResult("anna", "ae", "embedded", tests=[_test(1, status="passed", message="")])
    page = feedback_html(result, title="Autoencoder bottleneck (MNIST: 784 -> 32, 16, 8)", images={},
                         data="scikit-learn's bundled 8x8 digits")
    assert "MNIST" not in page and "embedded</strong>: scikit-learn&#x27;s bundled 8x8 digits" in page


def test_a_rejected_submission_shows_its_reason_and_no_empty_table():
    result = SubmissionResult("dora", "ae", "embedded", status="rejected",
                              reason="dora.py has a syntax error at line 3: expected ':'", total_points=6)
    page = feedback_html(result, title="Demo", images={})
    assert "syntax error at line 3" in page and "No test ran" in page and "<table>" not in page
    assert "No test ran" in feedback_markdown(result, title="Demo") and "| Test |" not in feedback_markdown(
        result, title="Demo")


def test_a_load_failure_is_said_once_with_its_traceback_once():
    tb = f'Traceback (your code, most recent call last):\n  File "{REPO}/grader/boundary/inside/worker.py", line 9'
    tests = [_test(i, visibility="visible" if i < 2 else "hidden", detail=tb) for i in range(5)]
    result = SubmissionResult("kata", "conv", "embedded", tests=tests)
    assert common_cause(result.tests) == KERAS
    page = feedback_html(result, title="Demo", images={})
    assert page.count("No module named &#x27;keras&#x27;") == 1 and page.count("Traceback") == 1
    assert REPO not in page and "grader/boundary/inside/worker.py" in page
    md = feedback_markdown(result, title="Demo")
    assert md.count("No module named 'keras'") == 1 and REPO not in md


def test_a_failed_hidden_test_names_its_part_of_the_task_not_its_message():
    secret = "expected RMSE below 1.93 on the keyed test period"
    result = SubmissionResult("bence", "conv", "embedded", tests=[
        _test(1, message="a visible failure"), _test(2, message=secret, visibility="hidden", kind="credit")])
    for text in (feedback_html(result, title="Demo", images={}), feedback_markdown(result, title="Demo")):
        assert secret not in text
        assert "part: forecasting; a measured quality is below full marks" in text


def test_bare_assert_none_blocks_are_not_shown():
    assert useful_detail("assert None") == "" and useful_detail("assert []") == ""
    assert useful_detail("assert 3 == 4") == "assert 3 == 4"
    result = SubmissionResult("x", "hpo", "embedded", tests=[
        _test(1, message="no analysis found: hand in analysis.md", detail="assert None"), _test(2, message="other")])
    assert "assert None" not in feedback_html(result, title="Demo", images={})
    assert "assert None" not in feedback_markdown(result, title="Demo")


def test_notes_do_not_repeat_themselves_and_hide_install_paths():
    note = 'not run while grading (line 9): `if __name__ == "__main__":` block: if __name__ == "__main__": -- runs only'
    assert note_text(note) == 'not run while grading (line 9): `if __name__ == "__main__":` block -- runs only'
    assert scrub_paths(f"{REPO}/grader/trusted/plugin.py and /opt/venv/lib/python3.11/site-packages/torch/nn.py") == \
        "grader/trusted/plugin.py and torch/nn.py"


def test_moodle_comment_gives_the_cause_of_a_load_failure():
    row = _row("kata", [_test(i, visibility="visible" if i < 2 else "hidden") for i in range(4)])
    comment = feedback_comment(row)
    assert "No module named &#x27;keras&#x27;" in comment and "Every test failed for one reason" in comment
    rejected = _row("dora", [], status="rejected", reason=f"{REPO}/x.py: no such file")
    assert REPO not in feedback_comment(rejected)


def test_summary_groups_by_module_name_once_per_submission_and_a_class_failing_alike_is_not_the_grader():
    rows = [_row(f"s{i:02d}", [_test(j, visibility="visible" if j < 2 else "hidden") for j in range(6)])
            for i in range(14)]
    rows.append(_row("good", [_test(1, status="passed", message="")]))
    page = summary_html(title="Demo (MNIST)", rows=rows, max_points=6.0)
    assert "Suspect the grader" not in page   # students' own load failures say nothing about the grader
    assert "No module named &#x27;keras&#x27;" in page
    assert '<td class="num">14</td>' in page and page.count("(every test)") == 1
    assert failure_reason(KERAS) == "your code raised ModuleNotFoundError: No module named 'keras' (at <file>, line #) " \
                                    "while importing your submission"


def test_a_batch_of_different_failures_raises_no_banner():
    rows = [_row(f"s{i}", [_test(1, message=f"answer() returned {i}, expected the int 42"), _test(2, message="x")])
            for i in range(6)]
    assert "Suspect the grader" not in summary_html(title="Demo", rows=rows, max_points=2.0)


def _summary_row(page: str, section: str, first_cell: str) -> list[str]:
    """The cells (tags removed) of the table row in `section` of a summary page whose first cell is `first_cell`."""
    part = page.split(f"<h2>{section}", 1)[1].split("<h2>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", part, flags=re.S):
        cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if cells and " ".join(cells[0]) == first_cell:
            return [" ".join(c) for c in cells]
    raise AssertionError(f"no row {first_cell!r} in {section!r}")


def test_the_summary_shows_each_score_after_review_late_days_review_state_and_pair_verdicts():
    rubric = [ManualItem(id="analysis", points=2.0, description="the analysis")]
    passed, failed = _test(1, status="passed", message=""), _test(2, message="answer() returned '42'")
    passed.score = 1.0
    rows = [_row("anna", [passed, failed]), _row("bela", [passed, passed]), _row("carl", [failed, failed]),
            _row("dora", [passed, passed])]
    rows[1].late = Lateness(deadline="2026-11-01T23:59:00+01:00", handed_in="2026-11-03T10:00:00+01:00",
                            source="commit date", late_days=2, verdict=LATE, penalty_per_day=0.1).to_json()
    t2 = failed.nodeid

    def decided(sid, kind, target, points=None, verdict=None, who="Dr. Review", basis=None):
        return Decision(None, sid, kind, target, points, verdict, "a reason", "", who, "2026-11-05T10:00:00+00:00",
                        basis)
    decisions = {"anna": [decided("anna", "adjust", t2, 1.0, basis=result_basis(rows[0], t2)),
                          decided("anna", "rubric", "analysis", 1.5)],
                 "carl": [decided("carl", "adjust", t2, 1.0, basis="made-against-an-older-result")]}
    review = BatchReview(finals={r.submission: final_score(r, decisions.get(r.submission, []), rubric) for r in rows},
                         reviewed={"anna", "bela"},
                         verdicts={("anna", "bela"): decided("anna", "integrity", "bela", verdict="confirmed"),
                                   ("carl", "dora"): decided("carl", "integrity", "dora", verdict="cleared",
                                                             who="Dr. Second")})
    integrity = IntegrityReport(pairs=[SimilarPair("code", "anna", "bela", 0.97, 40),
                                       SimilarPair("code", "carl", "dora", 0.91, 33),
                                       SimilarPair("code", "bela", "dora", 0.88, 30)], threshold=0.8)
    page = summary_html(title="Demo", rows=rows, max_points=2.0, integrity=integrity, review=review)

    section = "Scores after review"
    # anna: 1 automatic, her second test adjusted to 1, 1.5 of the 2 rubric points, marked reviewed
    assert _summary_row(page, section, "anna") == ["anna", "1", "3.5 / 4", "", "reviewed"]
    # bela: marked reviewed, her rubric item still without points; 2 days late at 10 % of 4 points a day
    assert _summary_row(page, section, "bela") == [
        "bela", "2", "1.2 / 4", "2 started day(s) late: -0.8 points", "reviewed rubric awaiting: analysis"]
    # carl: his adjustment was made against an older automatic result, so it is not applied
    assert _summary_row(page, section, "carl") == ["carl", "0", "0 / 4", "", "needs re-review rubric awaiting: analysis"]
    assert _summary_row(page, section, "dora")[2:] == ["2 / 4", "", "awaiting review rubric awaiting: analysis"]
    assert "2 of 4" in page and "mean score after review" in page

    pairs = "Integrity: 3 flagged pair(s)"
    assert _summary_row(page, pairs, "anna bela")[-1] == "confirmed (by Dr. Review)"
    assert _summary_row(page, pairs, "carl dora")[-1] == "cleared (by Dr. Second)"
    assert _summary_row(page, pairs, "bela dora")[-1] == "open"
    assert "1 confirmed, 1 cleared" in page


def test_pictures_are_labelled_and_readable():
    """Plots are drawn at 640 px with axes and a legend; the image grid has a label column."""
    plot = line_plot({"k = 32": [0.3, 0.2, 0.15], "k = 8": [0.4, 0.35, 0.33]}, xlabel="epoch", ylabel="BCE")
    assert plot.shape == (340, 640, 3) and plot.dtype == np.uint8
    unlabelled = line_plot({"k = 32": [0.3, 0.2, 0.15]}, xlabel="", ylabel="")
    assert not np.array_equal(plot, unlabelled)   # axis labels and the legend are drawn
    rows = image_rows([("original", np.zeros((10, 8, 8))), ("k = 32", np.ones((10, 8, 8)))], columns=10)
    no_labels = image_rows([("", np.zeros((10, 8, 8))), ("", np.ones((10, 8, 8)))], columns=10)
    assert rows.shape == no_labels.shape
    left = slice(0, 100)   # the label column: text only where there are labels
    assert (rows[:, left] < 128).any() and not (no_labels[:, left] < 128).any()
    scatter = scatter_plot({"trials": ([1e3, 1e4, 1e5], [80, 85, 90])}, xlabel="parameters", ylabel="%", logx=True,
                           diagonal="")
    assert scatter.shape == (340, 640, 3)
