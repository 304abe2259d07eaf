"""The trusted pytest process that grades one submission (or prepares the tests' data): its run
file, command line and environment, its start (forked by the trusted zygote, or cold), its cgroup,
and its end: run to completion or to a time limit, then killed with everything it started.

Separate from what a run means (grader.grading.runner reads the report and settles the result;
grader.grading.preparation prepares the data): this is the process's life, the same for both.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.boundary import zygote
from grader.boundary.cgroups import Cgroup
from grader.boundary.cpu_time import machine_loaded
from grader.boundary.inside.fork_request import PytestForkRequest
from grader.boundary.mount_view import ENGINE_DIR
from grader.boundary.sandbox import WORKER_ZYGOTE_ENV, Isolation, worker_zygote, zygote_environment
from grader.core.contracts import RunFile
from grader.core.errors import GradingCancelled
from grader.core.spec import Limits, Spec
from grader.grading.run_options import RunOptions

log = logging.getLogger(__name__)


def trusted_environment() -> dict[str, str]:
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
    zygote.prestart(zygote.TRUSTED, trusted_environment(), preload=preload.get(zygote.TRUSTED, ()))
    zygote.prestart(zygote.WORKER, zygote_environment(), isolated=True, preload=preload.get(zygote.WORKER, ()))


def _start_trusted(cmd: list[str], env: dict, cwd: Path, out, bound: Cgroup):
    """The trusted pytest process, in its cgroup before it runs: forked by this process's trusted
    zygote (pytest and torch imported once), or started cold where there is none."""
    z = zygote.shared(zygote.TRUSTED, trusted_environment())
    if z is not None:
        try:
            return zygote.spawn(z.address, PytestForkRequest(args=tuple(cmd[3:]), cwd=str(cwd), env=env), [out.fileno()],
                                place=lambda pid: _place(bound, pid))
        except zygote.Unavailable as e:
            log.warning(f"the trusted zygote cannot fork a test process ({e}); starting it cold")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                            cwd=cwd, start_new_session=True)
    _place(bound, proc.pid)  # (the cold start's first instructions run outside it: the grader's own code)
    return proc


def _place(bound: Cgroup, pid: int) -> None:
    """Put `pid` into the cgroup; a cgroup that refuses it does not stop the run."""
    try:
        bound.add(pid)
    except OSError:
        pass


def graded_test_dirs(spec: Spec, options: RunOptions) -> list[Path]:
    """The public tests, and the hidden ones where the options include them and the assignment has them."""
    return [spec.public_tests] + ([spec.hidden_tests] if options.include_hidden and spec.hidden_tests.exists() else [])


def run_file(spec: Spec, options: RunOptions, mode: str, report: Path, **fields) -> RunFile:
    """The run file of a trusted process: what every run carries, and `fields` for its own job."""
    return RunFile(assignment=spec.path, spec=spec, mode=mode, report=report,
                   data_dir=Path(options.data_dir).resolve() if options.data_dir else None,
                   course_key=options.course_key.hex() if options.course_key else None, **fields)


def pytest_command(spec: Spec, options: RunOptions, tmp: Path, run: RunFile, iso: Isolation | None,
                    *extra: str, select: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The trusted pytest process's command line and environment for `run` (written to tmp/run.json);
    `select`: only these node ids (relative to the assignment folder, as the report writes them)."""
    (tmp / "run.json").write_text(json.dumps(run.to_json()))
    (tmp / "pytest.ini").write_text("[pytest]\n")
    dirs = [str(d) for d in graded_test_dirs(spec, options)] if not select else [str(spec.path / n) for n in select]
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


def how_it_ended(code: int | None) -> str:
    """How the trusted process ended, in words for a reason ("was killed (SIGKILL: out of memory?)")."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"was killed ({name}{': out of memory?' if -code == signal.SIGKILL else ''})"
    if code == 3:
        return "stopped with an internal pytest error (a full disk?)"
    return f"ended with exit code {code}"


def run_trusted(spec: Spec, iso: Isolation, cmd: list[str], env: dict[str, str], tmp: Path, timeout: float,
                cancel: threading.Event | None) -> tuple[subprocess.Popen, bool, bool]:
    """Run the trusted process to its end or to `timeout` (its output in tmp/pytest.log), then kill it
    and everything it started: (the process, whether it ran past `timeout`, whether the machine was
    busy at that moment). Raises GradingCancelled when `cancel` is set."""
    # the trusted side's own memory bound (its workers move on into cgroups of their own)
    bound = Cgroup(iso.cgroup if iso.level != "off" else None, f"dlgrade-trusted-{os.getpid()}-{time.monotonic_ns()}",
                   Limits(memory_mb=spec.limits.trusted_memory_mb, max_processes=4096))
    with open(tmp / "pytest.log", "wb") as out:
        try:
            proc = _start_trusted(cmd, env, tmp, out, bound)
        except BaseException:
            bound.remove()
            raise
        try:
            timed_out = _wait(proc, timeout, cancel)
            busy = timed_out and machine_loaded()  # at that moment: the load average lags, never leads
        finally:
            # the trusted process and anything it started (workers) go together
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            bound.kill_all()
            bound.remove()
    return proc, timed_out, busy
