"""A student's values cannot pass for the grader's failure, and the grader's failure is never a student's
zero: numbers from a worker's reply or a handed-in log are bounded at the boundary (64-bit integers,
finite floats) with a message that names the value; pictures draw what is finite and say what they
left out; an exception in a test that is neither the student's nor the grader's by type is settled by
the reference solution (the control); and "suspect the grader" counts only the grader's failures."""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

import grader.commands.grade as grade_module
from grader.authoring.pictures import line_plot, scatter_plot
from grader.authoring.trial_log import read_trial_log
from grader.boundary.client import WorkerSession
from grader.core.assignments import find_assignment
from grader.core.errors import INTERNAL_ERROR, BadReply
from grader.core.gradebook_tests import GradebookTest
from grader.core.results import SubmissionResult, TestStatus
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.core.vocabulary import TestKind
from grader.grading.control import ControlCache
from grader.grading.runner import RunOptions, grade_submission
from grader.records.gradebook import GradebookRow
from grader.reports.html import summary_html
from test_engine_integrity import write_assignment
from tiny_batch import TINY

# --- the trial log: NaN, infinity, 1e400 and 10**400 in any field of any record --------------------

HEADER = {"type": "header", "method": "random", "dataset": "digits", "max_epochs": 3, "n_val": 300}
TRIAL = {"type": "trial", "trial": 0, "config": {"lr": 0.001, "width": 32}, "seed": 7, "params": 1000,
         "val_accuracy": 0.5, "train_seconds": 1.5, "epochs": 3, "status": "complete"}
HOSTILE = {"NaN": "NaN", "Infinity": "-Infinity", "1e400": "1e400", "10**400": str(10 ** 400),
           "2**63": str(2 ** 63), "9.3e18": "9300000000000000000"}


def _line(record: dict, field: str | None = None, literal: str = "", in_config: bool = False) -> str:
    text = json.dumps(record)
    if field is None:
        return text
    marker = '"@@"'
    record = json.loads(text)
    (record["config"] if in_config else record)[field] = "@@"
    return json.dumps(record).replace(marker, literal)


def _bounded(v) -> bool:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return True
    if isinstance(v, int):
        return -(2 ** 63) <= v < 2 ** 63
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (list, tuple)):
        return all(_bounded(x) for x in v)
    if isinstance(v, dict):
        return all(_bounded(x) for x in v.values())
    return False


NOT_FINITE = ("NaN", "Infinity", "1e400", "10**400")   # 2**63 seconds is a (finite) float: absurd, not unbounded
CASES = ([("header", f, n) for f in ("max_epochs", "n_val") for n in HOSTILE]
         + [("trial", f, n) for f in ("seed", "params", "val_accuracy", "epochs") for n in HOSTILE]
         + [("trial", "train_seconds", n) for n in NOT_FINITE]
         + [("config", "lr", n) for n in HOSTILE])


@pytest.mark.parametrize("where, field, value", CASES)
def test_a_hostile_number_in_any_field_is_a_named_error_and_never_reaches_the_tests(where, field, value):
    literal = HOSTILE[value]
    header = _line(HEADER, field, literal) if where == "header" else _line(HEADER)
    trial = _line(TRIAL, field, literal, in_config=where == "config") if where != "header" else _line(TRIAL)
    got_header, trials, errors = read_trial_log(header + "\n" + trial + "\n")
    assert _bounded(got_header) and all(_bounded(t) for t in trials), (got_header, trials)
    assert any(field in e for e in errors), errors
    shown = {"10**400": "10**400", "9.3e18": "9.3e+18", "2**63": "9.2e+18"}.get(value, value)
    assert any(shown in e for e in errors), errors


def test_a_seed_past_64_bits_says_so_in_the_students_terms():
    _, trials, errors = read_trial_log(_line(HEADER) + "\n" + _line(TRIAL, "seed", "9300000000000000000") + "\n")
    assert errors == ["line 2: seed is 9.3e+18, outside the range of a 64-bit seed"]
    assert trials[0]["seed"] is None


# --- pictures --------------------------------------------------------------------------------------

def test_a_picture_draws_what_is_finite_and_leaves_out_the_rest():
    with_huge = line_plot({"loss": [1.0, 1e308, 2.0]}, logy=True)
    with_nan = line_plot({"loss": [1.0, float("nan"), 2.0]}, logy=True)
    finite = line_plot({"loss": [1.0, 1.5, 2.0]}, logy=True)
    assert with_huge.shape == finite.shape == (340, 640, 3)
    assert np.array_equal(with_huge, with_nan)   # 1e308 is left out like NaN, and the legend says one was
    assert not np.array_equal(with_huge, finite)
    line_plot({"loss": [-1e308, 1e308, 10 ** 400]}, marks={"measured": (1, 1e308)})  # nothing to draw: no crash
    scatter_plot({"trials": ([1, 1e308, float("inf")], [0.5, 0.6, float("nan")])}, xlabel="params", ylabel="%",
                  diagonal="y = x", logx=True)


# --- a worker's reply ------------------------------------------------------------------------------

def test_a_reply_holding_an_integer_past_64_bits_is_the_students_bad_value(tmp_path):
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    (pristine / "submission.py").write_text("def log():\n    return [{'epoch': 1, 'loss': 10 ** 400}]\n")
    with WorkerSession(pristine, find_assignment(TINY).limits, module_file="submission.py",
                       scratch=tmp_path / "workers") as session:
        with pytest.raises(BadReply) as caught:
            session.module.log()
    assert caught.value.kind == "protocol"
    assert "(401 digits, about 10**400), outside the range of a 64-bit integer" in caught.value.student_message


# --- graded end to end: a crafted submission with hostile values ------------------------------------

VALUES_TESTS = '''\
import numpy as np
import pytest

from grader.authoring.checks import expect_log
from grader.authoring.pictures import line_plot
from grader.authoring.trial_log import read_trial_log


@pytest.mark.points(1)
def test_log(student):
    log = expect_log(student.log(), name="log()", keys=("epoch", "loss"))
    assert log[0]["loss"] < 10, "the loss is too high"


@pytest.mark.points(1)
def test_curve(student, feedback):
    feedback.image("your loss", line_plot({"loss": [r["loss"] for r in student.curve()]}, logy=True))


@pytest.mark.points(1)
def test_rerun_with_the_logged_seed(student):
    np.random.seed(student.seed())   # numpy refuses seeds past 2**32: the test meets an exception of no one's type
    assert student.answer() == 42


@pytest.mark.points(1)
def test_trial_log(artifacts):
    header, trials, errors = read_trial_log(artifacts.read_text("hpo_log.jsonl"))
    assert not errors, "; ".join(errors)
'''

HONEST = '''\
def log():
    return [{"epoch": 1, "loss": 0.5}]


def curve():
    return [{"loss": 0.5}, {"loss": 0.25}]


def seed():
    return 7


def answer():
    return 42
'''

HOSTILE_SUBMISSION = '''\
def log():
    return [{"epoch": 1, "loss": 10 ** 400}]


def curve():
    return [{"loss": 1e308}, {"loss": float("nan")}, {"loss": 0.5}]


def seed():
    return 2 ** 63 - 1


def answer():
    return 42
'''


def _assignment(root: Path, name: str, tests: str, reference: str) -> Path:
    folder = write_assignment(root / "assignments", name, points=4, tests={"hidden/test_values.py": tests})
    (root / "reference_solutions" / name).mkdir(parents=True)
    (root / "reference_solutions" / name / f"{name}.py").write_text(reference)
    return folder


@pytest.mark.slow
def test_hostile_values_are_the_students_failures_and_the_row_is_graded(tmp_path):
    folder = _assignment(tmp_path, "values", VALUES_TESTS, HONEST)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "values.py").write_text(HOSTILE_SUBMISSION)
    (sub / "hpo_log.jsonl").write_text(_line(HEADER, "n_val", "NaN") + "\n" + _line(TRIAL, "seed", str(10 ** 400)) + "\n")
    result = grade_submission(find_assignment(folder), sub, RunOptions())
    assert result.status == "graded", result.reason
    kinds = {t.nodeid.split("::")[-1]: (t.status, t.kind) for t in result.tests}
    assert kinds == {"test_log": ("failed", "protocol"), "test_curve": ("passed", ""),
                     "test_rerun_with_the_logged_seed": ("failed", "unevaluable"),
                     "test_trial_log": ("failed", "assertion")}, kinds
    rerun = next(t for t in result.tests if t.kind == "unevaluable")
    assert rerun.message.startswith("the grader could not evaluate your submission: ValueError")
    assert "the reference solution passes this test" in rerun.message
    assert result.score == 1.0


BROKEN_TESTS = '''\
import pytest


@pytest.mark.points(1)
def test_answer(student):
    assert student.answer() == 42


@pytest.mark.points(1)
def test_broken_by_its_author(student):
    student.answer()
    int("forty-two")   # the test's own bug: the reference fails it the same way
'''


@pytest.mark.slow
def test_an_exception_the_reference_reproduces_is_the_graders(tmp_path):
    folder = _assignment(tmp_path, "broken", BROKEN_TESTS, "def answer():\n    return 42\n")
    sub = tmp_path / "sub.py"
    sub.write_text("def answer():\n    return 42\n")
    result = grade_submission(find_assignment(folder), sub, RunOptions())
    assert result.status == "error" and result.reason.startswith(INTERNAL_ERROR), result.reason
    broken = next(t for t in result.tests if t.nodeid.endswith("test_broken_by_its_author"))
    assert broken.kind == "grader-error"
    assert "the reference solution fails it the same way" in broken.message and "not because of your submission" in broken.message


def test_one_control_per_test_for_the_whole_batch():
    """Twelve submissions meeting the same test's exception at once: the reference runs it once."""
    cache, runs = ControlCache(), []

    def run(nodeids):
        runs.append(list(nodeids))
        return {n: OneTest(name="t", nodeid=n, points=1, score=1, status="passed", visibility="visible")
                for n in nodeids}

    threads = [threading.Thread(target=cache.outcomes, args=(("tiny",), ["t::a", "t::b"], run)) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == [["t::a", "t::b"]]
    assert not cache.outcomes(("tiny",), ["t::a"], run)["t::a"].reproduced and len(runs) == 1


# --- suspect the grader: only the grader's failures count ------------------------------------------

def _row(sid: str, *, status: str = "graded", kind: str = "missing", reason: str = "") -> GradebookRow:
    message = "expected `answer() -> int`, not found in your submission"
    tests = [GradebookTest(nodeid=f"tests/public/test_public.py::test_{i}", name=f"check {i}", points=1.0, score=0.0,
                           status=TestStatus.FAILED, kind=TestKind(kind), message=message) for i in range(3)]
    return GradebookRow(submission=sid, status=status, score=0.0, max_score=3.0, reason=reason or message,
                        tests=tests if status == "graded" else [], duration=1.0, mode="embedded", isolation="bwrap")


def test_a_class_that_did_not_define_the_api_does_not_make_the_grader_suspect():
    rows = [_row(f"s{i}") for i in range(4)] + [_row(f"ok{i}", kind="") for i in range(2)]
    assert "Suspect the grader" not in summary_html(title="Demo", rows=rows, max_points=3.0)
    broken = [_row(f"s{i}", status="error", reason=f"{INTERNAL_ERROR}: no worker can start here") for i in range(4)]
    assert "Suspect the grader" in summary_html(title="Demo", rows=broken + rows[4:], max_points=3.0)


def test_three_alike_student_failures_do_not_stop_a_batch():
    alike = [SubmissionResult(f"s{i}", "tiny", "embedded", reason="3 of 3 tests not fully passed; first: answer: "
                              "expected `answer() -> int`, not found in your submission") for i in range(3)]
    grade_module._stop_if_the_grader_is_broken(alike)   # no GraderSuspect
