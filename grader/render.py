"""Terminal output: the only module that imports rich. Commands return results; this prints them.

Every string that may come from a student (ids, messages, reasons, notes) goes through `_t`: its
control characters shown as visible text (no escape sequence reaches the terminal) and its Rich
markup escaped (a `[/]` in an exception message is text, not a closing tag)."""
from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.feedback import shows_details
from grader.sandbox import LEVEL_TEXT
from grader.results import SubmissionResult
from grader.safe_text import printable

STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "skipped": "dim", "graded": "green",
         "rejected": "red", "timeout": "red", "error": "magenta"}
ICON = {"passed": "✔", "partial": "◐", "failed": "✘", "skipped": "–"}

console = Console()
err_console = Console(stderr=True)


def _t(text) -> str:
    """Student text for a Rich string: printable, markup escaped."""
    return escape(printable(text))


def render_result(result: SubmissionResult, *, title: str, after_due_date: bool = True) -> None:
    """One submission's tests, points and messages (used by check)."""
    table = Table(title=f"{_t(title)} — {_t(result.submission)}", title_justify="left", expand=False)
    table.add_column("", width=1)
    table.add_column("test")
    table.add_column("points", justify="right")
    table.add_column("message", overflow="fold", max_width=90)
    for t in result.tests:
        style = STYLE.get(t.status, "")
        message = t.message if shows_details(t.visibility, after_due_date=after_due_date) else "(hidden)"
        if t.status == "skipped":
            message = f"skipped: {t.message}"
        table.add_row(f"[{style}]{ICON.get(t.status, '?')}[/]", _t(t.name), f"{t.score:g}/{t.points:g}",
                      _t(message.strip().splitlines()[0]) if message.strip() else "")
    console.print(table)
    for t in result.tests:
        if t.status in ("failed", "partial") and shows_details(t.visibility, after_due_date=after_due_date):
            text = t.message.strip()
            if t.detail:
                text += "\n\n" + t.detail.strip()
            if "\n" in text:
                console.print(Panel(_t(text), title=_t(t.name), title_align="left", border_style=STYLE[t.status]))
    if result.reason and result.status != "graded":
        console.print(f"[bold {STYLE.get(result.status, 'red')}]{result.status.upper()}[/]: {_t(result.reason)}")
    if result.notes:
        console.print("[dim]How your submission was read:[/]")
        for note in result.notes[:15]:
            console.print(f"[dim]  • {_t(note)}[/]")
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
            sys.stdout.write(json.dumps({"submission": result.submission, "score": result.score,
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
    for col in ("submission", "score", "status", "reason"):
        table.add_column(col, overflow="fold", max_width=80 if col == "reason" else None)
    for r in report.results:
        table.add_row(_t(r.submission), f"{r.score:g}/{r.max_score:g}", f"[{STYLE.get(r.status, '')}]{r.status}[/]",
                      _t(r.reason.splitlines()[0][:160]) if r.reason else "")
    console.print(table)
    if report.skipped:
        console.print(f"[dim]{len(report.skipped)} submission(s) unchanged since they were graded: kept "
                      "their gradebook rows (--force regrades)[/]")
    for note in report.notes:
        console.print(f"[dim]{_t(note)}[/]")
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
    console.print(f"[dim]{_t(report.out)}/grades.csv, moodle.csv, summary.html, gradebook.sqlite[/]")
    if report.isolation_warning:
        err_console.print(f"[bold yellow]warning:[/] {_t(report.isolation_warning)}")


def render_checks(title: str, checks: list) -> None:
    """A list of (name, ok, detail) rows, for validate and build."""
    table = Table(title=_t(title), title_justify="left")
    table.add_column("", width=1)
    table.add_column("check")
    table.add_column("detail", overflow="fold", max_width=100)
    for c in checks:
        table.add_row("[green]✔[/]" if c.ok else "[red]✘[/]", _t(c.name), _t(c.detail))
    console.print(table)


def render_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=_t(title), title_justify="left")
    for c in columns:
        table.add_column(_t(c), overflow="fold")
    for r in rows:
        table.add_row(*(_t(cell) for cell in r))
    console.print(table)


def render_error(message) -> None:
    """An error for the user on stderr; the message may quote a student's file name or text."""
    err_console.print(f"[bold red]error:[/] {_t(message)}")


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
