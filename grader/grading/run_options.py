"""How to grade, as the commands (`check`, `grade`, `validate`) choose it, and the check that the
data sets a mode grades on are there before anything is graded.

Separate from the run itself (grader.grading.runner): the options are the contract between the
commands and the grading engine, read by every part of it.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from grader.boundary.sandbox import DEFAULT_SANDBOX, Isolation
from grader.core.errors import ToolkitError
from grader.core.spec import Spec


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
