"""Preparing the tests' data once, before the first submission: the assignment's @prepared
functions (grader.trusted.prepared) run in a trusted process of their own, and every run then
reads the arrays they built instead of building them again.

Separate from grading a submission (grader.grading.runner): it runs once per command, its failure
costs time only (each run then builds its data itself), and it has its own progress line.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.boundary.sandbox import require_isolation
from grader.core.spec import Spec
from grader.grading.run_options import RunOptions
from grader.grading.trusted_process import how_it_ended, prestart_zygotes, pytest_command, run_file, run_trusted

log = logging.getLogger(__name__)
PREPARE_TIMEOUT_S = 3600   # the trusted process that prepares the data is stopped after this


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
        run = run_file(spec, options, mode, tmp / "report.json", prepare_into=folder)
        cmd, env = pytest_command(spec, options, tmp, run, None, "--collect-only")
        proc, timed_out, _ = run_trusted(spec, iso, cmd, env, tmp, PREPARE_TIMEOUT_S, cancel)
        # 5: no test collected (nothing to prepare, and the manifest says so)
        if timed_out or proc.returncode not in (0, 5) or not (folder / prepared.MANIFEST).exists():
            why = "ran past its time limit" if timed_out else how_it_ended(proc.returncode)
            tail = (tmp / "pytest.log").read_text(errors="replace")[-1500:]
            log.warning(f"preparing the tests' data {why}; each submission's tests build it themselves\n{tail}")
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
    """What was prepared, on a terminal only: a progress line, like the status line before it (not a log record)."""
    if sys.stderr.isatty():
        names = json.loads((folder / "manifest.json").read_text())["items"]
        print(f"prepared {', '.join(names) or 'nothing to prepare'} for {spec.name} in {seconds:.1f} s",
              file=sys.stderr, flush=True)
