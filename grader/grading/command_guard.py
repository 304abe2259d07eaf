"""What a whole grading command holds around its submissions: on rung (c) the toolkit's checkout,
the assignment, its reference, the inputs, the data and the output folder closed to every user but
root; then, on every sandboxed rung, the canary check before the first submission is graded.

Separate from grading one submission (grader.grading.runner), which closes only its own folders:
this runs once per command and decides whether the command may start at all.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from grader.boundary.mount_view import ENGINE_DIR
from grader.boundary.sandbox import Isolation, hide_from_workers
from grader.core.assignments import reference_dir
from grader.core.errors import GraderError
from grader.core.spec import Limits, Spec

log = logging.getLogger(__name__)


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
            log.warning(f"the canary check could not start a worker on rung {iso.level!r} ({e}); "
                        "every submission whose worker cannot start is recorded as the grader's error")
            yield None
            return
        require_no_leak(report)
        yield report
