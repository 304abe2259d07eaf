"""The verbs that run student code: `check` (one submission, public tests), `grade` (many, public and
hidden tests) and `validate` (the reference and the template). Each declares its arguments once and
hands them to its command function (grader.commands.check, .grade, .validate), imported when it runs
so that `--help` starts fast."""
from __future__ import annotations

from pathlib import Path

from grader.commands.verb import COMMAND_DEFAULT, arg, verb
from grader.core.errors import EXIT_FAILED, EXIT_OK
from grader.integrity.similarity import SIMILARITY_THRESHOLD

SANDBOX_HELP = ("isolation of student code: 'auto' (the best rung this machine allows: bubblewrap, else kernel "
                "namespaces, else (as root) a separate uid, else none, with a warning below the first two), "
                "'strict' (refuse to run without bubblewrap or namespaces), 'off' (no sandbox: only for code you trust)")

RUN_OPTIONS = (
    arg("--mode", help="data mode from the spec (default: the spec's default_mode, usually 'embedded')"),
    arg("--data-dir", type=Path, help="folder holding the data sets of the full modes (e.g. ../shared/data)"),
    arg("--sandbox", choices=["auto", "strict", "off"], default=COMMAND_DEFAULT, help=SANDBOX_HELP),
)


@verb("check", help="run the public tests on one submission (for students)",
      description="Run the public tests of ASSIGNMENT on SUBMISSION (a .ipynb, a .py, a folder or a .zip) and show "
                  "each test's result, points and message.",
      interrupted="nothing was written (check only prints); run it again",
      args=(arg("assignment", help="assignment name (see `list`) or the path of an assignment folder"),
            arg("submission", type=Path, help="your notebook, script, folder or zip"),
            *RUN_OPTIONS))
def check(*, as_json: bool, silent: bool, **options) -> int:
    from grader.commands.check import check_submission
    from grader.core.assignments import find_assignment
    from grader.reports.terminal import print_json, render_result, working
    with working("running the public tests", quiet=as_json or silent):
        result = check_submission(**options)
    if as_json:
        print_json(result.to_json())
    else:
        render_result(result, title=find_assignment(options["assignment"]).title, after_due_date=False)
    return EXIT_OK if result.status == "graded" and result.score == result.max_score else EXIT_FAILED


GRADE_DESCRIPTION = (
    "Grade SUBMISSIONS (files; folders holding one file or folder per student; Moodle 'Download all submissions' "
    "exports, zipped or not; folders of cloned repos) with the public and hidden tests. Writes OUT/gradebook.sqlite "
    "(re-runs grade only what is new or changed), OUT/grades.csv, OUT/moodle.csv, OUT/integrity.csv, "
    "OUT/summary.html and per student OUT/<id>/: feedback.html and feedback.md (for the student), result.json "
    "(everything the grader recorded, for tools) and results.json (the same verdict in Gradescope's format). Exits 0 "
    "when every submission got its row, rejected ones included.")

GRADE_ARGS = (
    arg("assignment", help="assignment name or folder"),
    arg("submissions", nargs="+", type=Path, help="submission files, or folders of submissions"),
    arg("--out", type=Path, required=True, help="output folder (created if missing; re-use it to resume)"),
    arg("-j", "--jobs", type=int, help="submissions graded at once (default: the CPU cores, or fewer if free memory "
                                       "does not hold that many of the spec's memory limit)"),
    arg("--gpus", help="comma-separated GPU ids, one per concurrent worker (default: CPU only)"),
    arg("--force", action="store_true", help="regrade submissions whose gradebook row is current"),
    arg("--only", nargs="+", metavar="ID", help="grade only these submission ids"),
    arg("--roster", type=Path, help="course roster CSV (columns id,name,email; Neptun codes are ids): missing "
                                    "students get a row, unknown submissions a warning"),
    arg("--pick", metavar="GLOB", help="the code file inside each folder submission, e.g. 'hw2/*.ipynb' (default: "
                                       "the spec's submission.code globs)"),
    arg("--single", action="store_true", help="each path is one submission, a folder too (not a folder of "
                                              "submissions)"),
    arg("--backend", choices=["local", "ray"], default=COMMAND_DEFAULT,
        help="where submissions run: threads here, or one Ray task each (pip install 'dlgrade[cluster]')"),
    arg("--address", help="Ray cluster address for --backend ray (default: start a local head)"),
    arg("--similarity-threshold", type=float, default=COMMAND_DEFAULT,
        help=f"integrity report: flag pairs at least this similar, 0-1 (default {SIMILARITY_THRESHOLD})"),
    arg("--key", type=Path, metavar="FILE",
        help="the course key hidden test data derives from (default OUT/course.key, created on the first run; keep "
             "it private and reuse it for every run of the course)"),
    arg("--push-log", type=Path, metavar="CSV",
        help="pushes exported from the hosting service (columns repo, sha, pushed_at): a cloned repository's commit "
             "counts as handed in when first pushed, not at the date its git wrote"),
    arg("--submission-times", type=Path, metavar="CSV",
        help="Moodle's grading worksheet: hand-in times ('Last modified (submission)') for a Moodle export, judged "
             "against the spec's deadline"),
    arg("--cloned-at", metavar="TIME",
        help="when the repositories were cloned (ISO 8601 with zone); commits dated later are flagged (default: "
             "each repository's folder time)"),
    arg("-q", "--quiet", action="store_true", help="no progress bar and no summary (for cron)"),
    *RUN_OPTIONS,
)


@verb("grade", help="grade many submissions with public and hidden tests", description=GRADE_DESCRIPTION,
      args=GRADE_ARGS, interrupted=None)   # grade says itself how many it kept
def grade(*, submissions: list[Path], out: Path, gpus: str | None, quiet: bool, as_json: bool, silent: bool,
          **options) -> int:
    from grader.commands.grade import grade_submissions
    from grader.reports.terminal import GradeProgress, render_error, render_grade_summary, render_interrupted
    quiet = quiet or silent
    progress = GradeProgress(quiet=quiet, as_json=as_json)
    try:
        try:
            report = grade_submissions(submissions=submissions, out=out, gpus=gpus.split(",") if gpus else None,
                                       **options, on_start=progress.start, on_result=progress.update)
        finally:
            progress.stop()
    except KeyboardInterrupt:
        render_interrupted(out=out, graded=sum(progress.counts.values()))
        raise
    if not report.found:
        render_error(f"no submissions found in {', '.join(map(str, submissions))} (a folder of submissions holds "
                     "one .py, .ipynb, .zip or folder per student; use --single for one submission folder)")
        return EXIT_FAILED
    if not as_json:
        render_grade_summary(report, quiet=quiet)
    return EXIT_OK


@verb("validate", help="check an assignment: reference full marks, template none",
      description="Grade the reference solution (must earn full marks) and the template (must earn no points "
                  "without breaking the grader), and check the spec and templates.",
      interrupted="nothing was written (validate only reports); run it again",
      args=(arg("assignment", help="assignment name or folder"), *RUN_OPTIONS))
def validate(*, as_json: bool, silent: bool, **options) -> int:
    from grader.commands.validate import validate_assignment
    from grader.reports.terminal import print_json, render_checks, working
    name, mode = options["assignment"], options["mode"]
    with working(f"validating {name}: grading the reference and the template", quiet=as_json or silent):
        checks = validate_assignment(**options)
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        render_checks(f"validate {name}" + (f" ({mode})" if mode else ""), checks)
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED
