"""Grading one submission: workspace -> trusted pytest process (which drives the worker) -> result.

The tests run in a separate trusted process per submission so that parallel grading is simple,
a test-suite crash cannot take the batch down, and a wall-clock limit can stop everything at
once. Whatever happens, a `SubmissionResult` comes back.
"""
from __future__ import annotations

import contextlib
import dataclasses
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

from grader.boundary import zygote
from grader.boundary.client import WallClockTimeout
from grader.boundary.cpu_time import machine_loaded
from grader.core.assignments import reference_dir, reference_submission
from grader.core.contracts import ContractError, Report, RunFile
from grader.core.errors import INTERNAL_ERROR, UNEVALUABLE, GraderError, GradingCancelled, ToolkitError
from grader.grading.control import CONTROLS, settle, tests_signature
from grader.core.results import NOT_FULL, SubmissionResult, SubmissionStatus, TestResult, TestStatus
from grader.boundary.cgroups import Cgroup
from grader.boundary.mount_view import ENGINE_DIR
from grader.boundary.sandbox import (DEFAULT_SANDBOX, WORKER_ZYGOTE_ENV, Isolation, hide_from_workers, require_isolation,
                                     worker_scratch, worker_zygote, zygote_environment)
from grader.core.spec import Limits, Spec, spec_to_json
from grader.core.vocabulary import TestKind
from grader.intake.headline import reading_headline
from grader.intake.workspace import MODULE_FILE, dropped_notes, prepare_workspace, submission_id


@dataclass
class RunOptions:
    """How to grade, shared by `check`, `grade` and `validate`."""
    mode: str | None = None          # data mode; None = the spec's default
    data_dir: Path | None = None
    include_hidden: bool = True
    sandbox: str = DEFAULT_SANDBOX   # "auto", "strict" or "off"
    isolation: Isolation | None = None  # the rung the command probed once (None: probe here, once per process)
    gpu: str | None = None           # None: CPU only; "all" or device ids such as "0" or "1,2"
    threads: int = 1
    keep: Path | None = None         # copy images and logs here (the submission's output folder)
    course_key: bytes | None = None  # the secret hidden data derives from (grader.trusted.course_key); None: ephemeral
    prepared: Path | None = None     # the command's prepared arrays (grader.trusted.prepared); None: built in each run
    # a wall-clock limit hit while the machine was busy: "defer" (grade's batch: it retries the submission
    # alone afterwards, see retry_alone), "retry" (that retry: it counts, and the feedback says it was
    # retried) or "count" (check, validate: it counts now)
    busy_timeouts: str = "count"


BUSY = "while the machine was busy"   # in a reason or message: a wall-clock limit the machine's load may have hit
RETRIED = "graded again alone after the batch, it ran out of time again, so it counts"


def retry_alone(result: SubmissionResult) -> bool:
    """A result of a deferring run (busy_timeouts="defer") that hit a wall-clock limit while the machine
    was busy: `grade` grades it again alone, after the rest of the batch, before it counts."""
    return (any(t.kind == WALL_TIMEOUT for t in result.tests)
            or (result.status == SubmissionStatus.TIMEOUT and BUSY in result.reason))


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
def guarded_command(spec: Spec, iso: Isolation, *, inputs: list[Path], out: Path, data_dir: Path | None = None,
                    limits: Limits | None = None):
    """For a whole grading command: on rung (c) the toolkit's checkout, the assignment, its reference,
    the inputs, the data and the output folder closed to every user but root; then, on every
    sandboxed rung, the canary check (grader.boundary.canary) before the first submission. Yields
    its report (None on rungs (d) and off); raises ToolkitError naming what a worker could reach."""
    from grader.boundary.canary import probe_canaries, require_no_leak
    from grader.boundary.closed_folders import hide_other_users_processes
    inputs = [Path(p) for p in inputs]
    with hide_from_workers(iso, spec.path, reference_dir(spec), *inputs, out, data_dir) as closed:
        if iso.level in ("none", "off"):
            yield None
            return
        if iso.level == "uid":
            hide_other_users_processes()
        toolkit = ENGINE_DIR.parent
        places = {"the toolkit's checkout": toolkit, "the checkout's .git": toolkit / ".git",
                  "the assignments": spec.path.parent, "this assignment": spec.path,
                  "its hidden tests": spec.path / "tests" / "hidden", "the reference": reference_dir(spec),
                  "the output folder": out, "the data folder": data_dir,
                  **{f"the inputs ({p.name})": p for p in inputs if p.is_dir()}}
        try:
            report = probe_canaries(iso, limits or spec.limits, places, files=[p for p in inputs if p.is_file()],
                                    closed=closed or [toolkit, spec.path, out, *inputs])
        except GraderError as e:
            # no worker starts here at all: no student code can run either, so nothing can leak; each
            # submission then meets the same failure and gets its row as the grader's error (regraded next run)
            print(f"dlgrade: WARNING: the canary check could not start a worker on rung {iso.level!r} ({e}); "
                  "every submission whose worker cannot start is recorded as the grader's error",
                  file=sys.stderr, flush=True)
            yield None
            return
        require_no_leak(report)
        yield report


def _trusted_environment() -> dict[str, str]:
    """The trusted zygote's own environment: the engine importable, one OpenBLAS thread (no thread may
    exist at a fork; each forked test process gets the run's environment in full)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ENGINE_DIR.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}


# A command that grades several submissions has its zygotes import these once for all of them:
# what a worker's first optimizer imports (torch.optim pulls in torch._dynamo: 2-4 s on a loaded
# 2-core machine), and what the trusted side's feedback pictures import (grader.authoring.pictures: matplotlib, ~1 s)
BATCH_PRELOAD = {zygote.WORKER: ("torch._dynamo",),
                 zygote.TRUSTED: ("matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.ticker")}


def prestart_zygotes(*, batch: bool = False) -> None:
    """Start this process's two zygotes side by side, without waiting (once per process); `batch`: the
    worker zygote also imports BATCH_PRELOAD (`check` grades one submission and skips it)."""
    preload = BATCH_PRELOAD if batch else {}
    zygote.prestart(zygote.TRUSTED, _trusted_environment(), preload=preload.get(zygote.TRUSTED, ()))
    zygote.prestart(zygote.WORKER, zygote_environment(), isolated=True, preload=preload.get(zygote.WORKER, ()))


def _start_trusted(cmd: list[str], env: dict, cwd: Path, out, bound: Cgroup):
    """The trusted pytest process, in its cgroup before it runs: forked by this process's trusted
    zygote (pytest and torch imported once), or started cold where there is none."""
    z = zygote.shared(zygote.TRUSTED, _trusted_environment())
    if z is not None:
        try:
            return zygote.spawn(z.address, {"args": cmd[3:], "env": env, "cwd": str(cwd)}, [out.fileno()],
                                place=lambda pid: _place(bound, pid))
        except zygote.Unavailable as e:
            print(f"dlgrade: WARNING: the trusted zygote cannot fork a test process ({e}); starting it cold",
                  file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                            cwd=cwd, start_new_session=True)
    _place(bound, proc.pid)  # (the cold start's first instructions run outside it: the grader's own code)
    return proc


def _place(bound: Cgroup, pid: int) -> None:
    try:
        bound.add(pid)
    except OSError:
        pass


def _test_dirs(spec: Spec, options: RunOptions) -> list[Path]:
    return [spec.public_tests] + ([spec.hidden_tests] if options.include_hidden and spec.hidden_tests.exists() else [])


def _run_file(spec: Spec, options: RunOptions, mode: str, report: Path, **fields) -> RunFile:
    """The run file of a trusted process: what every run carries, and `fields` for its own job."""
    return RunFile(assignment=spec.path, spec=spec, mode=mode, report=report,
                   data_dir=Path(options.data_dir).resolve() if options.data_dir else None,
                   course_key=options.course_key.hex() if options.course_key else None, **fields)


def _pytest_command(spec: Spec, options: RunOptions, tmp: Path, run: RunFile, iso: Isolation | None,
                    *extra: str, select: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The trusted pytest process's command line and environment for `run` (written to tmp/run.json);
    `select`: only these node ids (relative to the assignment folder, as the report writes them)."""
    (tmp / "run.json").write_text(json.dumps(run.to_json()))
    (tmp / "pytest.ini").write_text("[pytest]\n")
    dirs = [str(d) for d in _test_dirs(spec, options)] if not select else [str(spec.path / n) for n in select]
    cmd = [sys.executable, "-m", "pytest", *dirs, "-p", "grader.trusted.plugin", "-p", "no:cacheprovider",
           "-c", str(tmp / "pytest.ini"), "--rootdir", str(spec.path), "--import-mode=importlib",
           "-q", "--no-header", "-rN", "--tb=short", "-W", "ignore::DeprecationWarning", *extra]
    env = {**os.environ, "DLGRADE_RUN": str(tmp / "run.json"),
           "PYTHONPATH": os.pathsep.join([str(ENGINE_DIR.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONDONTWRITEBYTECODE": "1",
           # only the grader's plugin: third-party ones installed here (randomly, xdist, hypothesis)
           # would reorder, reseed or slow down the grading run
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop(WORKER_ZYGOTE_ENV, None)
    address = worker_zygote(iso, spec.limits) if iso is not None else None  # workers are forked, not started cold
    if address:
        env[WORKER_ZYGOTE_ENV] = address
    return cmd, env


WALL_TIMEOUT = WallClockTimeout.kind


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
PREPARE_TIMEOUT_S = 3600


def prepare(spec: Spec, options: RunOptions, *, batch: bool = True, cancel: threading.Event | None = None) -> RunOptions:
    """Run the assignment's @prepared functions once (grader.trusted.prepared), before the first submission,
    in a trusted process of their own; the options returned carry the folder, and a course key drawn
    here where there was none (so the runs use the data prepared for them). If preparing fails, it
    says so and each run builds its data itself, as without preparation. `batch`: the zygotes start
    with a batch's preloads (see prestart_zygotes)."""
    from grader.trusted import prepared
    from grader.trusted.course_key import new_key
    mode = options.mode or spec.default_mode
    key = options.course_key or new_key()
    folder = prepared.new_folder()
    options = dataclasses.replace(options, course_key=key)
    prestart_zygotes(batch=batch)
    iso = options.isolation or require_isolation(options.sandbox)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlgrade-prep-") as tmp, _say_preparing(spec):
        tmp = Path(tmp)
        run = _run_file(spec, options, mode, tmp / "report.json", prepare_into=folder)
        cmd, env = _pytest_command(spec, options, tmp, run, None, "--collect-only")
        bound = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-trusted-{os.getpid()}-{time.monotonic_ns()}",
                       Limits(memory_mb=spec.limits.trusted_memory_mb, max_processes=4096))
        with open(tmp / "pytest.log", "wb") as out:
            try:
                proc = _start_trusted(cmd, env, tmp, out, bound)
            except BaseException:
                bound.remove()
                raise
            try:
                timed_out = _wait(proc, PREPARE_TIMEOUT_S, cancel)
            finally:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                bound.kill_all()
                bound.remove()
        # 5: no test collected (nothing to prepare, and the manifest says so)
        if timed_out or proc.returncode not in (0, 5) or not (folder / prepared.MANIFEST).exists():
            why = "ran past its time limit" if timed_out else _ended(proc.returncode)
            tail = (tmp / "pytest.log").read_text(errors="replace")[-1500:]
            print(f"dlgrade: WARNING: preparing the tests' data {why}; each submission's tests build it "
                  f"themselves\n{tail}", file=sys.stderr, flush=True)
            return options
    options = dataclasses.replace(options, prepared=folder)
    _say_prepared(spec, folder, time.monotonic() - started)
    return options


@contextlib.contextmanager
def _say_preparing(spec: Spec):
    """A progress line on a terminal while the preparation runs (nothing when stderr is not one)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    with Console(stderr=True).status(f"preparing the tests of {spec.name} (once, before grading)"):
        yield


def _say_prepared(spec: Spec, folder: Path, seconds: float) -> None:
    if sys.stderr.isatty():
        names = json.loads((folder / "manifest.json").read_text())["items"]
        print(f"prepared {', '.join(names) or 'nothing to prepare'} for {spec.name} in {seconds:.1f} s",
              file=sys.stderr, flush=True)


def _blame_by_control(spec: Spec, mode: str, options: RunOptions, result: SubmissionResult,
                      cancel: threading.Event | None) -> None:
    """Settle each `unevaluable` test by the reference solution's run of it (grader.grading.control)."""
    nodeids = [t.nodeid for t in result.tests if t.kind == UNEVALUABLE]
    batch_key = (str(spec.path), mode, options.include_hidden, options.course_key, str(options.data_dir),
                 json.dumps(spec_to_json(spec), sort_keys=True, default=str),
                 tests_signature(_test_dirs(spec, options)))

    def run_reference(selected: list[str]) -> dict[str, TestResult]:
        with tempfile.TemporaryDirectory(prefix="dlgrade-control-") as tmp:
            try:
                reference = reference_submission(spec, mode, Path(tmp))
            except ToolkitError as e:  # no reference to compare with: nothing clears the submission
                print(f"dlgrade: WARNING: no control run for {', '.join(selected)}: {e}", file=sys.stderr, flush=True)
                return {}
            control = grade_submission(spec, reference, dataclasses.replace(options, keep=None), cancel=cancel,
                                       select=selected)
        return {t.nodeid: t for t in control.tests}

    settle(result, CONTROLS.outcomes(batch_key, nodeids, run_reference))


def _busy_timeouts(result: SubmissionResult, policy: str) -> None:
    """Tests stopped by a wall-clock limit while the machine was busy (kind "wall-timeout"): left for the
    retry alone ("defer"), or counted as timeouts with words that say what happened."""
    if policy == "defer":
        return
    for t in result.tests:
        if t.kind == WALL_TIMEOUT:
            t.kind = TestKind.TIMEOUT
            first = t.message.split("; it is graded again alone", 1)[0]
            t.message = f"{first}; {RETRIED}" if policy == "retry" else f"{first}; the worker was stopped"


def _run_tests(spec: Spec, ws, mode: str, options: RunOptions, tmp: Path, result: SubmissionResult,
               cancel: threading.Event | None = None, *, iso: Isolation, scratch: Path,
               select: list[str] | None = None) -> None:
    report_dir = tmp / "report"
    report_dir.mkdir()
    report = report_dir / "report.json"
    run = _run_file(spec, options, mode, report,
                    # ws.work is the pristine tree: each worker runs on its own copy under scratch/
                    workspace=ws.work, scratch=scratch, artifacts_dir=ws.original, module_file=MODULE_FILE,
                    code_file=ws.code_file or "", cell_starts=[list(c) for c in ws.cell_starts or []],
                    isolation=iso.to_json(), gpu=options.gpu,
                    threads=spec.limits.threads or options.threads,  # the spec's fixed count wins (reproducible re-runs)
                    prepared=options.prepared)
    cmd, env = _pytest_command(spec, options, tmp, run, iso, select=select)
    log = tmp / "pytest.log"
    # the trusted side's own memory bound (its workers move on into cgroups of their own)
    bound = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-trusted-{os.getpid()}-{time.monotonic_ns()}",
                   Limits(memory_mb=spec.limits.trusted_memory_mb, max_processes=4096))
    with open(log, "wb") as out:
        try:
            proc = _start_trusted(cmd, env, tmp, out, bound)
        except BaseException:
            bound.remove()
            raise
        try:
            timed_out = _wait(proc, spec.limits.submission_timeout_s, cancel)
            busy = timed_out and machine_loaded()  # at that moment: the load average lags, never leads
        finally:
            # the trusted process and anything it started (workers) go together
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            bound.kill_all()
            bound.remove()
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
    broken = [t for t in result.tests if t.kind == TestKind.GRADER_ERROR]
    _busy_timeouts(result, options.busy_timeouts)
    if timed_out:
        result.status = SubmissionStatus.TIMEOUT
        result.reason = (f"grading stopped after {spec.limits.submission_timeout_s:g} s (the limit for one submission); "
                         "tests that had not finished score 0")
        if busy and options.busy_timeouts == "defer":
            result.reason += f" ({BUSY}: it is graded again alone before this counts)"
        elif options.busy_timeouts == "retry":
            result.reason += f" ({RETRIED})"
    elif result.grader_errors:  # the tests themselves are broken (a collection error, a missing marker)
        result.status = SubmissionStatus.ERROR
        result.reason = f"{INTERNAL_ERROR}: " + result.grader_errors[0].splitlines()[0][:300]
    elif not data or cut_short:
        result.status = SubmissionStatus.ERROR
        result.reason = (f"{INTERNAL_ERROR}: the test process {_ended(proc.returncode)} "
                         + ("without a report" if not data else f"after {finished} of {len(result.tests)} tests"))
        result.grader_errors.extend([unreadable] if unreadable else [])
        result.grader_errors.append(log.read_text(errors="replace")[-3000:])
    elif broken:
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
