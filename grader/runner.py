"""Grading one submission: workspace -> trusted pytest process (which drives the worker) -> result.

The tests run in a separate trusted process per submission so that parallel grading is simple,
a test-suite crash cannot take the batch down, and a wall-clock limit can stop everything at
once. Whatever happens, a `SubmissionResult` comes back.
"""
from __future__ import annotations

import contextlib
import glob
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

from grader.assignments import reference_dir
from grader.errors import INTERNAL_ERROR, GradingCancelled, ToolkitError
from grader.results import SubmissionResult, TestResult
from grader.sandbox import ENGINE_DIR, Cgroup, Isolation, hide_from_workers, require_isolation
from grader.spec import Limits, Spec
from grader.workspace import MODULE_FILE, prepare_workspace, submission_id


@dataclass
class RunOptions:
    """How to grade, shared by `check`, `grade` and `validate`."""
    mode: str | None = None          # data mode; None = the spec's default
    data_dir: Path | None = None
    include_hidden: bool = True
    sandbox: str = "auto"            # "auto", "strict" or "off"
    isolation: Isolation | None = None  # the rung the command probed once (None: probe here, once per process)
    gpu: str | None = None           # None: CPU only; "all" or device ids such as "0" or "1,2"
    threads: int = 1
    keep: Path | None = None         # copy images and logs here (the submission's output folder)
    course_key: bytes | None = None  # the secret hidden data derives from (grader.course_key); None: ephemeral


def require_data(spec: Spec, mode: str | None, data_dir: Path | None) -> None:
    """Raise ToolkitError (one line) unless the data sets of `mode` are in `data_dir`. `check`,
    `grade` and `validate` call it before grading anything: a full-mode run without its data would
    otherwise skip the tests that need it and grade the rest."""
    name = mode or spec.default_mode
    m = spec.mode(name)
    if not m.needs_data_dir:
        return
    wanted = ", ".join(m.requires) if m.requires else "one of " + ", ".join(m.requires_any)
    if data_dir is None:
        raise ToolkitError(f"mode {name!r} of {spec.name} grades on data sets: give --data-dir, a folder holding {wanted}")
    root = Path(data_dir)
    if not root.is_dir():
        raise ToolkitError(f"--data-dir {root}: no such folder")
    missing = [r for r in m.requires if not (root / r).exists()]
    if missing:
        raise ToolkitError(f"--data-dir {root}: mode {name!r} of {spec.name} needs {', '.join(missing)} there, "
                           f"missing ({len(m.requires) - len(missing)} of {len(m.requires)} found)")
    if m.requires_any and not any(glob.glob(os.path.join(glob.escape(str(root)), p)) for p in m.requires_any):
        raise ToolkitError(f"--data-dir {root}: mode {name!r} of {spec.name} needs one of {', '.join(m.requires_any)} "
                           "there; none found")


def grade_submission(spec: Spec, submission: Path, options: RunOptions, *,
                     cancel: threading.Event | None = None) -> SubmissionResult:
    """Grade one submission. Setting `cancel` stops the tests (and every process they started)
    and raises GradingCancelled instead of returning a result."""
    start = time.monotonic()
    mode = options.mode or spec.default_mode
    result = SubmissionResult(submission_id(Path(submission)), spec.name, mode, total_points=spec.max_points(mode))
    iso = options.isolation or require_isolation(options.sandbox)
    result.isolation = iso.level
    if iso.level == "uid":  # rung (c): other users must not reach the assignment, the reference or the outputs
        hide_from_workers(spec.path, reference_dir(spec), options.keep.parent if options.keep else None)
    try:
        with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp, _worker_scratch() as scratch:
            tmp = Path(tmp)
            ws = prepare_workspace(Path(submission), spec, tmp / "ws")
            result.notes = ws.notes
            if ws.error and ws.internal_error:  # the grader failed to read or copy it
                result.status, result.reason = "error", f"{INTERNAL_ERROR}: {ws.error}"
            elif ws.error:
                result.status, result.reason = "rejected", ws.error
            else:
                _run_tests(spec, ws, mode, options, tmp, result, cancel, iso=iso, scratch=scratch)
            if options.keep is not None and (tmp / "report" / "images").exists():
                shutil.copytree(tmp / "report" / "images", options.keep / "images", dirs_exist_ok=True)
    except OSError as e:  # the grader's own files: a full disk, an unwritable temporary folder
        result.status, result.tests = "error", []
        result.reason = f"{INTERNAL_ERROR}: the grader could not prepare its working files ({e})"
    result.duration = time.monotonic() - start
    return result


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"was killed ({name}{': out of memory?' if -code == signal.SIGKILL else ''})"
    if code == 3:
        return "stopped with an internal pytest error (a full disk?)"
    return f"ended with exit code {code}"


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


@contextlib.contextmanager
def _worker_scratch():
    """Where the workers' copies live: outside the trusted run folder (0700), in a folder any uid may
    pass through but not list (0711), so a rung (c) worker reaches its own copy and nothing else."""
    path = Path(tempfile.mkdtemp(prefix="dlgrade-w-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run_tests(spec: Spec, ws, mode: str, options: RunOptions, tmp: Path, result: SubmissionResult,
               cancel: threading.Event | None = None, *, iso: Isolation, scratch: Path) -> None:
    report_dir = tmp / "report"
    report_dir.mkdir()
    report = report_dir / "report.json"
    run = {
        "assignment": str(spec.path), "mode": mode,
        "data_dir": str(Path(options.data_dir).resolve()) if options.data_dir else None,
        # ws.work is the pristine tree: each worker runs on its own copy under scratch/
        "workspace": str(ws.work), "scratch": str(scratch), "artifacts_dir": str(ws.original),
        "module_file": MODULE_FILE, "course_key": options.course_key.hex() if options.course_key else None,
        "code_file": ws.code_file, "cell_starts": ws.cell_starts, "report": str(report),
        "isolation": iso.to_json(), "gpu": options.gpu,
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
        # the trusted side's own memory bound (its workers move on into cgroups of their own)
        bound = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-trusted-{proc.pid}-{time.monotonic_ns()}",
                       Limits(memory_mb=spec.limits.trusted_memory_mb, max_processes=4096))
        try:
            bound.add(proc.pid)
        except OSError:
            pass
        try:
            timed_out = _wait(proc, spec.limits.submission_timeout_s, cancel)
        finally:
            # the trusted process and anything it started (workers) go together
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            bound.kill_all()
            bound.remove()
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
    result.isolation_warning = iso.warning
    load = data.get("load") or {}
    if not options.include_hidden:  # `check`: out of the public tests of this mode
        result.total_points = round(sum(t.max_score for t in result.tests), 4)
    # the test process ended on its own before every test had finished: killed (the machine's
    # memory), or pytest broke down (a full disk): the grader's failure, never the student's zero
    unreached = [t for t in result.tests if t.status == "running" or (t.status, t.kind) == ("failed", "not-run")]
    cut_short = not timed_out and (proc.returncode not in (0, 1) or bool(unreached))
    finished = len(result.tests) - len(unreached)
    for t in result.tests:
        if t.status == "running":  # the test the time limit (or the process's end) interrupted
            t.status, t.kind, t.score = "failed", ("not-run" if cut_short else "timeout"), 0.0
    broken = [t for t in result.tests if t.kind == "grader-error"]
    if timed_out:
        result.status = "timeout"
        result.reason = (f"grading stopped after {spec.limits.submission_timeout_s:g} s (the limit for one submission); "
                         "tests that had not finished score 0")
    elif result.grader_errors:  # the tests themselves are broken (a collection error, a missing marker)
        result.status = "error"
        result.reason = f"{INTERNAL_ERROR}: " + result.grader_errors[0].splitlines()[0][:300]
    elif not data or cut_short:
        result.status = "error"
        result.reason = (f"{INTERNAL_ERROR}: the test process {_ended(proc.returncode)} "
                         + ("without a report" if not data else f"after {finished} of {len(result.tests)} tests"))
        result.grader_errors.append(log.read_text(errors="replace")[-3000:])
    elif broken:
        result.status = "error"
        result.reason = f"{INTERNAL_ERROR}: " + (broken[0].message.splitlines() or [""])[0][:400]
    elif load and not load.get("loaded", True):
        result.reason = next((t.message for t in result.tests if t.kind == "load"), "your submission could not be imported")
    else:
        failed = [t for t in result.tests if t.status in ("failed", "partial")]
        if failed:
            first = failed[0]
            why = first.message.splitlines()[0][:200] if first.message else first.kind
            result.reason = f"{len(failed)} of {len(result.tests)} tests not fully passed; first: {first.name}: {why}"
