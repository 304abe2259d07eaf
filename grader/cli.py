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
import contextlib
import errno
import logging
import sys
from collections.abc import Iterator

from grader.commands import assignment_verbs, grading_verbs, review_verbs
from grader.commands.verb import Verb
from grader.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, ToolkitError
from grader.reports.safe_text import printable

# in the order `dlgrade --help` lists them; each verb's arguments are declared with its handler
VERBS: list[Verb] = [grading_verbs.check, grading_verbs.grade, grading_verbs.validate, assignment_verbs.build,
                     assignment_verbs.new, assignment_verbs.release, assignment_verbs.gradescope, review_verbs.review,
                     review_verbs.adjust, review_verbs.rubric, review_verbs.comment, review_verbs.decide,
                     review_verbs.decisions, assignment_verbs.list_verb]
PARSER_ONLY = ("command", "verb", "verbose")   # what the parsers set that no handler receives


def build_parser() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", dest="as_json", action="store_true",
                        help="print machine-readable JSON instead of tables")
    parser = argparse.ArgumentParser(prog="dlgrade", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    # before the verb (`dlgrade -q grade ...`); grade's own -q after it keeps its meaning (no bar, no summary)
    parser.add_argument("-q", "--quiet", dest="silent", action="store_true",
                        help="no warnings and no progress (grade: no summary either); errors are still shown")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages too")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for verb in VERBS:
        verb.add_to(sub, shared)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment, not the one at its creation (pytest's capture swaps it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _PrintableFormatter(logging.Formatter):
    """`dlgrade: WARNING: ...` lines; text a student controls (a path, a message) reaches the terminal inert."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


@contextlib.contextmanager
def logging_to_stderr(*, quiet: bool, verbose: bool) -> Iterator[None]:
    """The engine's log (the `grader` logger) on stderr while a command runs: warnings by default, only errors
    with -q, everything with -v. Undone afterwards, so that calling main() in a test leaves no handler behind."""
    logger = logging.getLogger("grader")
    handler = _StderrHandler()
    handler.setFormatter(_PrintableFormatter("dlgrade: %(levelname)s: %(message)s"))
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verb: Verb = args.verb
    given = {k: v for k, v in vars(args).items() if k not in PARSER_ONLY}
    with logging_to_stderr(quiet=args.silent, verbose=args.verbose):
        try:
            return verb.run(given)
        except ToolkitError as e:
            from grader.reports.terminal import render_error
            render_error(e)  # paths and names in the message may come from students: printed inert
            return EXIT_USAGE
        except KeyboardInterrupt:
            if verb.interrupted is not None:   # None: the verb has said what it kept (grade)
                from grader.reports.terminal import err_console
                err_console.print(f"[yellow]interrupted:[/] {verb.interrupted}")
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
