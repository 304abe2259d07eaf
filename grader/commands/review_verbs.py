"""The reviewer's verbs: `review` (the web app), `adjust`, `rubric`, `comment`, `decide` (one decision
each) and `decisions` (list, export or apply them). Each declares its arguments once, named as
grader.commands.decisions' functions name them, and hands them on."""
from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands.verb import OneOf, Verb, arg, verb
from grader.core.errors import EXIT_OK

DECIDED = "the decision was recorded if its line was printed; the outputs are rewritten by the next one or `grade`"
OUT = arg("out", type=Path, help="the grading folder (`grade --out`)")
DECISION_OPTIONS = (
    arg("--note", default="", help="your private note (kept in the gradebook, never shown to the student)"),
    arg("--who", help="who decides (default: your login name)"),
    arg("--assignment", help="the assignment's name or folder, if OUT's gradebook does not name it"),
)

REVIEW_DESCRIPTION = (
    "Serve a review web app over OUT (a `grade --out` folder) on 127.0.0.1, behind a random token in the printed "
    "link: the batch with filters and keys, each submission's feedback, code and logs with forms to adjust a test, "
    "score the manual rubric items and comment to the student, and each flagged pair side by side to confirm or "
    "clear. Decisions go into OUT/gradebook.sqlite and the submission's feedback, results.json, grades.csv and "
    "moodle.csv are rewritten at once; the next `grade` into OUT keeps them. Stop it with Ctrl-C. With --export or "
    "--apply it serves nothing: it writes every current decision to a CSV, or records every line of such a CSV "
    "(all or none) and rewrites the outputs.")


def points(text: str) -> float | None:
    """A points argument: a number, 0 or more, or 'none' (withdraw)."""
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of points or 'none', got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"points are 0 or more, got {text!r}")
    return value


@verb("review", help="review a graded batch in the browser (adjust, rubric, integrity)",
      description=REVIEW_DESCRIPTION, interrupted="every decision saved before the interruption is in the gradebook",
      args=(OUT,
            OneOf((arg("--export", type=Path, metavar="CSV", help="write every current decision to CSV and stop"),
                   arg("--apply", type=Path, metavar="CSV", help="record the decisions in CSV (as --export writes "
                                                                 "it) and stop"))),
            arg("--port", type=int, help="port on 127.0.0.1 (default: a free one)"),
            arg("--no-browser", action="store_true", help="only print the link; do not open a browser"),
            arg("--assignment", help="the assignment's name or folder, when the one the results name is not found "
                                     "by name (to show the code, the pairs' regions and the rubric)"),
            arg("--who", help="the reviewer's name the decisions record (default: your login name)")))
def review(*, out: Path, export: Path | None, apply: Path | None, port: int | None, no_browser: bool,
           assignment: str | None, who: str | None, as_json: bool) -> int:
    if export or apply:
        return _export_or_apply(out=out, export=export, apply=apply, who=who, assignment=assignment, as_json=as_json)
    from grader.reports.terminal import console, print_json
    from grader.review.server import serve_review
    if as_json:
        on_ready = lambda link: print_json({"link": link})
    else:
        on_ready = lambda link: console.print(f"review {out} at [bold]{link}[/] (Ctrl-C stops it)", soft_wrap=True)
    serve_review(out=out, port=port, open_browser=not no_browser, assignment=assignment, reviewer=who,
                 on_ready=on_ready)
    return EXIT_OK


def _show(decision, as_json: bool) -> int:
    from grader.reports.terminal import print_json, render_decisions
    if as_json:
        print_json(vars(decision))
    else:
        render_decisions([decision], title="recorded")
    return EXIT_OK


def _records_one(name: str, command: str, *, help: str, description: str, args: tuple) -> Verb:
    """A verb that records one decision with grader.commands.decisions' `command` (imported when it runs:
    it pulls in the report renderers) and shows it; OUT first and the decision options last."""
    def handler(*, as_json: bool, **options) -> int:
        from grader.commands import decisions as record
        return _show(getattr(record, command)(**options), as_json)
    return verb(name, help=help, description=description, interrupted=DECIDED,
                args=(OUT, *args, *DECISION_OPTIONS))(handler)


adjust = _records_one(
    "adjust", "adjust_test", help="change a test's points for one submission, with a reason",
    description="Give TEST of SUBMISSION in the grading folder OUT new POINTS (0 to the test's points; 'none' "
                "withdraws the adjustment). The student sees the points and --reason; the next `grade` keeps the "
                "adjustment, unless the test's automatic result changes: then it awaits re-review and the automatic "
                "result stands. Rewrites the submission's feedback, grades.csv and moodle.csv.",
    args=(arg("submission", help="the submission id (grades.csv's first column)"),
          arg("test", help="the test's node id (a grades.csv column), or its name where unique"),
          arg("points", type=points, help="the test's new points, or 'none' to withdraw"),
          arg("--reason", required=True, help="why, for the student (shown in the feedback and moodle.csv)")))
rubric = _records_one(
    "rubric", "score_rubric", help="score a manual rubric item (the spec's `manual:`)",
    description="Give the manual rubric ITEM of SUBMISSION its POINTS ('none': awaiting review again). --comment "
                "is shown to the student beside the points.",
    args=(arg("submission", help="the submission id"), arg("item", help="the rubric item's id (assignment.yaml, manual:)"),
          arg("points", type=points, help="the points given, or 'none'"),
          arg("--comment", default="", help="for the student")))
comment = _records_one(
    "comment", "comment_on", help="write a comment to one student (shown in the feedback)",
    description="Set the instructor's comment to the student of SUBMISSION (an empty TEXT removes it); shown in "
                "feedback.md, feedback.html, results.json and moodle.csv.",
    args=(arg("submission", help="the submission id"), arg("text", help="the comment")))
decide = _records_one(
    "decide", "decide_pair", help="confirm or clear a flagged pair of integrity.csv",
    description="Record that the flagged pair A, B is confirmed (copied) or cleared, with a note for the "
                "instructors (never shown to a student). grades.csv's integrity column shows it.",
    args=(arg("a", help="one submission of the pair"), arg("b", help="the other"),
          arg("verdict", choices=["confirm", "clear"])))


@verb("decisions", help="list, export or apply the reviewers' decisions",
      description="Without options: list the current decisions of OUT. --export CSV writes them (submission, kind, "
                  "target, points, verdict, student_text, private_note, who, when, basis, needs_rereview); --apply "
                  "CSV records every line of such a file (all or none: a bad line is named and nothing is recorded) "
                  "and rewrites the outputs.",
      interrupted="--apply records all lines or none; run it again",
      args=(OUT,
            OneOf((arg("--export", type=Path, metavar="CSV", help="write every current decision to CSV"),
                   arg("--apply", type=Path, metavar="CSV", help="record the decisions in CSV"))),
            arg("--who", help="who decides, for lines without a `who` (default: your login name)"),
            arg("--assignment", help="the assignment's name or folder, if OUT's gradebook does not name it")))
def decisions(*, out: Path, export: Path | None, apply: Path | None, who: str | None, assignment: str | None,
              as_json: bool) -> int:
    if export or apply:
        return _export_or_apply(out=out, export=export, apply=apply, who=who, assignment=assignment, as_json=as_json)
    from grader.records.decisions import Decisions
    from grader.reports.terminal import print_json, render_decisions
    with Decisions(out / "gradebook.sqlite") as book:
        current = book.all()
    if as_json:
        print_json([vars(d) for d in current])
    else:
        render_decisions(current, title=f"{len(current)} current decision(s) in {out}")
    return EXIT_OK


def _export_or_apply(*, out: Path, export: Path | None, apply: Path | None, who: str | None,
                     assignment: str | None, as_json: bool) -> int:
    """`decisions` and `review` with --export CSV or --apply CSV."""
    from rich.markup import escape

    from grader.commands.decisions import apply_decisions_csv, export_decisions_csv
    from grader.reports.terminal import console, print_json, render_decisions
    if export:
        n = export_decisions_csv(out=out, path=export)
        if as_json:
            print_json({"exported": n, "path": str(export)})
        else:
            console.print(f"{n} decision(s) written to {escape(str(export))}", soft_wrap=True)
        return EXIT_OK
    recorded = apply_decisions_csv(out=out, path=apply, who=who, assignment=assignment)
    if as_json:
        print_json([vars(d) for d in recorded])
    else:
        render_decisions(recorded, title=f"{len(recorded)} decision(s) recorded from {apply}")
    return EXIT_OK
