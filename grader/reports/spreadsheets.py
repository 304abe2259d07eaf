"""The gradebook as CSV files: `grades.csv` (everything, one column per test) and `moodle.csv`
(Moodle's grading-worksheet import: Identifier, Full name, Email address, Grade, Maximum Grade,
Feedback comments). Both are rebuilt from the gradebook, so they include earlier runs' rows, and
written atomically; no cell can start a spreadsheet formula (grader.reports.safe_text.csv_cell)."""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from grader.reports.markdown import common_cause, scrub_paths
from grader.records.gradebook import GradebookRow, RosterRow
from grader.core.atomic_files import write_atomic
from grader.records.roster import RosterMatch
from grader.reports.safe_text import csv_cell
from grader.core.results import NOT_FULL, SubmissionStatus, TestStatus

GRADES_COLUMNS = ["submission", "student_id", "name", "email", "score", "max_score", "status", "reason", "warning"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"]
MISSING = "missing"


def csv_text(rows: list[list]) -> str:
    """CSV with every cell through `csv_cell`: ids, names and reasons come from students' file names
    and messages, and a cell like `=HYPERLINK(...)` must stay text when the file is opened."""
    buf = io.StringIO()
    csv.writer(buf).writerows([[csv_cell(c) for c in row] for row in rows])
    return buf.getvalue()


def nodeid_columns(rows: list[GradebookRow]) -> list[str]:
    """Every test's nodeid, in the order the tests ran, across all rows."""
    seen: dict[str, None] = {}
    for r in rows:
        for t in r.tests:
            seen.setdefault(t["nodeid"], None)
    return list(seen)


def write_grades_csv(path: Path, rows: list[GradebookRow], *, roster: RosterMatch | None = None,
                     max_points: float = 0.0) -> None:
    """One row per submission (and per roster student without one), one column per test."""
    roster = roster or RosterMatch()
    tests = nodeid_columns(rows)
    table = [GRADES_COLUMNS + tests]
    for r in rows:
        student = roster.student.get(r.submission)
        scores = {t["nodeid"]: t["score"] for t in r.tests if t["status"] != TestStatus.SKIPPED}
        table.append([r.submission, student.id if student else "", (student.name if student else "") or r.name,
                      student.email if student else "", f"{r.score:g}", f"{r.max_score:g}", r.status,
                      scrub_paths(r.reason).replace("\n", " "), roster.warnings.get(r.submission, "")]
                     + [f"{scores[t]:g}" if t in scores else "" for t in tests])
    for s in roster.missing:
        table.append(["", s.id, s.name, s.email, "0", f"{max_points:g}", MISSING, "no submission", ""]
                     + [""] * len(tests))
    write_atomic(path, csv_text(table))


def moodle_identifier(*, participant: str, student: RosterRow | None, submission: str) -> str:
    """Moodle matches worksheet rows on `Participant <n>`; without one, the email or id."""
    if participant:
        return f"Participant {participant}"
    if student is not None:
        return student.email or student.id
    return submission


def feedback_comment(row: GradebookRow) -> str:
    """A short plain-text comment, HTML-escaped (Moodle shows feedback comments as HTML)."""
    text = f"Score {row.score:g} / {row.max_score:g}."
    cause = common_cause(row.tests) if row.status == SubmissionStatus.GRADED else ""
    if row.status != SubmissionStatus.GRADED:
        text += f" {row.status.upper()}: {scrub_paths(row.reason)}"
    elif cause:  # it could not be loaded: the cause, once, is what the student needs
        text += f" Every test failed for one reason: {cause.strip().splitlines()[0]}"
    else:
        failed = [t["name"] for t in row.tests if t["status"] in NOT_FULL and t["visibility"] == "visible"]
        hidden = sum(1 for t in row.tests if t["status"] in NOT_FULL and t["visibility"] != "visible")
        if failed:
            text += " Not fully passed: " + "; ".join(failed) + "."
        if hidden:
            text += f" {hidden} hidden test(s) not fully passed."
        if not failed and not hidden:
            text += " All tests passed."
    text += " Details are in your feedback file."
    return html.escape(text.replace("\n", " ")[:2000])


def write_moodle_csv(path: Path, rows: list[GradebookRow], *, roster: RosterMatch | None = None,
                     max_points: float = 0.0) -> None:
    """Moodle's grading worksheet (Assignment → View all submissions → Upload grading worksheet)."""
    roster = roster or RosterMatch()
    table = [MOODLE_COLUMNS]
    for r in rows:
        student = roster.student.get(r.submission)
        table.append([moodle_identifier(participant=r.participant, student=student, submission=r.submission),
                      (student.name if student else "") or r.name or r.submission,
                      student.email if student else "", f"{r.score:.2f}", f"{r.max_score:.2f}", feedback_comment(r)])
    for s in roster.missing:
        table.append([moodle_identifier(participant="", student=s, submission=s.id), s.name, s.email, "0.00",
                      f"{max_points:.2f}", html.escape("No submission.")])
    write_atomic(path, csv_text(table))
