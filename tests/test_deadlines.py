"""Deadlines and late work: the spec's keys, the late policy's arithmetic, the roster's extensions and
Moodle's grading worksheet as the source of hand-in times."""
from __future__ import annotations

import csv
import shutil
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import grader.commands.grade as grade_module
from grader.core.errors import SpecError, ToolkitError
from grader.core.lateness import Lateness, apply_late_policy
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.core.spec import load_spec
from grader.grading.backends import Graded
from grader.intake.deadlines import due_for, judge
from grader.intake.submission_times import read_worksheet
from grader.records.roster import read_roster
from tiny_batch import TINY

DEADLINE = "2026-03-15T23:59:00+01:00"
CET = timezone(timedelta(hours=1))


def tiny_with(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "spec" / "tiny"
    shutil.copytree(TINY, folder)
    with open(folder / "assignment.yaml", "a", encoding="utf-8") as f:
        f.write(extra)
    return folder


# --- the spec ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ('deadline: "2026-03-15T23:59:00"\n', r"deadline: '2026-03-15T23:59:00' has no time zone; add one"),
    ('deadline: "next friday"\n', r"deadline: 'next friday' is not an ISO 8601 date and time"),
    ("late_policy: {penalty_per_started_day: 0.1}\n", r"late_policy: needs a deadline"),
    (f'deadline: "{DEADLINE}"\nlate_policy: {{penalty_per_started_day: 0.1, penalty_unit: percent}}\n',
     r"late_policy.penalty_unit: expected 'fraction' or 'points', got 'percent'"),
    (f'deadline: "{DEADLINE}"\nlate_policy: {{penalty_per_started_day: 10}}\n',
     r"penalty_per_started_day: 10 is more than the whole scale"),
    (f'deadline: "{DEADLINE}"\nlate_policy: {{grace: 15}}\n', r"late_policy: unknown key 'grace'; allowed: grace_minutes"),
    (f'deadline: "{DEADLINE}"\nlate_policy: {{last_day: -3}}\n', r"late_policy.last_day: -1 \(no last day\)"),
])
def test_a_bad_deadline_key_is_a_spec_error_naming_the_key(tmp_path, extra, message):
    with pytest.raises(SpecError, match=message) as caught:
        load_spec(tiny_with(tmp_path, extra))
    assert "assignment.yaml" in str(caught.value)


def test_the_spec_keeps_the_deadline_and_policy(tmp_path):
    spec = load_spec(tiny_with(tmp_path, f'deadline: "{DEADLINE}"\n'
                                         "late_policy: {grace_minutes: 15, penalty_per_started_day: 2, "
                                         "penalty_unit: points, last_day: 3}\n"))
    assert spec.deadline == DEADLINE and spec.late_policy.penalty_unit == "points"
    due = due_for(spec)
    assert due.at == datetime(2026, 3, 15, 23, 59, tzinfo=CET)
    assert due.accepted_until == datetime(2026, 3, 18, 23, 59, tzinfo=CET)


# --- the policy --------------------------------------------------------------------------------------

@pytest.fixture
def late_spec(tmp_path):
    return load_spec(tiny_with(tmp_path, f'deadline: "{DEADLINE}"\n'
                                         "late_policy: {grace_minutes: 15, penalty_per_started_day: 0.1, last_day: 3}\n"))


@pytest.fixture
def due(late_spec):
    return due_for(late_spec)


@pytest.mark.parametrize("after_deadline, days, verdict, score", [
    (timedelta(minutes=-5), 0, "on time", 8.0),
    (timedelta(minutes=15), 0, "on time", 8.0),            # the grace period
    (timedelta(minutes=16), 1, "late", 7.0),               # a started day: 10 % of the scale of 10
    (timedelta(days=1), 1, "late", 7.0),
    (timedelta(days=1, seconds=1), 2, "late", 6.0),
    (timedelta(days=3), 3, "late", 5.0),                   # the last day
    (timedelta(days=3, minutes=1), 4, "not accepted", 0.0),
])
def test_the_late_policy_counts_started_days_after_the_grace(due, after_deadline, days, verdict, score):
    late = judge(due, due.at + after_deadline, source="test")
    assert (late.late_days, late.verdict) == (days, verdict)
    assert apply_late_policy(8.0, 10.0, late)[0] == score


def test_a_penalty_never_takes_the_score_below_zero_and_says_what_it_took():
    late = Lateness(deadline=DEADLINE, handed_in="x", late_days=3, verdict="late", penalty_per_day=2,
                    penalty_unit="points")
    assert apply_late_policy(10.0, 20.0, late) == (4.0, "3 started day(s) late: -6 points")
    assert apply_late_policy(4.0, 20.0, late) == (0.0, "3 started day(s) late: -4 points")
    not_accepted = Lateness(deadline=DEADLINE, late_days=5, verdict="not accepted")
    assert apply_late_policy(10.0, 20.0, not_accepted)[0] == 0.0
    assert "not accepted" in apply_late_policy(10.0, 20.0, not_accepted)[1]


def test_an_unknown_hand_in_time_costs_nothing(due):
    late = judge(due, None, source="")
    assert late.verdict == "unknown" and apply_late_policy(8.0, 10.0, late) == (8.0, "")
    assert "no late penalty applied" in late.describe()


# --- the roster --------------------------------------------------------------------------------------

def test_the_roster_gives_extensions_and_own_deadlines(tmp_path, late_spec):
    roster = tmp_path / "roster.csv"
    roster.write_text("neptun;name;extension_days;deadline\n"
                      "ABC123;Ann;2;\n"
                      "DEF456;Dan;;2026-04-01T12:00:00+02:00\n"
                      "GHI789;Gil;;\n")
    rows = {r.id: r for r in read_roster(roster)}
    assert rows["ABC123"].extension_days == 2 and rows["GHI789"].extension_days == 0
    def due(row):
        return due_for(late_spec, extension_days=row.extension_days, own_deadline=row.deadline)
    handed_in = datetime(2026, 3, 17, 12, 0, tzinfo=CET)   # a day and 12 hours after the spec's deadline
    ann, dan, gil = (judge(due(rows[i]), handed_in, source="test") for i in ("ABC123", "DEF456", "GHI789"))
    assert ann.verdict == "on time" and ann.deadline == "2026-03-17T23:59:00+01:00"
    assert dan.verdict == "on time" and dan.deadline == "2026-04-01T12:00:00+02:00"
    assert gil.verdict == "late" and gil.late_days == 2
    assert due_for(load_spec(TINY), extension_days=2) is None   # no deadline in the spec: an extension of nothing


@pytest.mark.parametrize("cells, message", [
    ("x1,two days", r"roster.csv, line 2: extension 'two days' is not a number of days"),
    ("x1,-1", r"roster.csv, line 2: extension '-1' must be a number of days, 0 or more"),
])
def test_a_bad_extension_names_the_roster_line(tmp_path, cells, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"id,extension\n{cells}\n")
    with pytest.raises(ToolkitError, match=message):
        read_roster(roster)


def test_a_roster_deadline_without_a_zone_names_the_line(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,deadline\nx1,2026-04-01 12:00\n")
    with pytest.raises(ToolkitError, match=r"roster.csv, line 2, deadline: '2026-04-01 12:00' has no time zone"):
        read_roster(roster)


# --- Moodle's grading worksheet ----------------------------------------------------------------------

WORKSHEET = ('Identifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",'
             '"Last modified (submission)","Last modified (grade)","Feedback comments"\n'
             '"Participant 101","Ann Apple",ann@example.org,"Submitted for grading",,5.00,Yes,'
             '"Sunday, 15 March 2026, 11:40 PM",-,\n'
             '"Participant 102","Bo Berry",bo@example.org,"Submitted for grading",,5.00,Yes,'
             '"Tuesday, 17 March 2026, 9:05 AM",-,\n'
             '"Participant 103","Cy Cole",cy@example.org,"No submission",,5.00,Yes,-,-,\n')


def test_the_worksheet_times_are_read_in_the_deadlines_zone(tmp_path):
    path = tmp_path / "worksheet.csv"
    path.write_text(WORKSHEET)
    times = read_worksheet(path, zone=CET)
    assert times.time_for(participant="101") == datetime(2026, 3, 15, 23, 40, tzinfo=CET)
    assert times.time_for(name="berry bo") == datetime(2026, 3, 17, 9, 5, tzinfo=CET)
    assert times.time_for(participant="103", email="cy@example.org") is None


def test_a_file_that_is_not_a_worksheet_says_which_columns_it_needs(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("submission,score\nx,1\n")
    with pytest.raises(ToolkitError, match=r"not a Moodle grading worksheet: it needs the column "
                                           r"'Last modified \(submission\)'"):
        read_worksheet(path, zone=CET)
    path.write_text(WORKSHEET.replace("Sunday, 15 March 2026, 11:40 PM", "yesterday"))
    with pytest.raises(ToolkitError, match=r"worksheet.csv, line 2: 'Last modified \(submission\)' is 'yesterday'"):
        read_worksheet(path.rename(tmp_path / "worksheet.csv"), zone=CET)


class _Backend:
    def submit(self, task) -> Future:
        test = OneTest(name="answer", nodeid="tests/public/test_public.py::test_answer", points=5.0, score=5.0,
                       status="passed", visibility="visible")
        future = Future()
        future.set_result(Graded(SubmissionResult(task.submission.id, "tiny", "embedded", tests=[test], total_points=5.0)))
        return future

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_moodle_export_takes_its_hand_in_times_from_the_worksheet(tmp_path, monkeypatch):
    monkeypatch.setattr(grade_module, "make_backend", lambda name, **kw: _Backend())
    monkeypatch.setattr(grade_module, "prepare", lambda spec, options: options)
    spec = tiny_with(tmp_path, f'deadline: "{DEADLINE}"\n'
                               "late_policy: {grace_minutes: 15, penalty_per_started_day: 0.1, last_day: 3}\n")
    export = tmp_path / "export"
    for name, participant in (("Ann Apple", 101), ("Bo Berry", 102)):
        folder = export / f"{name}_{participant}_assignsubmission_file_"
        folder.mkdir(parents=True)
        (folder / "tiny.py").write_text("def answer():\n    return 42\n")
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    report = grade_module.grade_submissions(assignment=spec, submissions=[export], out=tmp_path / "out", jobs=1,
                                            submission_times=worksheet)
    by_id = {r.submission: r for r in report.results}
    assert by_id["Ann_Apple_101"].late["verdict"] == "on time"
    assert by_id["Ann_Apple_101"].late["source"] == "Moodle worksheet"
    bo = by_id["Bo_Berry_102"].late
    assert (bo["late_days"], bo["handed_in"]) == (2, "2026-03-17T09:05:00+01:00")
    with open(tmp_path / "out" / "moodle.csv", newline="", encoding="utf-8") as f:
        moodle = {r["Identifier"]: r for r in csv.DictReader(f)}
    assert moodle["Participant 102"]["Grade"] == "4.00"          # 5 less 2 days of 10 % of 5
    assert moodle["Participant 101"]["Grade"] == "5.00"
    assert "2 started days late" in (tmp_path / "out" / "Bo_Berry_102" / "feedback.md").read_text()


def test_submission_times_need_a_deadline_in_the_spec(tmp_path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET)
    with pytest.raises(ToolkitError, match=r"--submission-times: the spec 'tiny' has no deadline"):
        grade_module.grade_submissions(assignment=TINY, submissions=[tmp_path], out=tmp_path / "out",
                                       submission_times=worksheet)
