"""The files between the command and its trusted pytest process (grader.core.contracts): what one side
writes the other reads back unchanged, and a spoiled file is a clear grader's error naming the field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.core.contracts import ContractError, Report, RunFile, TestRecord
from grader.core.errors import GraderError
from grader.core.results import TestStatus
from grader.core.spec import load_spec
from grader.core.vocabulary import TestKind, Visibility
from grader.trusted.artifacts import Artifacts

ASSIGNMENT = Path(__file__).resolve().parent.parent / "assignments" / "ae_bottleneck"


def _run_file(tmp_path: Path) -> RunFile:
    return RunFile(assignment=ASSIGNMENT, spec=load_spec(ASSIGNMENT), mode="embedded", report=tmp_path / "report.json",
                   data_dir=tmp_path, course_key="ab" * 32, workspace=tmp_path / "ws", cell_starts=[[3, 10]],
                   isolation={"level": "off"}, threads=2)


def _record(**changes) -> dict:
    record = TestRecord(nodeid="tests/public/test_a.py::test_shape", name="shape", points=2.0,
                        visibility=Visibility.VISIBLE, status=TestStatus.PARTIAL, kind=TestKind.CREDIT, fraction=0.5,
                        score=1.0, metrics={"loss": 0.25})
    return {**json.loads(json.dumps(record.to_json())), **changes}


def test_the_run_file_reads_back_as_written(tmp_path):
    run = _run_file(tmp_path)
    back = RunFile.from_json(json.loads(json.dumps(run.to_json())))
    assert back.to_json() == run.to_json()
    assert back.spec.name == "ae_bottleneck" and back.data_dir == tmp_path and back.threads == 2
    assert not back.preparing


def test_a_report_reads_back_into_the_results_the_command_grades(tmp_path):
    report = Report.from_json(json.loads(json.dumps(Report(tests=[TestRecord.from_json(_record())],
                                                           grader_errors=["x"], worker_restarts=1).to_json())))
    [result] = [t.to_result() for t in report.tests]
    assert (result.status, result.kind, result.visibility, result.score) == ("partial", "credit", "visible", 1.0)
    assert report.grader_errors == ["x"] and report.worker_restarts == 1


@pytest.mark.parametrize("changes, named", [
    ({"points": "2"}, "tests[0].points: expected float, got str '2'"),
    ({"kind": "oops"}, "tests[0].kind: 'oops' is not a TestKind"),
    ({"status": "won"}, "tests[0].status: 'won' is not a TestStatus"),
    ({"visibility": "public"}, "tests[0].visibility: 'public' is not a Visibility"),
    ({"other_mode": 1}, "tests[0].other_mode: expected bool, got int 1"),
    ({"notes": ["ok", 3]}, "tests[0].notes[1]: expected str, got int 3"),
    ({"surprise": True}, "tests[0]: unknown field 'surprise'"),
    ({"version": 0}, "tests[0]: version 0, this grader reads version 1"),
])
def test_a_spoiled_report_names_the_field_as_the_graders_error(changes, named):
    with pytest.raises(ContractError) as caught:
        Report.from_json({"version": 1, "tests": [_record(**changes)]}, where="report.json")
    assert isinstance(caught.value, GraderError)  # never a student's zero
    assert f"report.json.{named}" in str(caught.value)


def test_a_missing_field_is_named_not_a_key_error(tmp_path):
    data = _run_file(tmp_path).to_json()
    del data["mode"]
    with pytest.raises(ContractError, match=r"run.json: the field 'mode' is missing"):
        RunFile.from_json(data, where="run.json")
    with pytest.raises(ContractError, match=r"run.json.threads: expected int, got bool True"):
        RunFile.from_json({**_run_file(tmp_path).to_json(), "threads": True}, where="run.json")


def test_artifacts_without_a_submission_folder_say_so_in_the_students_terms():
    with pytest.raises(AssertionError, match="hpo_log.jsonl: not a file of your submission"):
        Artifacts(None).read_bytes("hpo_log.jsonl")
