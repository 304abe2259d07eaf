"""A grading folder's outputs with the reviewers' decisions applied.

`grade` writes each submission's files and the tables through here, so a regrade shows every decision
(grader.records.decisions). After a decision is recorded outside `grade` (`dlgrade adjust`, the review
app), `republish(spec, out, [submission])` rewrites that submission's `results.json`, `result.json`,
`feedback.md` and `feedback.html` from its `result.json` (the automatic result the last `grade` wrote;
its pictures stay where they are) and `grades.csv` and `moodle.csv` from the gradebook. Students
see the adjusted points, rubric points and comments; never a private note or an integrity decision.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from grader.core.atomic_files import write_atomic, write_json
from grader.core.results import SubmissionResult, TestResult
from grader.core.spec import Spec
from grader.records.decisions import Decisions
from grader.records.final_score import FinalScore, final_scores
from grader.records.gradebook import GradebookRow, RosterRow
from grader.records.roster import RosterMatch, match_roster
from grader.reports.html import feedback_html
from grader.reports.markdown import feedback_markdown, review_lines
from grader.reports.spreadsheets import write_grades_csv, write_moodle_csv


def write_tables(rows: list[GradebookRow], roster_rows: list[RosterRow], *, out: Path, max_points: float,
                 finals: dict[str, FinalScore], moodle: bool = True) -> RosterMatch | None:
    """grades.csv (and moodle.csv) from the whole gradebook, matched against its stored roster."""
    roster = match_roster(roster_rows, [(r.submission, r.name) for r in rows]) if roster_rows else None
    write_grades_csv(out / "grades.csv", rows, roster=roster, max_points=max_points, finals=finals)
    if moodle:
        write_moodle_csv(out / "moodle.csv", rows, roster=roster, max_points=max_points, finals=finals)
    return roster


def write_submission_files(result: SubmissionResult, *, out: Path, title: str, images: dict[str, bytes],
                           mode_text: str = "", final: FinalScore | None = None) -> None:
    """results.json (Gradescope: the reviewed score, the review in its output), result.json (the
    automatic result, and the review under "review"), feedback.md and feedback.html."""
    gradescope = result.to_gradescope()
    if final is not None:
        gradescope["score"], gradescope["max_score"] = final.score, final.max_score
        review = review_lines(final)
        if review:
            gradescope["output"] += ("\n\n" if gradescope["output"] else "") + "Review:\n" + "\n".join(f"- {x}" for x in review)
        gradescope["extra_data"]["review"] = final.to_json()
    write_json(out / "results.json", gradescope)
    write_json(out / "result.json", result.to_json() | ({"review": final.to_json()} if final else {}))
    write_atomic(out / "feedback.md", feedback_markdown(result, title=title, data=mode_text, final=final))
    write_atomic(out / "feedback.html", feedback_html(result, title=title, images=images, data=mode_text, final=final))


def result_from_json(data: dict) -> SubmissionResult:
    """A SubmissionResult back from the result.json `write_submission_files` wrote."""
    test_keys = {f.name for f in fields(TestResult)}
    keys = {f.name for f in fields(SubmissionResult)} - {"tests"}
    tests = [TestResult(**{k: v for k, v in t.items() if k in test_keys}) for t in data.get("tests", [])]
    return SubmissionResult(**{k: v for k, v in data.items() if k in keys}, tests=tests)


def republish(spec: Spec, out: Path, submissions: list[str] | None = None) -> list[str]:
    """Rewrite the outputs of `submissions` (None: every one) and the tables with the current decisions.
    Returns the submissions whose files were rewritten (one without a result.json has none to rewrite)."""
    out = Path(out)
    with Decisions(out / "gradebook.sqlite") as book:
        rows, roster_rows, decisions = list(book.rows().values()), book.roster(), book.all()
    finals = final_scores(rows, decisions, spec)
    done = []
    for row in rows:
        folder = out / row.submission
        if submissions is not None and row.submission not in submissions or not (folder / "result.json").is_file():
            continue
        result = result_from_json(json.loads((folder / "result.json").read_text(encoding="utf-8")))
        images = {p.name: p.read_bytes() for p in sorted((folder / "images").glob("*")) if p.is_file()}
        mode = spec.modes.get(result.mode)
        write_submission_files(result, out=folder, title=spec.title, images=images,
                               mode_text=mode.description if mode else "", final=finals[row.submission])
        done.append(row.submission)
    write_tables(rows, roster_rows, out=out, max_points=spec.max_points(rows[0].mode if rows else None),
                 finals=finals)
    return done
