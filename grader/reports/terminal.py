"""Terminal output: the only module that imports rich. Commands return results; this prints them.

Every string that may come from a student (ids, messages, reasons, notes) goes through `_t`: its
control characters shown as visible text (no escape sequence reaches the terminal) and its Rich
markup escaped (a `[/]` in an exception message is text, not a closing tag)."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.intake.headline import reading_headline
from grader.reports.markdown import (common_cause, heading, hidden_outcome, note_text, scrub_paths, shows_details,
                                     useful_detail)
from grader.reports.wording import LEAD_LABEL, READING_HEADING
from grader.boundary.sandbox import LEVEL_TEXT
from grader.core.results import NOT_FULL, SubmissionResult, SubmissionStatus, TestStatus
from grader.reports.safe_text import printable
from grader.reports.late_work import late_summary

STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "skipped": "dim", "graded": "green",
         "rejected": "red", "timeout": "red", "error": "magenta"}
ICON = {"passed": "✔", "partial": "◐", "failed": "✘", "skipped": "–"}

console = Console()
err_console = Console(stderr=True)


def _t(text) -> str:
    """Student text for a Rich string: printable, markup escaped."""
    return escape(printable(text))


def render_result(result: SubmissionResult, *, title: str, after_due_date: bool = True) -> None:
    """One submission's tests, points and messages (used by check). Each failure is printed once: a
    one-line message in the table, a longer one (or a traceback) in a panel below it that the table
    points to; a reason every test shares (the submission could not be loaded) once, after the table."""
    cause = common_cause(result.tests)
    panels = []
    table = Table(title=f"{_t(heading(title))} — {_t(result.submission)}", title_justify="left", expand=False)
    table.add_column("", width=1)
    table.add_column("test", overflow="fold")
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("message", overflow="fold", max_width=90)
    for t in result.tests:
        style = STYLE.get(t.status, "")
        text = scrub_paths(t.message.strip())
        if not shows_details(t.visibility, after_due_date=after_due_date):
            message = "(hidden)" if t.status in (TestStatus.PASSED, TestStatus.SKIPPED) else f"(hidden; {hidden_outcome(t)})"
        elif t.status == TestStatus.SKIPPED:
            message = f"skipped: {text}"
        elif cause and t.message.strip() == cause:
            message = "the reason below"
        elif t.status in NOT_FULL and ("\n" in text or useful_detail(t.detail)):
            message = "in the panel below"
            panels.append((t, text + ("\n\n" + useful_detail(t.detail) if useful_detail(t.detail) else "")))
        else:
            message = text
        table.add_row(f"[{style}]{ICON.get(t.status, '?')}[/]", _t(t.name), f"{t.score:g}/{t.points:g}", _t(message))
    lead = reading_headline(result.notes, result.tests)
    if lead and result.status == SubmissionStatus.GRADED:  # the first line a student reads
        console.print(f"[bold red]{LEAD_LABEL}:[/] {_t(scrub_paths(lead))}")
    if result.tests:
        console.print(table)
    for t, text in panels:
        console.print(Panel(_t(text), title=_t(t.name), title_align="left", border_style=STYLE[t.status]))
    if result.reason and result.status != SubmissionStatus.GRADED:
        console.print(f"[bold {STYLE.get(result.status, 'red')}]{result.status.upper()}[/]: "
                      f"{_t(scrub_paths(result.reason))}")
        if not result.tests:
            console.print("[dim]No test ran, so there is no table: fix the reason above and run check again.[/]")
    elif cause:
        first = next(t for t in result.tests if t.status == TestStatus.FAILED and t.visibility == "visible")
        console.print(Panel(_t(cause + ("\n\n" + useful_detail(first.detail) if useful_detail(first.detail) else "")),
                            title="every test failed for this reason", title_align="left", border_style="red"))
    if result.notes:
        console.print(f"[dim]{READING_HEADING}:[/]")
        for note in result.notes[:15]:
            console.print(f"[dim]  • {_t(note_text(note))}[/]")
        if len(result.notes) > 15:
            console.print(f"[dim]  • … and {len(result.notes) - 15} more[/]")
    for error in result.grader_errors[:3]:
        console.print(Panel(_t(error.strip()[-2000:]), title="internal grading error (not your fault)",
                            border_style="magenta"))
    if result.isolation_warning:
        err_console.print(f"[bold yellow]warning:[/] {_t(result.isolation_warning)}")
    elif result.isolation:
        console.print(f"[dim]{_t(LEVEL_TEXT.get(result.isolation, result.isolation))}[/]")
    style = "green" if result.score == result.max_score else "yellow" if result.score > 0 else "red"
    console.print(f"[bold {style}]Score: {result.score:g} / {result.max_score:g}[/]  ({result.duration:.1f} s)")


class GradeProgress:
    """A progress bar with ETA and counts by status, or one JSON line per submission, or nothing."""

    def __init__(self, *, quiet: bool, as_json: bool):
        self.quiet, self.as_json = quiet, as_json
        self.counts: dict[str, int] = {}
        self.progress = None
        self.task = None

    def start(self, total: int) -> None:
        if self.quiet or self.as_json:
            return
        self.progress = Progress(TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=err_console, transient=False)
        self.progress.start()
        self.task = self.progress.add_task("grade", total=total, counts="")

    def update(self, result: SubmissionResult) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if self.as_json:
            sys.stdout.write(json.dumps({"submission": result.submission, "score": result.after_late_policy()[0],
                                         "late": result.late,
                                         "max_score": result.max_score, "status": result.status,
                                         "reason": result.reason, "seconds": round(result.duration, 2)}) + "\n")
            sys.stdout.flush()
        elif self.progress is not None:
            counts = " ".join(f"[{STYLE.get(k, '')}]{k} {v}[/]" for k, v in sorted(self.counts.items()))
            self.progress.update(self.task, advance=1, counts=counts)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def render_grade_summary(report, *, quiet: bool) -> None:
    """The submissions graded in this run, then what was skipped, flagged or missing."""
    if quiet:
        return
    table = Table(title=f"graded {len(report.results)} submissions → {_t(report.out)}", title_justify="left")
    late = any(r.late for r in report.results)   # a column only where the spec has a deadline
    for col in ("submission", "score", "status", *(("late",) if late else ()), "reason"):
        table.add_column(col, overflow="fold", max_width=80 if col == "reason" else None)
    for r in report.results:
        score = r.after_late_policy()[0]   # what the tables say: after the late policy
        table.add_row(_t(r.submission), f"{score:g}/{r.max_score:g}", f"[{STYLE.get(r.status, '')}]{r.status}[/]",
                      *((_t(late_summary(r.late) or ("on time" if r.late.get("handed_in") else "")),) if late else ()),
                      _t(scrub_paths(r.reason).splitlines()[0][:160]) if r.reason else "")
    console.print(table)
    if report.skipped:
        console.print(f"[dim]{len(report.skipped)} submission(s) unchanged since they were graded: kept "
                      "their gradebook rows (--force regrades)[/]")
    for note in report.notes:
        console.print(f"[dim]{_t(note)}[/]")
    for r in report.results:   # dates the student's git wrote that do not add up (grades.csv: late_flags)
        for flag in r.late.get("flags", []) if r.late else []:
            console.print(f"[yellow]date:[/] {_t(r.submission)}: {_t(flag)}")
    roster = report.roster
    if roster is not None:
        if roster.missing:
            console.print(f"[yellow]{len(roster.missing)} roster student(s) without a submission:[/] "
                          + _t(", ".join(s.id for s in roster.missing[:20])) + (" …" if len(roster.missing) > 20 else ""))
        for sid, why in sorted(roster.warnings.items()):
            console.print(f"[yellow]warning:[/] {_t(sid)}: {_t(why)}")
    if report.integrity is not None and report.integrity.flagged:
        console.print(f"[yellow]integrity:[/] {len(report.integrity.flagged)} pair(s) at or above "
                      f"{100 * report.integrity.threshold:.0f} % similarity (see summary.html, integrity.csv)")
    console.print(f"[dim]{_t(report.out)}/: grades.csv, moodle.csv, summary.html, gradebook.sqlite; per submission "
                  "<id>/feedback.html and feedback.md (for the student), result.json (everything recorded, for tools) "
                  "and results.json (the same verdict in Gradescope's format)[/]")
    if report.isolation_warning:
        err_console.print(f"[bold yellow]warning:[/] {_t(report.isolation_warning)}")


def render_assignments(rows: list[dict]) -> None:
    """`list`: one row per assignment. Names, modes and limits are never broken (a user types them
    back); the title wraps between words under the name."""
    table = Table(title="assignments", title_justify="left")
    table.add_column("assignment", overflow="fold", min_width=16)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("tests", no_wrap=True)
    table.add_column("modes", no_wrap=True)
    table.add_column("limits", no_wrap=True)
    for r in rows:
        modes = "\n".join(f"{_t(m)}{' [dim](default)[/]' if m == r['default_mode'] else ''}" for m in r["modes"])
        limits = r["limits"]
        table.add_row(f"[bold]{_t(r['name'])}[/]\n[dim]{_t(r['title'])}[/]", f"{r['points']:g}",
                      f"{r['test_files']['public']} public\n{r['test_files']['hidden']} hidden", modes,
                      f"{limits['memory_mb']} MB\n{limits['call_timeout_s']:g} s a call\n"
                      f"{limits['submission_timeout_s']:g} s in all")
    console.print(table)
    console.print("[dim]tests: test files; `check NAME FILE` runs the public ones on your submission[/]")


def render_checks(title: str, checks: list) -> None:
    """A list of (name, ok, detail) rows, for validate and build."""
    table = Table(title=_t(title), title_justify="left")
    table.add_column("", width=1)
    table.add_column("check")
    table.add_column("detail", overflow="fold", max_width=100)
    for c in checks:
        table.add_row("[green]✔[/]" if c.ok else "[red]✘[/]", _t(c.name), _t(c.detail))
    console.print(table)


def render_table(title: str, columns: list[str], rows: list[list[str]], *, no_wrap: tuple = ()) -> None:
    """A plain table; text wraps between words (a word longer than its column is folded), and the
    columns in `no_wrap` (names a user types back) are never broken."""
    table = Table(title=_t(title), title_justify="left")
    for c in columns:
        table.add_column(_t(c), no_wrap=c in no_wrap, overflow="ellipsis" if c in no_wrap else "fold")
    for r in rows:
        table.add_row(*(_t(cell) for cell in r))
    console.print(table)


def render_decisions(decisions: list, *, title: str) -> None:
    """Reviewers' decisions (grader.records.decisions.Decision), one line each, private notes included:
    this is the instructor's terminal."""
    rows = [[d.submission, d.kind, d.target.rsplit("::", 1)[-1],
             d.verdict or ("–" if d.points is None else f"{d.points:g}"), d.student_text, d.private_note,
             f"{d.who}, {d.when[:16].replace('T', ' ')}" + (" (needs re-review)" if d.needs_rereview else "")]
            for d in decisions]
    render_table(title, ["submission", "kind", "target", "points", "for the student", "private note", "who, when"],
                 rows, no_wrap=("submission",))


@contextmanager
def working(what: str, *, quiet: bool = False):
    """A spinner with the elapsed time on stderr while a long step runs (nothing when stderr is not a
    terminal, or `quiet`)."""
    if quiet or not err_console.is_terminal:
        yield
        return
    with err_console.status(f"{_t(what)} …", spinner="dots"):
        yield


def render_interrupted(*, out, graded: int) -> None:
    """What a Ctrl-C during `grade` kept: every finished submission is in the gradebook."""
    err_console.print(f"[yellow]interrupted:[/] the {graded} submission(s) finished in this run are kept, with every "
                      f"earlier row, in {_t(out)}/gradebook.sqlite, grades.csv and moodle.csv (their feedback "
                      "folders too); summary.html and integrity.csv are rewritten by the next complete run. Run the "
                      "same command again to grade the rest: finished submissions are not graded again.")


def render_error(message) -> None:
    """An error for the user on stderr; the message may quote a student's file name or text."""
    err_console.print(f"[bold red]error:[/] {_t(message)}")


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
