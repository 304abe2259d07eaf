"""Grading one submission: workspace -> trusted pytest process (which drives the worker) -> result.

The tests run in a separate trusted process per submission so that parallel grading is simple,
a test-suite crash cannot take the batch down, and a wall-clock limit can stop everything at
once. Whatever happens, a `SubmissionResult` comes back.

This module reads the trusted process's report and settles the result; the process's own life is
in grader.grading.trusted_process, the options in grader.grading.run_options, the busy-machine
policy in grader.grading.busy_machine, and what a command does once around its submissions in
grader.grading.preparation and grader.grading.command_guard. Their public names are importable
from here too, where the commands and tests import them.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from grader.boundary.sandbox import Isolation, hide_from_workers, require_isolation, worker_scratch
from grader.core.assignments import reference_dir, reference_submission
from grader.core.contracts import ContractError, Report
from grader.core.errors import INTERNAL_ERROR, UNEVALUABLE, ToolkitError
from grader.core.results import NOT_FULL, SubmissionResult, SubmissionStatus, TestResult, TestStatus
from grader.core.spec import Spec, spec_to_json
from grader.core.vocabulary import TestKind
from grader.grading.busy_machine import BUSY, RETRIED, WALL_TIMEOUT, count_busy_timeouts, retry_alone
from grader.grading.command_guard import guarded_command
from grader.grading.control import CONTROLS, settle, tests_signature
from grader.grading.preparation import PREPARE_TIMEOUT_S, prepare
from grader.grading.run_options import RunOptions, require_data
from grader.grading.trusted_process import (BATCH_PRELOAD, graded_test_dirs, how_it_ended, prestart_zygotes,
                                            pytest_command, run_file, run_trusted)
from grader.intake.headline import reading_headline
from grader.intake.workspace import MODULE_FILE, dropped_notes, prepare_workspace, submission_id

__all__ = ["BATCH_PRELOAD", "BUSY", "PREPARE_TIMEOUT_S", "RETRIED", "WALL_TIMEOUT", "RunOptions",
           "grade_submission", "guarded_command", "prepare", "prestart_zygotes", "require_data", "retry_alone"]

log = logging.getLogger(__name__)


def grade_submission(spec: Spec, submission: Path, options: RunOptions, *,
                     cancel: threading.Event | None = None, select: list[str] | None = None) -> SubmissionResult:
    """Grade one submission. Setting `cancel` stops the tests (and every process they started)
    and raises GradingCancelled instead of returning a result. `select`: run only these tests (node
    ids), as a control run does (grader.grading.control), which settles no blame of its own."""
    start = time.monotonic()
    mode = options.mode or spec.default_mode
    if options.course_key is None:  # drawn here, so that a control run (grader.grading.control) shares it
        from grader.trusted.course_key import new_key
        options = dataclasses.replace(options, course_key=new_key())
    result = SubmissionResult(submission_id(Path(submission)), spec.name, mode, total_points=spec.automatic_points(mode))
    prestart_zygotes()  # their imports run while the rung is probed and the workspace prepared
    iso = options.isolation or require_isolation(options.sandbox)
    result.isolation = iso.level
    # rung (c): while it grades, the checkout, this assignment, its reference, the submission and the
    # outputs are closed to every user but root (workers run from a copy of the engine)
    closed = hide_from_workers(iso, spec.path, reference_dir(spec), Path(submission), options.keep,
                               options.keep.parent if options.keep else None)
    try:
        with closed, tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp, worker_scratch() as scratch:
            tmp = Path(tmp)
            ws = prepare_workspace(Path(submission), spec, tmp / "ws")
            result.notes = ws.notes
            if ws.error and ws.internal_error:  # the grader failed to read or copy it
                result.status, result.reason = SubmissionStatus.ERROR, f"{INTERNAL_ERROR}: {ws.error}"
            elif ws.error:
                result.status, result.reason = SubmissionStatus.REJECTED, ws.error
            else:
                _run_tests(spec, ws, mode, options, tmp, result, cancel, iso=iso, scratch=scratch, select=select)
            if options.keep is not None and (tmp / "report" / "images").exists():
                shutil.copytree(tmp / "report" / "images", options.keep / "images", dirs_exist_ok=True)
    except OSError as e:  # the grader's own files: a full disk, an unwritable temporary folder
        result.status, result.tests = SubmissionStatus.ERROR, []
        result.reason = f"{INTERNAL_ERROR}: the grader could not prepare its working files ({e})"
    result.duration = time.monotonic() - start
    return result


def _read_report(path: Path) -> tuple[Report | None, str]:
    """The trusted process's report, or None and why where there is none that can be believed (the test
    process died before writing it, or it does not hold what the contract says: the grader's fault)."""
    if not path.exists():
        return None, ""
    try:
        return Report.from_json(json.loads(path.read_text(encoding="utf-8")), where=f"the test report {path.name}"), ""
    except ValueError as e:
        return None, f"the test report {path.name} is not JSON: {e}"
    except ContractError as e:
        return None, str(e)


def _blame_by_control(spec: Spec, mode: str, options: RunOptions, result: SubmissionResult,
                      cancel: threading.Event | None) -> None:
    """Settle each `unevaluable` test by the reference solution's run of it (grader.grading.control)."""
    nodeids = [t.nodeid for t in result.tests if t.kind == UNEVALUABLE]
    batch_key = (str(spec.path), mode, options.include_hidden, options.course_key, str(options.data_dir),
                 json.dumps(spec_to_json(spec), sort_keys=True, default=str),
                 tests_signature(graded_test_dirs(spec, options)))

    def run_reference(selected: list[str]) -> dict[str, TestResult]:
        with tempfile.TemporaryDirectory(prefix="dlgrade-control-") as tmp:
            try:
                reference = reference_submission(spec, mode, Path(tmp))
            except ToolkitError as e:  # no reference to compare with: nothing clears the submission
                log.warning(f"no control run for {', '.join(selected)}: {e}")
                return {}
            control = grade_submission(spec, reference, dataclasses.replace(options, keep=None), cancel=cancel,
                                       select=selected)
        return {t.nodeid: t for t in control.tests}

    settle(result, CONTROLS.outcomes(batch_key, nodeids, run_reference))


def _run_tests(spec: Spec, ws, mode: str, options: RunOptions, tmp: Path, result: SubmissionResult,
               cancel: threading.Event | None = None, *, iso: Isolation, scratch: Path,
               select: list[str] | None = None) -> None:
    """Run the tests in the trusted process and turn its report into `result`: the tests, the notes,
    and a status and reason that never blame the student for the grader's failure."""
    report_dir = tmp / "report"
    report_dir.mkdir()
    report = report_dir / "report.json"
    run = run_file(spec, options, mode, report,
                   # ws.work is the pristine tree: each worker runs on its own copy under scratch/
                   workspace=ws.work, scratch=scratch, artifacts_dir=ws.original, module_file=MODULE_FILE,
                   code_file=ws.code_file or "", cell_starts=[list(c) for c in ws.cell_starts or []],
                   isolation=iso.to_json(), gpu=options.gpu,
                   threads=spec.limits.threads or options.threads,  # the spec's fixed count wins (reproducible re-runs)
                   prepared=options.prepared)
    cmd, env = pytest_command(spec, options, tmp, run, iso, select=select)
    proc, timed_out, busy = run_trusted(spec, iso, cmd, env, tmp, spec.limits.submission_timeout_s, cancel)
    data, unreadable = _read_report(report)
    result.tests.extend(r.to_result() for r in (data.tests if data else []))
    result.worker_output = data.worker_output if data else ""
    result.grader_errors = list(data.grader_errors) if data else []
    result.isolation_warning = iso.warning
    load = data.load if data else {}
    # kept statements that raised in the worker (once, however often the tests ran)
    result.notes.extend([n for n in dropped_notes(ws, load.get("dropped")) if n not in result.notes])
    if not options.include_hidden:  # `check`: out of the public tests of this mode
        result.total_points = round(sum(t.max_score for t in result.tests), 4)
    # the test process ended on its own before every test had finished: killed (the machine's
    # memory), or pytest broke down (a full disk): the grader's failure, never the student's zero
    unreached = [t for t in result.tests
                 if t.status == TestStatus.RUNNING or (t.status, t.kind) == (TestStatus.FAILED, TestKind.NOT_RUN)]
    cut_short = not timed_out and (proc.returncode not in (0, 1) or bool(unreached))
    finished = len(result.tests) - len(unreached)
    for t in result.tests:
        if t.status == TestStatus.RUNNING:  # the test the time limit (or the process's end) interrupted
            t.status, t.kind, t.score = TestStatus.FAILED, (TestKind.NOT_RUN if cut_short else TestKind.TIMEOUT), 0.0
    if not select and not cut_short and any(t.kind == UNEVALUABLE for t in result.tests):
        _blame_by_control(spec, mode, options, result, cancel)
    count_busy_timeouts(result, options.busy_timeouts)
    if timed_out:
        _timed_out(spec, options, result, busy)
    elif result.grader_errors:  # the tests themselves are broken (a collection error, a missing marker)
        result.status = SubmissionStatus.ERROR
        result.reason = f"{INTERNAL_ERROR}: " + result.grader_errors[0].splitlines()[0][:300]
    elif not data or cut_short:
        result.status = SubmissionStatus.ERROR
        result.reason = (f"{INTERNAL_ERROR}: the test process {how_it_ended(proc.returncode)} "
                         + ("without a report" if not data else f"after {finished} of {len(result.tests)} tests"))
        result.grader_errors.extend([unreadable] if unreadable else [])
        result.grader_errors.append((tmp / "pytest.log").read_text(errors="replace")[-3000:])
    else:
        _settle_status(result, load)


def _timed_out(spec: Spec, options: RunOptions, result: SubmissionResult, busy: bool) -> None:
    """The reason of a run stopped by the submission's wall-clock limit, with what the busy-machine policy made of it."""
    result.status = SubmissionStatus.TIMEOUT
    result.reason = (f"grading stopped after {spec.limits.submission_timeout_s:g} s (the limit for one submission); "
                     "tests that had not finished score 0")
    if busy and options.busy_timeouts == "defer":
        result.reason += f" ({BUSY}: it is graded again alone before this counts)"
    elif options.busy_timeouts == "retry":
        result.reason += f" ({RETRIED})"


def _settle_status(result: SubmissionResult, load: dict) -> None:
    """The status and reason of a run whose test process finished with a report: a test that broke is
    the grader's error; otherwise what the student's code did, headline first."""
    broken = [t for t in result.tests if t.kind == TestKind.GRADER_ERROR]
    if broken:
        result.status = SubmissionStatus.ERROR
        result.reason = f"{INTERNAL_ERROR}: " + (broken[0].message.splitlines() or [""])[0][:400]
    elif load and not load.get("loaded", True):
        result.reason = reading_headline(result.notes, result.tests) or next(
            (t.message for t in result.tests if t.kind == TestKind.LOAD), "your submission could not be imported")
    else:
        failed = [t for t in result.tests if t.status in NOT_FULL]
        if failed:
            first = failed[0]
            why = first.message.splitlines()[0][:200] if first.message else first.kind
            result.reason = f"{len(failed)} of {len(result.tests)} tests not fully passed; first: {first.name}: {why}"
            headline = reading_headline(result.notes, result.tests)   # Keras code, a cell skipped for its syntax
            if headline:
                result.reason = f"{headline} ({len(failed)} of {len(result.tests)} tests not fully passed)"
