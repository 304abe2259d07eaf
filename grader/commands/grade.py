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
from datetime import datetime
from pathlib import Path
from collections.abc import Callable

from grader.core.assignments import find_assignment
from grader.grading.backends import BACKENDS, GradeTask, Graded, cpu_count, default_jobs, make_backend
from grader.intake.discovery import SubmissionInput, collect_submissions
from grader.intake.hand_ins import HandIns, StudentDeadline, read_hand_ins
from grader.intake.git_history import read_push_log
from grader.intake.submission_times import SubmissionTimes, read_worksheet
from grader.core.errors import SpecError
from grader.core.spec import parse_time
from grader.trusted.course_key import KEY_FILE, load_or_create
from grader.core.errors import INTERNAL_ERROR, GraderSuspect, GradingCancelled, ToolkitError
from grader.records.decisions import Decisions, FinalScore, final_score
from grader.records.freshness import grader_version, submission_hash
from grader.records.gradebook import GRADEBOOK_FILE, Gradebook, GradebookRow, RosterRow, row_from_result
from grader.reports.batch_review import batch_review
from grader.reports.html import summary_html
from grader.reports.reviewed import final_scores, write_submission_files
from grader.reports.reviewed import write_tables as write_reviewed_tables
from grader.integrity.report import integrity_report
from grader.reports.integrity_csv import write_integrity_csv
from grader.integrity.similarity import SIMILARITY_THRESHOLD
from grader.core.results import SubmissionResult, SubmissionStatus
from grader.core.atomic_files import write_atomic
from grader.records.roster import RosterMatch, match_roster, read_roster
from grader.grading.runner import RunOptions, guarded_command, prepare, require_data, retry_alone
from grader.boundary.sandbox import DEFAULT_SANDBOX, STRICT_LEVELS, Isolation, require_isolation
from grader.integrity.similarity import IntegrityReport
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
    hand_ins: HandIns = field(default_factory=HandIns)  # lateness and graded commits (grader.intake.hand_ins)

    @property
    def failed(self) -> list[SubmissionResult]:
        return [r for r in self.results if r.status != SubmissionStatus.GRADED]


def grade_submissions(*, assignment: str | Path, submissions: list[Path], out: Path, jobs: int | None = None,
                      mode: str | None = None, data_dir: Path | None = None, sandbox: str = DEFAULT_SANDBOX,
                      gpus: list[str] | None = None, force: bool = False, only: list[str] | None = None,
                      roster: Path | None = None, pick: str | None = None, single: bool = False,
                      backend: str = "local", address: str | None = None, similarity_threshold: float = SIMILARITY_THRESHOLD,
                      key: Path | None = None, push_log: Path | None = None, submission_times: Path | None = None,
                      cloned_at: str | None = None, on_start: Callable[[int], None] | None = None,
                      on_result: Callable[[SubmissionResult], None] | None = None) -> GradeReport:
    """Grade the submissions in `submissions` with public and hidden tests; write everything under `out`.

    jobs: submissions at once (None: as many as the cores and free memory allow for the spec's
    memory limit); gpus: one GPU id per concurrent job; force: regrade current rows too;
    only: grade just these ids; roster: the course's CSV (missing students, unmatched
    submissions); pick: the glob choosing the code file inside folders ('hw2/*.ipynb');
    single: every path is one submission, a folder too; backend: 'local' or 'ray' (address: the
    cluster); key: the course key file hidden data derives from (default OUT/course.key, created
    on the first run; keep it out of anything students see); push_log: the hosting service's CSV (repo,
    sha, pushed_at) whose push times replace commit dates; submission_times: Moodle's grading worksheet,
    for hand-in times; cloned_at: when the repositories were cloned (ISO 8601 with zone; default: each
    one's folder time), to flag commits dated later. The deadline is the spec's (grader.intake.hand_ins). on_start(n) is called with the number to grade, on_result after each one.

    Returns the report; raises ToolkitError before any grading if an argument is unusable or the
    mode's data is not in `data_dir`, GraderSuspect (a ToolkitError) when the first submissions all
    fail with the same internal error, and KeyboardInterrupt (after cleaning up) when interrupted."""
    spec = _checked_spec(assignment, mode=mode, data_dir=data_dir, jobs=jobs, backend=backend,
                         similarity_threshold=similarity_threshold, pick=pick)
    side = _read_side_inputs(spec, roster=roster, push_log=push_log, submission_times=submission_times,
                             cloned_at=cloned_at)
    iso = _isolation(sandbox, backend)
    jobs = jobs or default_jobs(spec)
    with tempfile.TemporaryDirectory(prefix="dlgrade-inputs-") as scratch, contextlib.ExitStack() as guard:
        collected = collect_submissions(submissions, scratch=Path(scratch), limits=spec.submission, single=single)
        chosen = _only(collected.submissions, only)
        out = _output_folder(out)
        course_key = load_or_create(Path(key) if key else out / KEY_FILE)
        # rung (c): every folder of this command closed to workers; every rung: the canary check
        guard.enter_context(guarded_command(spec, iso, inputs=[*submissions, Path(scratch)], out=out,
                                            data_dir=data_dir))
        report = GradeReport(out, notes=collected.notes, jobs=jobs, found=len(collected.submissions),
                             isolation_warning=iso.warning if sandbox != "off" else "sandbox is off")
        with Gradebook(out / GRADEBOOK_FILE) as book:
            book.set_meta("assignment", str(spec.path))   # what `dlgrade adjust OUT ...` re-renders with
            if side.roster is not None:
                book.set_roster(side.roster)
            # the deadline: repositories become their graded commit, before anything is hashed or compared
            report.hand_ins = read_hand_ins(collected.submissions, spec, scratch=Path(scratch),
                                            students=_student_deadlines(book.roster(), collected.submissions),
                                            push_log=side.pushes, worksheet=side.worksheet, cloned_at=side.cloned_at)
            collected.submissions = report.hand_ins.submissions
            by_id = {s.id: s for s in collected.submissions}
            chosen = [by_id[s.id] for s in chosen]
            version = grader_version(spec)
            todo, hashes = _to_grade(chosen, book, report, version=version, mode=mode or spec.default_mode,
                                     isolation=iso.level, force=force, pick=pick)
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
                report.rows, report.roster = write_tables(book, spec, out=out, mode=mode)
            _write_batch_pages(spec, book, report, collected.submissions, mode=mode, threshold=similarity_threshold)
    report.results.sort(key=lambda r: r.submission)
    return report


@dataclass(frozen=True)
class _SideInputs:
    """The files and times the flags name besides the submissions, read and checked before any grading."""
    roster: list[RosterRow] | None
    pushes: dict[str, list[tuple[str, datetime]]] | None
    worksheet: SubmissionTimes | None
    cloned_at: datetime | None


def _checked_spec(assignment: str | Path, *, mode: str | None, data_dir: Path | None, jobs: int | None, backend: str,
                  similarity_threshold: float, pick: str | None) -> Spec:
    """The spec to grade with (`pick` replacing its code globs), after the checks of the plain arguments."""
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
    return spec


def _read_side_inputs(spec: Spec, *, roster: Path | None, push_log: Path | None, submission_times: Path | None,
                      cloned_at: str | None) -> _SideInputs:
    return _SideInputs(roster=read_roster(roster) if roster else None,
                       pushes=read_push_log(push_log) if push_log else None,
                       worksheet=_worksheet(spec, submission_times) if submission_times else None,
                       cloned_at=_time_flag("--cloned-at", cloned_at) if cloned_at else None)


def _isolation(sandbox: str, backend: str) -> Isolation:
    iso = require_isolation(sandbox)
    if backend == "ray" and iso.level not in STRICT_LEVELS:
        # Ray's control plane has no authentication: only a worker in its own network namespace,
        # with a private /tmp (rungs a and b), cannot reach the cluster's ports and session sockets
        raise ToolkitError(f"--backend ray needs the sandbox's rung (a) or (b), which hide the cluster from "
                           f"student code; this machine is on rung {iso.level!r} ({iso.describe()}). Install "
                           "bubblewrap or allow user namespaces on every node, or grade with --backend local")
    return iso


def _only(found: list[SubmissionInput], only: list[str] | None) -> list[SubmissionInput]:
    """The submissions --only names (each must be among the inputs), or all."""
    if not only:
        return found
    known = {s.id for s in found}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise ToolkitError(f"--only: no submission {unknown[0]!r} among the inputs ({len(known)} found)")
    return [s for s in found if s.id in set(only)]


def _output_folder(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ToolkitError(f"--out {out} is a file; give a folder (it is created if missing)")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _to_grade(chosen: list[SubmissionInput], book: Gradebook, report: GradeReport, *, version: str, mode: str,
              isolation: str, force: bool, pick: str | None) -> tuple[list[SubmissionInput], dict[str, str]]:
    """The submissions whose gradebook row is not current (the rest go to report.skipped), and every
    chosen submission's content hash."""
    todo, hashes = [], {}
    for s in chosen:
        hashes[s.id] = submission_hash(s.path, pick=pick)
        late = report.hand_ins.late.get(s.id)
        if force or needs_grading(book.get(s.id), content_hash=hashes[s.id], grader_version=version,
                                  mode=mode, isolation=isolation, late=late.to_json() if late else {}):
            todo.append(s)
        else:
            report.skipped.append(s.id)
    return todo, hashes


def _write_batch_pages(spec: Spec, book: Gradebook, report: GradeReport, submissions: list[SubmissionInput], *,
                       mode: str | None, threshold: float) -> None:
    """integrity.csv and summary.html, over every submission of the inputs."""
    report.integrity = integrity_report(spec, submissions, threshold=threshold)
    write_integrity_csv(report.out / "integrity.csv", report.integrity)
    write_atomic(report.out / "summary.html", summary_html(title=spec.title or spec.name, rows=report.rows,
                                                           max_points=spec.max_points(mode), roster=report.roster,
                                                           integrity=report.integrity,
                                                           review=batch_review(book.path, report.rows, spec)))


def needs_grading(row: GradebookRow | None, *, content_hash: str, grader_version: str, mode: str,
                  isolation: str = "", late: dict | None = None) -> bool:
    """False when `row` is a verdict on the same files, by the same grader, in the same data mode, on the
    same sandbox rung (so one gradebook never mixes levels), judged against the same deadline (`late`:
    an extension or a push log changes it, and the feedback says it). A row with an internal grading
    error (not the student's doing) is always graded again."""
    return (row is None or row.content_hash != content_hash or row.grader_version != grader_version
            or row.mode != mode or row.status == SubmissionStatus.ERROR or (bool(isolation) and row.isolation != isolation)
            or (late is not None and (row.late or {}) != late))


def _student_deadlines(roster: list[RosterRow], submissions: list[SubmissionInput]) -> dict[str, StudentDeadline]:
    """Each submission's student's extension or own deadline, from the (given or stored) roster."""
    if not roster:
        return {}
    match = match_roster(roster, [(s.id, s.name) for s in submissions])
    return {sid: StudentDeadline(r.extension_days, r.deadline, r.email) for sid, r in match.student.items()}


def _time_flag(flag: str, text: str):
    try:
        return parse_time(text, flag)
    except SpecError as e:
        raise ToolkitError(str(e)) from None


def _worksheet(spec: Spec, path: Path) -> SubmissionTimes:
    """Moodle writes its times without a zone: they are read in the deadline's."""
    if not spec.deadline:
        raise ToolkitError(f"--submission-times: the spec {spec.name!r} has no deadline to judge the times against "
                           "(set `deadline` in assignment.yaml)")
    return read_worksheet(path, zone=parse_time(spec.deadline, "deadline").tzinfo)


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
                                             total_points=spec.automatic_points(options.mode)))
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
    late = report.hand_ins.late.get(s.id)
    if late is not None:   # the deadline is the command's, not the grading's: added here, before any output
        graded.result.late = late.to_json()
        graded.result.notes = report.hand_ins.notes.get(s.id, []) + graded.result.notes
    row = row_from_result(graded.result, grader_version=version, content_hash=hashes[s.id],
                          name=s.name, participant=s.participant, source=_source(report, s))
    with Decisions(book.path) as decisions:   # a regrade keeps every decision; a changed result re-opens one
        decisions.flag_changed_results(row)
        final = final_score(row, decisions.for_submission(row.submission), spec.manual)
    write_outputs(graded, out=report.out / s.id, title=spec.title,
                  mode_text=mode_data.description if mode_data else "", final=final)
    book.record(row)
    if time.monotonic() - tables_at[0] > TABLES_EVERY_S:  # rewriting them per result would grow with the batch
        write_tables(book, spec, out=report.out, mode=options.mode, moodle=False)
        tables_at[0] = time.monotonic()
    report.results.append(graded.result)
    if on_result:
        on_result(graded.result)
    if len(report.results) == SUSPECT_AFTER:
        _stop_if_the_grader_is_broken(report.results)


def _source(report: GradeReport, s: SubmissionInput) -> str:
    """The path the instructor gave (a repository, not the scratch copy of its graded commit)."""
    late = report.hand_ins.late.get(s.id)
    if late is None or not late.commit:
        return str(s.path)
    return f"{report.hand_ins.repositories.get(s.id, s.path)}@{late.commit}"


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


def write_tables(book: Gradebook, spec: Spec, *, out: Path, mode: str | None,
                 moodle: bool = True) -> tuple[list[GradebookRow], RosterMatch | None]:
    """grades.csv (and moodle.csv) from the whole gradebook and the reviewers' decisions, matched
    against the gradebook's stored roster."""
    rows = book.rows()
    with Decisions(book.path) as decisions:
        finals = final_scores(rows, decisions.all(), spec)
    roster = write_reviewed_tables(rows, book.roster(), out=out, max_points=spec.max_points(mode), finals=finals,
                                   moodle=moodle)
    return rows, roster


def write_outputs(graded: Graded, *, out: Path, title: str, mode_text: str = "", final: FinalScore | None = None) -> None:
    """The per-submission files; pictures first, so the pages never point at a missing one. `final`:
    the reviewers' decisions on this submission (grader.records.decisions.final_score)."""
    result = graded.result
    images = out / "images"
    if images.exists():
        shutil.rmtree(images)
    for name, data in graded.images.items():
        images.mkdir(parents=True, exist_ok=True)
        (images / Path(name).name).write_bytes(data)
    write_submission_files(result, out=out, title=title, images=graded.images, mode_text=mode_text, final=final)
