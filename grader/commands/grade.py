"""`grade`: the instructor's run over many submissions, public and hidden tests.

Per submission, as soon as it finishes: `OUT/<id>/results.json` (Gradescope format),
`OUT/<id>/result.json` (everything, for tools), `OUT/<id>/feedback.md` and `feedback.html`
(pictures embedded), each written atomically, then its row in `OUT/gradebook.sqlite` in one
transaction, then `OUT/grades.csv` rebuilt from the gradebook. At the end: `moodle.csv`,
`integrity.csv` and `summary.html`.

The gradebook makes runs resumable: a submission whose row has the same content hash, grader
version and data mode is not graded again (`force` regrades; rows with an internal grading error
are always retried; when the first three all fail with the same internal error, the batch stops
and says to suspect the grader). Interrupted with Ctrl-C, the running gradings are killed and dropped, the
finished ones kept; killed outright, a re-run ends with exactly the gradebook an uninterrupted
run would have written.
"""
from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Callable

from grader.core.assignments import find_assignment
from grader.grading.backends import BACKENDS, GradeTask, Graded, cpu_count, default_jobs, make_backend
from grader.intake.discovery import SubmissionInput, collect_submissions
from grader.trusted.course_key import KEY_FILE, load_or_create
from grader.core.errors import INTERNAL_ERROR, GraderSuspect, GradingCancelled, ToolkitError
from grader.reports.spreadsheets import write_grades_csv, write_moodle_csv
from grader.reports.markdown import feedback_markdown
from grader.records.freshness import grader_version, submission_hash
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook, GradebookRow, row_from_result
from grader.reports.html import feedback_html, summary_html
from grader.reports.integrity import integrity_report, write_integrity_csv
from grader.reports.similarity import SIMILARITY_THRESHOLD
from grader.core.results import SubmissionResult, SubmissionStatus
from grader.core.atomic_files import write_atomic, write_json
from grader.records.roster import RosterMatch, match_roster, read_roster
from grader.grading.runner import RunOptions, guarded_command, prepare, require_data, retry_alone
from grader.boundary.sandbox import DEFAULT_SANDBOX, STRICT_LEVELS, require_isolation
from grader.reports.similarity import IntegrityReport
from grader.core.spec import Spec

SUSPECT_AFTER = 3  # the first this many submissions failing alike stop the batch
TABLES_EVERY_S = 2.0  # grades.csv rewritten at most this often while a batch runs (and at its end)


@dataclass
class GradeReport:
    """What one `grade` run did."""
    out: Path
    results: list[SubmissionResult] = field(default_factory=list)   # graded in this run
    skipped: list[str] = field(default_factory=list)   # ids whose gradebook row was current
    rows: list[GradebookRow] = field(default_factory=list)          # the whole gradebook afterwards
    roster: RosterMatch | None = None
    integrity: IntegrityReport | None = None
    notes: list[str] = field(default_factory=list)     # inputs passed over, and the like
    jobs: int = 1
    isolation_warning: str | None = None
    found: int = 0                                     # submissions found in the inputs

    @property
    def failed(self) -> list[SubmissionResult]:
        return [r for r in self.results if r.status != SubmissionStatus.GRADED]


def grade_submissions(*, assignment: str | Path, submissions: list[Path], out: Path, jobs: int | None = None,
                      mode: str | None = None, data_dir: Path | None = None, sandbox: str = DEFAULT_SANDBOX,
                      gpus: list[str] | None = None, force: bool = False, only: list[str] | None = None,
                      roster: Path | None = None, pick: str | None = None, single: bool = False,
                      backend: str = "local", address: str | None = None, similarity_threshold: float = SIMILARITY_THRESHOLD,
                      key: Path | None = None, on_start: Callable[[int], None] | None = None,
                      on_result: Callable[[SubmissionResult], None] | None = None) -> GradeReport:
    """Grade the submissions in `submissions` with public and hidden tests; write everything under `out`.

    jobs: submissions at once (None: as many as the cores and free memory allow for the spec's
    memory limit); gpus: one GPU id per concurrent job; force: regrade current rows too;
    only: grade just these ids; roster: the course's CSV (missing students, unmatched
    submissions); pick: the glob choosing the code file inside folders ('hw2/*.ipynb');
    single: every path is one submission, a folder too; backend: 'local' or 'ray' (address: the
    cluster); key: the course key file hidden data derives from (default OUT/course.key, created
    on the first run; keep it out of anything students see). on_start(n) is called with the number to grade, on_result after each one.

    Returns the report; raises ToolkitError before any grading if an argument is unusable or the
    mode's data is not in `data_dir`, GraderSuspect (a ToolkitError) when the first submissions all
    fail with the same internal error, and KeyboardInterrupt (after cleaning up) when interrupted."""
    spec = find_assignment(assignment)
    require_data(spec, mode, data_dir)  # a full mode without its data would grade on a smaller scale
    if jobs is not None and jobs < 1:
        raise ToolkitError("-j must be at least 1")
    if backend not in BACKENDS:
        raise ToolkitError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not 0 < similarity_threshold <= 1:
        raise ToolkitError("the similarity threshold must be in (0, 1]")
    if pick:
        spec = replace(spec, submission=replace(spec.submission, code=[pick]))
    roster_rows = read_roster(roster) if roster else None
    iso = require_isolation(sandbox)
    if backend == "ray" and iso.level not in STRICT_LEVELS:
        # Ray's control plane has no authentication: only a worker in its own network namespace,
        # with a private /tmp (rungs a and b), cannot reach the cluster's ports and session sockets
        raise ToolkitError(f"--backend ray needs the sandbox's rung (a) or (b), which hide the cluster from "
                           f"student code; this machine is on rung {iso.level!r} ({iso.describe()}). Install "
                           "bubblewrap or allow user namespaces on every node, or grade with --backend local")
    jobs = jobs or default_jobs(spec)
    with tempfile.TemporaryDirectory(prefix="dlgrade-inputs-") as scratch, contextlib.ExitStack() as guard:
        collected = collect_submissions(submissions, scratch=Path(scratch), limits=spec.submission, single=single)
        chosen = collected.submissions
        if only:
            known = {s.id for s in chosen}
            unknown = [i for i in only if i not in known]
            if unknown:
                raise ToolkitError(f"--only: no submission {unknown[0]!r} among the inputs "
                                   f"({len(known)} found)")
            chosen = [s for s in chosen if s.id in set(only)]
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ToolkitError(f"--out {out} is a file; give a folder (it is created if missing)")
        out.mkdir(parents=True, exist_ok=True)
        course_key = load_or_create(Path(key) if key else out / KEY_FILE)
        # rung (c): every folder of this command closed to workers; every rung: the canary check
        guard.enter_context(guarded_command(spec, iso, inputs=[*submissions, Path(scratch)], out=out,
                                            data_dir=data_dir))
        report = GradeReport(out, notes=collected.notes, jobs=jobs, found=len(collected.submissions),
                             isolation_warning=iso.warning if sandbox != "off" else "sandbox is off")
        with Gradebook(out / GRADEBOOK_FILE) as book:
            if roster_rows is not None:
                book.set_roster(roster_rows)
            version = grader_version(spec)
            mode_name = mode or spec.default_mode
            todo, hashes = [], {}
            for s in chosen:
                hashes[s.id] = submission_hash(s.path, pick=pick)
                if force or needs_grading(book.get(s.id), content_hash=hashes[s.id], grader_version=version,
                                          mode=mode_name, isolation=iso.level):
                    todo.append(s)
                else:
                    report.skipped.append(s.id)
            # the runner lets a fixed `limits.threads` in the spec override this
            threads = max(1, int(spec.resources.num_cpus)) if backend == "ray" else max(1, cpu_count() // jobs)
            options = RunOptions(mode=mode, data_dir=data_dir, include_hidden=True, sandbox=sandbox, threads=threads,
                                 course_key=course_key, isolation=iso, busy_timeouts="defer")
            if todo:
                options = prepare(spec, options)  # once for the batch, before the first submission's clock
            if on_start:
                on_start(len(todo))
            try:
                _grade_all(spec, todo, options, book, report, hashes=hashes, version=version, backend=backend,
                           jobs=jobs, gpus=gpus, address=address, on_result=on_result)
            finally:  # also on Ctrl-C: the tables show every row committed so far
                report.rows, report.roster = write_tables(book, out=out, max_points=spec.max_points(mode))
            report.integrity = integrity_report(spec, collected.submissions, threshold=similarity_threshold)
            write_integrity_csv(out / "integrity.csv", report.integrity)
            write_atomic(out / "summary.html", summary_html(title=spec.title or spec.name, rows=report.rows,
                                                            max_points=spec.max_points(mode), roster=report.roster,
                                                            integrity=report.integrity))
    report.results.sort(key=lambda r: r.submission)
    return report


def needs_grading(row: GradebookRow | None, *, content_hash: str, grader_version: str, mode: str,
                  isolation: str = "") -> bool:
    """False when `row` is a verdict on the same files, by the same grader, in the same data mode, on the
    same sandbox rung (so one gradebook never mixes levels). A row with an internal grading error (not the
    student's doing) is always graded again."""
    return (row is None or row.content_hash != content_hash or row.grader_version != grader_version
            or row.mode != mode or row.status == SubmissionStatus.ERROR or (bool(isolation) and row.isolation != isolation))


def _grade_all(spec: Spec, todo: list[SubmissionInput], options: RunOptions, book: Gradebook, report: GradeReport,
               *, hashes: dict, version: str, backend: str, jobs: int, gpus: list[str] | None, address: str | None,
               on_result: Callable[[SubmissionResult], None] | None) -> None:
    """Hand every submission to the backend; record each result here, in this thread, as it arrives."""
    if not todo:
        return
    runner = make_backend(backend, jobs=jobs, gpus=gpus, address=address, resources=spec.resources)
    tables_at = [0.0]
    later: list[SubmissionInput] = []   # left for a retry alone (grader.grading.runner.retry_alone)

    def record(s: SubmissionInput, future: Future) -> None:
        try:
            graded = future.result()
        except GradingCancelled:
            return
        except Exception as e:  # noqa: BLE001 - the backend lost the task (a Ray node died, ...)
            graded = Graded(SubmissionResult(s.id, spec.name, options.mode or spec.default_mode, status=SubmissionStatus.ERROR,
                                             reason=f"{INTERNAL_ERROR}: {type(e).__name__}: {e}",
                                             total_points=spec.max_points(options.mode)))
        if graded.result.status != SubmissionStatus.ERROR and retry_alone(graded.result):
            later.append(s)   # not recorded: a kill before the retry leaves it to the next run
            return
        _record(spec, s, graded, options, book, report, hashes=hashes, version=version, tables_at=tables_at,
                on_result=on_result)

    try:
        futures: dict[Future, SubmissionInput] = {runner.submit(GradeTask(spec, s, options)): s for s in todo}
        for future in as_completed(futures):
            record(futures[future], future)
    except BaseException:
        runner.cancel()
        raise
    finally:
        runner.close()
    if not later:
        return
    # a wall-clock limit hit while the machine was busy: each again, alone (-j1), with nothing beside it
    alone = make_backend("local", jobs=1, gpus=(gpus or [])[:1], address=None, resources=spec.resources)
    retry = replace(options, busy_timeouts="retry")
    try:
        for s in later:
            record(s, alone.submit(GradeTask(spec, s, retry)))
    except BaseException:
        alone.cancel()
        raise
    finally:
        alone.close()


def _record(spec: Spec, s: SubmissionInput, graded: Graded, options: RunOptions, book: Gradebook, report: GradeReport,
            *, hashes: dict, version: str, tables_at: list[float],
            on_result: Callable[[SubmissionResult], None] | None) -> None:
    """One submission's outputs and gradebook row, in the thread that collects results."""
    mode_data = spec.modes.get(graded.result.mode)
    write_outputs(graded, out=report.out / s.id, title=spec.title,
                  mode_text=mode_data.description if mode_data else "")
    book.record(row_from_result(graded.result, grader_version=version, content_hash=hashes[s.id],
                                name=s.name, participant=s.participant, source=str(s.path)))
    if time.monotonic() - tables_at[0] > TABLES_EVERY_S:  # rewriting them per result would grow with the batch
        write_tables(book, out=report.out, max_points=spec.max_points(options.mode), moodle=False)
        tables_at[0] = time.monotonic()
    report.results.append(graded.result)
    if on_result:
        on_result(graded.result)
    if len(report.results) == SUSPECT_AFTER:
        _stop_if_the_grader_is_broken(report.results)


def _signature(reason: str) -> str:
    """A reason without what differs between submissions (paths, counts)."""
    return re.sub(r"\d+", "#", re.sub(r"/[^\s:;,()'\"]+", "<path>", reason))


def _stop_if_the_grader_is_broken(first: list[SubmissionResult]) -> None:
    """The first submissions of a batch all ended with the same internal error: grading the rest
    the same way would only fill the gradebook with errors (and, were they scored, zeros)."""
    if any(r.status != SubmissionStatus.ERROR for r in first) or len({_signature(r.reason) for r in first}) != 1:
        return
    why = first[0].reason.removeprefix(INTERNAL_ERROR).lstrip(": ")
    raise GraderSuspect(f"suspect the grader: the first {len(first)} submissions ({', '.join(r.submission for r in first)}) "
                        f"all failed with the same internal error, so grading stopped; fix the grader and run the same "
                        f"command again (those rows are retried): {why}")


def write_tables(book: Gradebook, *, out: Path, max_points: float,
                 moodle: bool = True) -> tuple[list[GradebookRow], RosterMatch | None]:
    """grades.csv (and moodle.csv) from the whole gradebook, matched against its stored roster."""
    rows, roster_rows = book.rows(), book.roster()
    roster = match_roster(roster_rows, [(r.submission, r.name) for r in rows]) if roster_rows else None
    write_grades_csv(out / "grades.csv", rows, roster=roster, max_points=max_points)
    if moodle:
        write_moodle_csv(out / "moodle.csv", rows, roster=roster, max_points=max_points)
    return rows, roster


def write_outputs(graded: Graded, *, out: Path, title: str, mode_text: str = "") -> None:
    """The per-submission files; pictures first, so the pages never point at a missing one."""
    result = graded.result
    images = out / "images"
    if images.exists():
        shutil.rmtree(images)
    for name, data in graded.images.items():
        images.mkdir(parents=True, exist_ok=True)
        (images / Path(name).name).write_bytes(data)
    write_json(out / "results.json", result.to_gradescope())
    write_json(out / "result.json", result.to_json())
    write_atomic(out / "feedback.md", feedback_markdown(result, title=title, data=mode_text))
    write_atomic(out / "feedback.html", feedback_html(result, title=title, images=graded.images, data=mode_text))
