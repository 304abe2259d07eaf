"""The gradebook as CSV files: `grades.csv` (everything, one column per test) and `moodle.csv`
(Moodle's grading-worksheet import: Identifier, Full name, Email address, Grade, Maximum Grade,
Feedback comments). Both are rebuilt from the gradebook and the reviewers' decisions, so they include
earlier runs' rows and every adjustment, rubric point and comment, and are written atomically; no cell can start a spreadsheet formula (grader.reports.safe_text.csv_cell)."""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from grader.reports.markdown import common_cause, review_lines, scrub_paths
from grader.records.final_score import FinalScore
from grader.records.gradebook import GradebookRow, RosterRow
from grader.core.atomic_files import write_atomic
from grader.records.roster import RosterMatch
from grader.reports.late_work import LATE_COLUMNS, late_columns, late_summary
from grader.reports.safe_text import csv_cell
from grader.reports.wording import ONE_REASON_LABEL
from grader.core.lateness import Lateness, apply_late_policy
from grader.core.results import NOT_FULL, SubmissionStatus, TestStatus

GRADES_COLUMNS = ["submission", "student_id", "name", "email", "score", "max_score", "status", "reason", "warning",
                  "automatic_score", "review", "integrity", *LATE_COLUMNS]
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
            seen.setdefault(t.nodeid, None)
    return list(seen)


def row_score(row: GradebookRow) -> float:
    """A row's score without a review: the automatic score after the late policy."""
    return apply_late_policy(row.score, row.max_score, Lateness.from_json(row.late))[0]


def review_state(final: FinalScore | None) -> str:
    """What a reviewer still has to do for a submission ("" when nothing), for grades.csv."""
    if final is None:
        return ""
    todo = [f"needs re-review: {', '.join(final.needs_rereview)}"] if final.needs_rereview else []
    todo += [f"awaiting review: {', '.join(final.awaiting_review)}"] if final.awaiting_review else []
    return "; ".join(todo)


def integrity_state(final: FinalScore | None) -> str:
    """The pairs a reviewer confirmed or cleared, "confirmed with bob; cleared with carol"."""
    if final is None:
        return ""
    return "; ".join(f"{d.verdict} with {d.target if d.submission == final.submission else d.submission}"
                     for d in final.integrity)


def write_grades_csv(path: Path, rows: list[GradebookRow], *, roster: RosterMatch | None = None,
                     max_points: float = 0.0, finals: dict[str, FinalScore] | None = None) -> None:
    """One row per submission (and per roster student without one), one column per test (its score
    after any adjustment), one per manual rubric item. `finals`: the reviewed scores by submission
    (grader.records.decisions.final_score); without one a row shows its automatic score."""
    roster, finals = roster or RosterMatch(), finals or {}
    tests = nodeid_columns(rows)
    items = list(dict.fromkeys(r.id for f in finals.values() for r in f.rubric))
    table = [GRADES_COLUMNS + tests + [f"manual:{i}" for i in items]]
    for r in rows:
        student = roster.student.get(r.submission)
        final = finals.get(r.submission)
        scores = {t.nodeid: t.score for t in r.tests if t.status != TestStatus.SKIPPED}
        scores |= {t.nodeid: t.score for t in (final.adjusted if final else [])}
        given = {i.id: i.given for i in (final.rubric if final else [])}
        score, max_score = (final.score, final.max_score) if final else (row_score(r), r.max_score)
        late = late_columns(r.late, before=final.before_late if final else r.score, after=score)
        table.append([r.submission, student.id if student else "", (student.name if student else "") or r.name,
                      student.email if student else "", f"{score:g}", f"{max_score:g}", r.status,
                      scrub_paths(r.reason).replace("\n", " "), roster.warnings.get(r.submission, ""),
                      f"{r.score:g}", review_state(final), integrity_state(final), *(late[c] for c in LATE_COLUMNS)]
                     + [f"{scores[t]:g}" if t in scores else "" for t in tests]
                     + ["" if given.get(i) is None else f"{given[i]:g}" for i in items])
    for s in roster.missing:
        table.append(["", s.id, s.name, s.email, "0", f"{max_points:g}", MISSING, "no submission", "", "0", "", "",
                      *[""] * len(LATE_COLUMNS)]
                     + [""] * (len(tests) + len(items)))
    write_atomic(path, csv_text(table))


def moodle_identifier(*, participant: str, student: RosterRow | None, submission: str) -> str:
    """Moodle matches worksheet rows on `Participant <n>`; without one, the email or id."""
    if participant:
        return f"Participant {participant}"
    if student is not None:
        return student.email or student.id
    return submission


def feedback_comment(row: GradebookRow, final: FinalScore | None = None) -> str:
    """A short plain-text comment, HTML-escaped (Moodle shows feedback comments as HTML); with
    `final`, the reviewed score and what the review decided (never a private note)."""
    text = f"Score {final.score:g} / {final.max_score:g}." if final else f"Score {row_score(row):g} / {row.max_score:g}."
    late = Lateness.from_json(row.late)
    if late is not None and late_summary(row.late):
        text += f" Handed in {late_summary(row.late)}" + (f" (commit {late.commit})" if late.commit else "") + "."
    cause = common_cause(row.tests) if row.status == SubmissionStatus.GRADED else ""
    if row.status != SubmissionStatus.GRADED:
        text += f" {row.status.upper()}: {scrub_paths(row.reason)}"
    elif cause:  # it could not be loaded: the cause, once, is what the student needs
        text += f" {ONE_REASON_LABEL}: {cause.strip().splitlines()[0]}"
    else:
        made_full = {t.nodeid for t in (final.adjusted if final else []) if t.score >= t.points}   # by a reviewer
        lost = [t for t in row.tests if t.status in NOT_FULL and t.nodeid not in made_full]
        failed = [t.name for t in lost if t.visibility == "visible"]
        hidden = sum(1 for t in lost if t.visibility != "visible")
        if failed:
            text += " Not fully passed: " + "; ".join(failed) + "."
        if hidden:
            text += f" {hidden} hidden test(s) not fully passed."
        if not failed and not hidden:
            text += " All tests passed." if not made_full else " Every test has its full points after review."
    review = review_lines(final)
    if review:
        text += " Review: " + " ".join(line if line.endswith(".") else line + "." for line in review)
    text += " Details are in your feedback file."
    return html.escape(text.replace("\n", " ")[:2000])


def write_moodle_csv(path: Path, rows: list[GradebookRow], *, roster: RosterMatch | None = None,
                     max_points: float = 0.0, finals: dict[str, FinalScore] | None = None) -> None:
    """Moodle's grading worksheet (Assignment → View all submissions → Upload grading worksheet);
    `finals` as for `write_grades_csv`."""
    roster, finals = roster or RosterMatch(), finals or {}
    table = [MOODLE_COLUMNS]
    for r in rows:
        student = roster.student.get(r.submission)
        final = finals.get(r.submission)
        score, max_score = (final.score, final.max_score) if final else (row_score(r), r.max_score)
        table.append([moodle_identifier(participant=r.participant, student=student, submission=r.submission),
                      (student.name if student else "") or r.name or r.submission,
                      student.email if student else "", f"{score:.2f}", f"{max_score:.2f}",
                      feedback_comment(r, final)])
    for s in roster.missing:
        table.append([moodle_identifier(participant="", student=s, submission=s.id), s.name, s.email, "0.00",
                      f"{max_points:.2f}", html.escape("No submission.")])
    write_atomic(path, csv_text(table))
