"""Grading one submission: workspace -> trusted pytest process (which drives the worker) -> result.

The tests run in a separate trusted process per submission so that parallel grading is simple,
a test-suite crash cannot take the batch down, and a wall-clock limit can stop everything at
once. Whatever happens, a `SubmissionResult` comes back.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GradingCancelled
from grader.results import SubmissionResult, TestResult
from grader.sandbox import ENGINE_DIR
from grader.spec import Spec
from grader.workspace import MODULE_FILE, prepare_workspace, submission_id


@dataclass
class RunOptions:
    """How to grade, shared by `check`, `grade` and `validate`."""
    mode: str | None = None          # data mode; None = the spec's default
    data_dir: Path | None = None
    include_hidden: bool = True
    sandbox: str = "auto"            # "auto", "strict" or "off"
    gpu: str | None = None           # None: CPU only; "all" or device ids such as "0" or "1,2"
    threads: int = 1
    keep: Path | None = None         # copy images and logs here (the submission's output folder)
    course_key: bytes | None = None  # the secret hidden data derives from (grader.course_key); None: ephemeral


def grade_submission(spec: Spec, submission: Path, options: RunOptions, *,
                     cancel: threading.Event | None = None) -> SubmissionResult:
    """Grade one submission. Setting `cancel` stops the tests (and every process they started)
    and raises GradingCancelled instead of returning a result."""
    start = time.monotonic()
    mode = options.mode or spec.default_mode
    result = SubmissionResult(submission_id(Path(submission)), spec.name, mode, total_points=spec.points)
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        tmp = Path(tmp)
        ws = prepare_workspace(Path(submission), spec, tmp / "ws")
        result.notes = ws.notes
        if ws.error:
            result.status, result.reason = "rejected", ws.error
        else:
            _run_tests(spec, ws, mode, options, tmp, result, cancel)
        if options.keep is not None and (tmp / "report" / "images").exists():
            shutil.copytree(tmp / "report" / "images", options.keep / "images", dirs_exist_ok=True)
    result.duration = time.monotonic() - start
    return result


def _wait(proc: subprocess.Popen, timeout: float, cancel: threading.Event | None) -> bool:
    """Wait for `proc`; True if it ran past `timeout`. Raises GradingCancelled when `cancel` is set."""
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            raise GradingCancelled("grading was cancelled")
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        try:
            proc.wait(timeout=min(0.2, left))
            return False
        except subprocess.TimeoutExpired:
            pass


def _run_tests(spec: Spec, ws, mode: str, options: RunOptions, tmp: Path, result: SubmissionResult,
               cancel: threading.Event | None = None) -> None:
    report_dir = tmp / "report"
    report_dir.mkdir()
    report = report_dir / "report.json"
    run = {
        "assignment": str(spec.path), "mode": mode,
        "data_dir": str(Path(options.data_dir).resolve()) if options.data_dir else None,
        # ws.work is the pristine tree: each worker runs on its own copy under scratch/
        "workspace": str(ws.work), "scratch": str(tmp / "workers"), "artifacts_dir": str(ws.original),
        "module_file": MODULE_FILE, "course_key": options.course_key.hex() if options.course_key else None,
        "code_file": ws.code_file, "cell_starts": ws.cell_starts, "report": str(report),
        "sandbox": options.sandbox, "gpu": options.gpu,
        "threads": spec.limits.threads or options.threads,  # the spec's fixed count wins (reproducible re-runs)
    }
    (tmp / "run.json").write_text(json.dumps(run))
    (tmp / "pytest.ini").write_text("[pytest]\n")
    dirs = [str(spec.public_tests)] + ([str(spec.hidden_tests)] if options.include_hidden and spec.hidden_tests.exists() else [])
    cmd = [sys.executable, "-m", "pytest", *dirs, "-p", "grader.plugin", "-p", "no:cacheprovider",
           "-c", str(tmp / "pytest.ini"), "--rootdir", str(spec.path), "--import-mode=importlib",
           "-q", "--no-header", "-rN", "--tb=short", "-W", "ignore::DeprecationWarning"]
    env = {**os.environ, "DLGRADE_RUN": str(tmp / "run.json"),
           "PYTHONPATH": os.pathsep.join([str(ENGINE_DIR.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONDONTWRITEBYTECODE": "1",
           # only the grader's plugin: third-party ones installed here (randomly, xdist, hypothesis)
           # would reorder, reseed or slow down the grading run
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    log = tmp / "pytest.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=tmp, start_new_session=True)
        try:
            timed_out = _wait(proc, spec.limits.submission_timeout_s, cancel)
        finally:
            # the trusted process and anything it started (workers) go together
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
    data = {}
    if report.exists():
        try:
            data = json.loads(report.read_text())
        except ValueError:
            data = {}
    for r in data.get("tests", []):
        result.tests.append(TestResult(
            name=r["name"], nodeid=r["nodeid"], points=r["points"], score=r.get("score", 0.0), status=r["status"],
            visibility=r["visibility"], message=r.get("message", ""), detail=r.get("detail", ""),
            kind=r.get("kind", ""), duration=r.get("duration", 0.0), images=r.get("images", []),
            notes=r.get("notes", []), metrics=r.get("metrics", {})))
    result.worker_output = data.get("worker_output", "")
    result.grader_errors = data.get("grader_errors", [])
    result.isolation_warning = data.get("isolation_warning")
    load = data.get("load") or {}
    for t in result.tests:
        if t.status == "running":  # the test the time limit interrupted
            t.status, t.kind, t.score = "failed", "timeout", 0.0
    if timed_out:
        result.status = "timeout"
        result.reason = (f"grading stopped after {spec.limits.submission_timeout_s:g} s (the limit for one submission); "
                         "tests that had not finished score 0")
    elif not data:
        result.status = "error"
        tail = log.read_text(errors="replace")[-3000:]
        result.reason = "internal grading error: the test process ended without a report"
        result.grader_errors.append(tail)
    elif result.grader_errors:
        result.status = "error"
        result.reason = "internal grading error: " + result.grader_errors[0].splitlines()[0][:300]
    elif load and not load.get("loaded", True):
        result.reason = next((t.message for t in result.tests if t.kind == "load"), "your submission could not be imported")
    else:
        failed = [t for t in result.tests if t.status in ("failed", "partial")]
        if failed:
            first = failed[0]
            why = first.message.splitlines()[0][:200] if first.message else first.kind
            result.reason = f"{len(failed)} of {len(result.tests)} tests not fully passed; first: {first.name}: {why}"
