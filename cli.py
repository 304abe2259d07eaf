"""dlgrade: grade and scaffold deep-learning homework (BME VITMAV45).

    python cli.py list                                   what assignments exist
    python cli.py check ae_bottleneck my_notebook.ipynb  a student's public checks
    python cli.py grade ae_bottleneck submissions/ --out graded/ -j 2
    python cli.py validate ae_bottleneck                 reference full marks, template none
    python cli.py build                                  regenerate templates from the references
    python cli.py new my_assignment                      a skeleton that validates as generated
    python cli.py release ae_bottleneck --out dist/      the student bundle
    python cli.py gradescope ae_bottleneck --out dist/   a Gradescope autograder zip
    python cli.py adjust graded/ ABC123 test_answer 1 --reason "..."   a reviewer's decision, kept by regrades
    python cli.py decisions graded/ --export decisions.csv             every decision (--apply reads one back)

Exit codes: 0 success; 1 the command ran but the outcome is bad (`check`: a test not fully passed
or the submission rejected; `validate`, `build --check`: a check failed; `grade`: no submission
found); 2 usage or configuration error; 130 interrupted (Ctrl-C; `grade` keeps what it graded).
`grade` exits 0 when every submission it found got its row, rejected ones included: a rejection
is a student's result (status "rejected" in grades.csv), not a failure of the run.
"""
from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from grader.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ToolkitError
from grader.integrity.similarity import SIMILARITY_THRESHOLD

SANDBOX_HELP = ("isolation of student code: 'auto' (the best rung this machine allows: bubblewrap, else kernel "
                "namespaces, else (as root) a separate uid, else none, with a warning below the first two), "
                "'strict' (refuse to run without bubblewrap or namespaces), 'off' (no sandbox: only for code you trust)")


def _given(**options):
    """The options the user gave; the rest take the command function's own default (one source)."""
    return {name: value for name, value in options.items() if value is not None}


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", help="data mode from the spec (default: the spec's default_mode, usually 'embedded')")
    p.add_argument("--data-dir", type=Path, help="folder holding the data sets of the full modes (e.g. ../shared/data)")
    p.add_argument("--sandbox", choices=["auto", "strict", "off"], help=SANDBOX_HELP)


def _add_check(sub, shared):
    p = sub.add_parser("check", parents=[shared], help="run the public tests on one submission (for students)",
                       description="Run the public tests of ASSIGNMENT on SUBMISSION (a .ipynb, a .py, a folder "
                                   "or a .zip) and show each test's result, points and message.")
    p.add_argument("assignment", help="assignment name (see `list`) or the path of an assignment folder")
    p.add_argument("submission", type=Path, help="your notebook, script, folder or zip")
    _add_run_options(p)
    p.set_defaults(func=_cmd_check)


def _cmd_check(args) -> int:
    from grader.core.assignments import find_assignment
    from grader.commands.check import check_submission
    from grader.reports.terminal import print_json, render_result, working
    with working("running the public tests", quiet=args.json):
        result = check_submission(assignment=args.assignment, submission=args.submission, mode=args.mode,
                                  data_dir=args.data_dir, **_given(sandbox=args.sandbox))
    if args.json:
        print_json(result.to_json())
    else:
        render_result(result, title=find_assignment(args.assignment).title, after_due_date=False)
    return EXIT_OK if result.status == "graded" and result.score == result.max_score else EXIT_FAILED


def _add_grade(sub, shared):
    p = sub.add_parser("grade", parents=[shared], help="grade many submissions with public and hidden tests",
                       description="Grade SUBMISSIONS (files; folders holding one file or folder per student; Moodle "
                                   "'Download all submissions' exports, zipped or not; folders of cloned repos) with "
                                   "the public and hidden tests. Writes OUT/gradebook.sqlite (re-runs grade only what "
                                   "is new or changed), OUT/grades.csv, OUT/moodle.csv, OUT/integrity.csv, "
                                   "OUT/summary.html and per student OUT/<id>/: feedback.html and feedback.md (for "
                                   "the student), result.json (everything the grader recorded, for tools) and "
                                   "results.json (the same verdict in Gradescope's format). Exits 0 when every "
                                   "submission got its row, rejected ones included.")
    p.add_argument("assignment", help="assignment name or folder")
    p.add_argument("submissions", nargs="+", type=Path, help="submission files, or folders of submissions")
    p.add_argument("--out", type=Path, required=True, help="output folder (created if missing; re-use it to resume)")
    p.add_argument("-j", "--jobs", type=int, help="submissions graded at once (default: the CPU cores, or fewer "
                                                  "if free memory does not hold that many of the spec's memory limit)")
    p.add_argument("--gpus", help="comma-separated GPU ids, one per concurrent worker (default: CPU only)")
    p.add_argument("--force", action="store_true", help="regrade submissions whose gradebook row is current")
    p.add_argument("--only", nargs="+", metavar="ID", help="grade only these submission ids")
    p.add_argument("--roster", type=Path, help="course roster CSV (columns id,name,email; Neptun codes are ids): "
                                               "missing students get a row, unknown submissions a warning")
    p.add_argument("--pick", metavar="GLOB", help="the code file inside each folder submission, e.g. 'hw2/*.ipynb' "
                                                  "(default: the spec's submission.code globs)")
    p.add_argument("--single", action="store_true", help="each path is one submission, a folder too "
                                                         "(not a folder of submissions)")
    p.add_argument("--backend", choices=["local", "ray"],
                   help="where submissions run: threads here, or one Ray task each (pip install 'dlgrade[cluster]')")
    p.add_argument("--address", help="Ray cluster address for --backend ray (default: start a local head)")
    p.add_argument("--similarity-threshold", type=float,
                   help=f"integrity report: flag pairs at least this similar, 0-1 (default {SIMILARITY_THRESHOLD})")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="the course key hidden test data derives from (default OUT/course.key, created on the "
                        "first run; keep it private and reuse it for every run of the course)")
    p.add_argument("--push-log", type=Path, metavar="CSV",
                   help="pushes exported from the hosting service (columns repo, sha, pushed_at): a cloned "
                        "repository's commit counts as handed in when first pushed, not at the date its git wrote")
    p.add_argument("--submission-times", type=Path, metavar="CSV",
                   help="Moodle's grading worksheet: hand-in times ('Last modified (submission)') for a Moodle export, "
                        "judged against the spec's deadline")
    p.add_argument("--cloned-at", metavar="TIME",
                   help="when the repositories were cloned (ISO 8601 with zone); commits dated later are flagged "
                        "(default: each repository's folder time)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary (for cron)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_grade)


def _cmd_grade(args) -> int:
    from grader.reports.terminal import GradeProgress, render_grade_summary
    progress = GradeProgress(quiet=args.quiet, as_json=args.json)
    try:
        report = _grade(args, progress)
    except KeyboardInterrupt:
        from grader.reports.terminal import render_interrupted
        render_interrupted(out=args.out, graded=sum(progress.counts.values()))
        raise
    if not report.found:
        from grader.reports.terminal import render_error
        render_error(f"no submissions found in {', '.join(map(str, args.submissions))} (a folder of submissions holds "
                     "one .py, .ipynb, .zip or folder per student; use --single for one submission folder)")
        return EXIT_FAILED
    if not args.json:
        render_grade_summary(report, quiet=args.quiet)
    return EXIT_OK


def _grade(args, progress):
    from grader.commands.grade import grade_submissions
    try:
        report = grade_submissions(assignment=args.assignment, submissions=args.submissions, out=args.out,
                                   jobs=args.jobs, mode=args.mode, data_dir=args.data_dir,
                                   gpus=args.gpus.split(",") if args.gpus else None, force=args.force,
                                   only=args.only, roster=args.roster, pick=args.pick, single=args.single,
                                   address=args.address, key=args.key, push_log=args.push_log,
                                   submission_times=args.submission_times, cloned_at=args.cloned_at,
                                   **_given(sandbox=args.sandbox, backend=args.backend,
                                            similarity_threshold=args.similarity_threshold),
                                   on_start=progress.start, on_result=progress.update)
    finally:
        progress.stop()
    return report


def _add_gradescope(sub, shared):
    p = sub.add_parser("gradescope", parents=[shared], help="write a Gradescope autograder zip for an assignment",
                       description="Write OUT/<name>_gradescope.zip: setup.sh (installs bubblewrap, CPU PyTorch and "
                                   "the toolkit) and run_autograder (grades /autograder/submission with the public "
                                   "and hidden tests into /autograder/results/results.json), with the toolkit and "
                                   "the assignment (no reference solution).")
    p.add_argument("assignment", help="assignment name or folder")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--mode", help="data mode to grade in (default: the spec's default_mode)")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="a course key file to put in the autograder (default: a new key)")
    p.set_defaults(func=_cmd_gradescope)


def _cmd_gradescope(args) -> int:
    from grader.scaffold.gradescope import gradescope_autograder
    from grader.reports.terminal import console, print_json
    bundle = gradescope_autograder(assignment=args.assignment, out=args.out, mode=args.mode, key=args.key)
    if args.json:
        print_json({"archive": str(bundle.archive), "files": bundle.files})
    else:
        console.print(f"[green]wrote[/] {bundle.archive} ({len(bundle.files)} files); upload it as the "
                      "assignment's autograder (Configure Autograder → Zip file upload)")
    return EXIT_OK


def _add_validate(sub, shared):
    p = sub.add_parser("validate", parents=[shared], help="check an assignment: reference full marks, template none",
                       description="Grade the reference solution (must earn full marks) and the template (must earn "
                                   "no points without breaking the grader), and check the spec and templates.")
    p.add_argument("assignment", help="assignment name or folder")
    _add_run_options(p)
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args) -> int:
    from grader.commands.validate import validate_assignment
    from grader.reports.terminal import print_json, render_checks, working
    with working(f"validating {args.assignment}: grading the reference and the template", quiet=args.json):
        checks = validate_assignment(assignment=args.assignment, mode=args.mode, data_dir=args.data_dir,
                                     **_given(sandbox=args.sandbox))
    if args.json:
        print_json([c.__dict__ for c in checks])
    else:
        render_checks(f"validate {args.assignment}" + (f" ({args.mode})" if args.mode else ""), checks)
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


def _add_build(sub, shared):
    p = sub.add_parser("build", parents=[shared], help="regenerate the templates from the reference solutions",
                       description="Strip the solution markers from reference_solutions/<name>/ and write "
                                   "templates/<name>/<name>.ipynb and .py. Without a name: every assignment.")
    p.add_argument("assignment", nargs="?", help="assignment name or folder (default: all)")
    p.add_argument("--check", action="store_true", help="only report templates that are out of date (exit 1 if any)")
    p.set_defaults(func=_cmd_build)


def _cmd_build(args) -> int:
    from grader.scaffold.build import build_templates
    from grader.reports.terminal import print_json, render_checks
    checks = build_templates(assignment=args.assignment, check_only=args.check)
    if args.json:
        print_json([c.__dict__ for c in checks])
    else:
        render_checks("templates", checks)
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


def _spec_keys() -> str:
    """The spec's keys with their help, for `new --help` (one source: grader.core.spec)."""
    from grader.core.spec import describe_schema
    return "assignment.yaml keys:\n" + "\n".join(
        f"  {key}: {help}" + (f" (default {default})" if default else "") for key, default, help in describe_schema())


def _add_new(sub, shared):
    p = sub.add_parser("new", parents=[shared], help="write a new assignment skeleton that validates",
                       description="Write assignments/NAME (spec, README, one public and one hidden test), "
                                   "reference_solutions/NAME/NAME.py with solution markers, and its template.",
                       epilog=_spec_keys(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="lower_snake_case name")
    p.add_argument("--title", help="the assignment's title")
    p.set_defaults(func=_cmd_new)


def _cmd_new(args) -> int:
    from grader.scaffold.new import new_assignment
    from grader.reports.terminal import console, print_json
    created = new_assignment(name=args.name, title=args.title)
    if args.json:
        print_json({"name": created.name, "files": [str(f) for f in created.files]})
    else:
        for f in created.files:
            console.print(f"[green]created[/] {f}")
        console.print(f"next: edit the files, then `python cli.py validate {created.name}`")
    return EXIT_OK


def _add_release(sub, shared):
    p = sub.add_parser("release", parents=[shared], help="write the student bundle (no hidden tests, no reference)",
                       description="Write OUT/NAME/ and OUT/NAME.zip: task README, template notebook and script, "
                                   "public tests and the toolkit to run `python cli.py check`.")
    p.add_argument("assignment", help="assignment name or folder")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=_cmd_release)


def _cmd_release(args) -> int:
    from grader.scaffold.release import release_assignment
    from grader.reports.terminal import console, print_json
    rel = release_assignment(assignment=args.assignment, out=args.out)
    if args.json:
        print_json({"folder": str(rel.folder), "archive": str(rel.archive), "files": rel.files})
    else:
        console.print(f"[green]released[/] {rel.folder} ({len(rel.files)} files) and {rel.archive}")
    return EXIT_OK


def _add_review(sub, shared):
    p = sub.add_parser("review", parents=[shared], help="review a graded batch in the browser (adjust, rubric, integrity)",
                       description="Serve a review web app over OUT (a `grade --out` folder) on 127.0.0.1, behind a "
                                   "random token in the printed link: the batch with filters and keys, each "
                                   "submission's feedback, code and logs with forms to adjust a test, score the "
                                   "manual rubric items and comment to the student, and each flagged pair side by "
                                   "side to confirm or clear. Decisions go into OUT/gradebook.sqlite and the "
                                   "submission's feedback, results.json, grades.csv and moodle.csv are rewritten at "
                                   "once; the next `grade` into OUT keeps them. Stop it with Ctrl-C. With --export "
                                   "or --apply it serves nothing: it writes every current decision to a CSV, or "
                                   "records every line of such a CSV (all or none) and rewrites the outputs.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--export", type=Path, metavar="CSV", help="write every current decision to CSV and stop")
    action.add_argument("--apply", type=Path, metavar="CSV", help="record the decisions in CSV (as --export writes "
                                                                   "it) and stop")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the link; do not open a browser")
    p.add_argument("--assignment", help="the assignment's name or folder, when the one the results name is not "
                                        "found by name (to show the code, the pairs' regions and the rubric)")
    p.add_argument("--who", help="the reviewer's name the decisions record (default: your login name)")
    p.set_defaults(func=_cmd_review)


def _cmd_review(args) -> int:
    if args.export or args.apply:
        return _export_or_apply(args)
    from grader.review.server import serve_review
    from grader.reports.terminal import console, print_json
    if args.json:
        on_ready = lambda link: print_json({"link": link})
    else:
        on_ready = lambda link: console.print(f"review {args.out} at [bold]{link}[/] (Ctrl-C stops it)", soft_wrap=True)
    serve_review(out=args.out, port=args.port, open_browser=not args.no_browser, assignment=args.assignment,
                 reviewer=args.who, on_ready=on_ready)
    return EXIT_OK


def _add_decision_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--note", default="", help="your private note (kept in the gradebook, never shown to the student)")
    p.add_argument("--who", help="who decides (default: your login name)")
    p.add_argument("--assignment", help="the assignment's name or folder, if OUT's gradebook does not name it")


def _add_adjust(sub, shared):
    p = sub.add_parser("adjust", parents=[shared], help="change a test's points for one submission, with a reason",
                       description="Give TEST of SUBMISSION in the grading folder OUT new POINTS (0 to the test's "
                                   "points; 'none' withdraws the adjustment). The student sees the points and "
                                   "--reason; the next `grade` keeps the adjustment, unless the test's automatic "
                                   "result changes: then it awaits re-review and the automatic result stands. "
                                   "Rewrites the submission's feedback, grades.csv and moodle.csv.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    p.add_argument("submission", help="the submission id (grades.csv's first column)")
    p.add_argument("test", help="the test's node id (a grades.csv column), or its name where unique")
    p.add_argument("points", type=_points, help="the test's new points, or 'none' to withdraw")
    p.add_argument("--reason", required=True, help="why, for the student (shown in the feedback and moodle.csv)")
    _add_decision_options(p)
    p.set_defaults(func=_cmd_decision, verb="adjust")


def _add_rubric(sub, shared):
    p = sub.add_parser("rubric", parents=[shared], help="score a manual rubric item (the spec's `manual:`)",
                       description="Give the manual rubric ITEM of SUBMISSION its POINTS ('none': awaiting review "
                                   "again). --comment is shown to the student beside the points.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    p.add_argument("submission", help="the submission id")
    p.add_argument("item", help="the rubric item's id (assignment.yaml, manual:)")
    p.add_argument("points", type=_points, help="the points given, or 'none'")
    p.add_argument("--comment", default="", help="for the student")
    _add_decision_options(p)
    p.set_defaults(func=_cmd_decision, verb="rubric")


def _add_comment(sub, shared):
    p = sub.add_parser("comment", parents=[shared], help="write a comment to one student (shown in the feedback)",
                       description="Set the instructor's comment to the student of SUBMISSION (an empty TEXT removes "
                                   "it); shown in feedback.md, feedback.html, results.json and moodle.csv.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    p.add_argument("submission", help="the submission id")
    p.add_argument("text", help="the comment")
    _add_decision_options(p)
    p.set_defaults(func=_cmd_decision, verb="comment")


def _add_decide(sub, shared):
    p = sub.add_parser("decide", parents=[shared], help="confirm or clear a flagged pair of integrity.csv",
                       description="Record that the flagged pair A, B is confirmed (copied) or cleared, with a note "
                                   "for the instructors (never shown to a student). grades.csv's integrity column "
                                   "shows it.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    p.add_argument("a", help="one submission of the pair")
    p.add_argument("b", help="the other")
    p.add_argument("verdict", choices=["confirm", "clear"])
    _add_decision_options(p)
    p.set_defaults(func=_cmd_decision, verb="decide")


def _add_decisions(sub, shared):
    p = sub.add_parser("decisions", parents=[shared], help="list, export or apply the reviewers' decisions",
                       description="Without options: list the current decisions of OUT. --export CSV writes them "
                                   "(submission, kind, target, points, verdict, student_text, private_note, who, "
                                   "when, basis, needs_rereview); --apply CSV records every line of such a file (all "
                                   "or none: a bad line is named and nothing is recorded) and rewrites the outputs.")
    p.add_argument("out", type=Path, help="the grading folder (`grade --out`)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--export", type=Path, metavar="CSV", help="write every current decision to CSV")
    action.add_argument("--apply", type=Path, metavar="CSV", help="record the decisions in CSV")
    p.add_argument("--who", help="who decides, for lines without a `who` (default: your login name)")
    p.add_argument("--assignment", help="the assignment's name or folder, if OUT's gradebook does not name it")
    p.set_defaults(func=_cmd_decisions)


def _points(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of points or 'none', got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"points are 0 or more, got {text!r}")
    return value


def _cmd_decision(args) -> int:
    from grader.commands import decisions as verbs
    from grader.reports.terminal import print_json, render_decisions
    common = _given(note=args.note, who=args.who, assignment=args.assignment)
    if args.verb == "adjust":
        d = verbs.adjust_test(out=args.out, submission=args.submission, test=args.test, points=args.points,
                              reason=args.reason, **common)
    elif args.verb == "rubric":
        d = verbs.score_rubric(out=args.out, submission=args.submission, item=args.item, points=args.points,
                               comment=args.comment, **common)
    elif args.verb == "comment":
        d = verbs.comment_on(out=args.out, submission=args.submission, text=args.text, **common)
    else:
        d = verbs.decide_pair(out=args.out, a=args.a, b=args.b, verdict=args.verdict, **common)
    if args.json:
        print_json(vars(d))
    else:
        render_decisions([d], title="recorded")
    return EXIT_OK


def _export_or_apply(args) -> int:
    """`decisions` and `review` with --export CSV or --apply CSV (args has out, export, apply, who, assignment)."""
    from grader.commands import decisions as verbs
    from rich.markup import escape
    from grader.reports.terminal import console, print_json, render_decisions
    if args.export:
        n = verbs.export_decisions_csv(out=args.out, path=args.export)
        if args.json:
            print_json({"exported": n, "path": str(args.export)})
        else:
            console.print(f"{n} decision(s) written to {escape(str(args.export))}", soft_wrap=True)
        return EXIT_OK
    recorded = verbs.apply_decisions_csv(out=args.out, path=args.apply,
                                         **_given(who=args.who, assignment=args.assignment))
    if args.json:
        print_json([vars(d) for d in recorded])
    else:
        render_decisions(recorded, title=f"{len(recorded)} decision(s) recorded from {args.apply}")
    return EXIT_OK


def _cmd_decisions(args) -> int:
    if args.export or args.apply:
        return _export_or_apply(args)
    from grader.records.decisions import Decisions
    from grader.reports.terminal import print_json, render_decisions
    with Decisions(args.out / "gradebook.sqlite") as book:
        current = book.all()
    if args.json:
        print_json([vars(d) for d in current])
    else:
        render_decisions(current, title=f"{len(current)} current decision(s) in {args.out}")
    return EXIT_OK


def _add_list(sub, shared):
    p = sub.add_parser("list", parents=[shared], help="list the assignments with their points and limits")
    p.set_defaults(func=_cmd_list)


def _cmd_list(args) -> int:
    from grader.commands.listing import list_assignments
    from grader.reports.terminal import print_json, render_assignments
    rows = list_assignments()
    if args.json:
        print_json(rows)
    else:
        render_assignments(rows)
    return EXIT_OK


# what a Ctrl-C leaves behind, per command (grade says it itself: it knows how many it kept)
INTERRUPTED_KEEPS = {
    "check": "nothing was written (check only prints); run it again",
    "validate": "nothing was written (validate only reports); run it again",
    "build": "templates already regenerated are kept; run build again to finish the rest",
    "new": "some of the assignment's files may have been written; remove the folder or finish it by hand",
    "release": "the bundle may be incomplete; run release again (it rewrites the folder)",
    "gradescope": "the zip may be incomplete; run gradescope again (it rewrites it)",
    "list": "nothing was written",
    "adjust": "the decision was recorded if its line was printed; the outputs are rewritten by the next one or `grade`",
    "rubric": "the decision was recorded if its line was printed; the outputs are rewritten by the next one or `grade`",
    "comment": "the decision was recorded if its line was printed; the outputs are rewritten by the next one or `grade`",
    "decide": "the decision was recorded if its line was printed; the outputs are rewritten by the next one or `grade`",
    "decisions": "--apply records all lines or none; run it again",
    "review": "every decision saved before the interruption is in the gradebook",
}

VERBS = [_add_check, _add_grade, _add_validate, _add_build, _add_new, _add_release, _add_gradescope, _add_review,
         _add_adjust, _add_rubric, _add_comment, _add_decide, _add_decisions, _add_list]


def build_parser() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    parser = argparse.ArgumentParser(prog="dlgrade", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for add in VERBS:
        add(sub, shared)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolkitError as e:
        from grader.reports.terminal import render_error
        render_error(e)  # paths and names in the message may come from students: printed inert
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.command != "grade":   # grade has said what it kept
            from grader.reports.terminal import err_console
            err_console.print(f"[yellow]interrupted:[/] {INTERRUPTED_KEEPS.get(args.command, 'stopped')}")
        return EXIT_INTERRUPTED
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        from grader.reports.terminal import err_console
        err_console.print(f"[bold red]error:[/] no space left for the outputs ({e.filename or 'output folder'}). "
                          "Everything graded before this point is kept in the gradebook; free some space and "
                          "run the same command again to continue.")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
