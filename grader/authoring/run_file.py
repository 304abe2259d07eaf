"""The run file in the trusted process: read once from $DLGRADE_RUN, checked, kept in `config.stash[RUN_KEY]`.

It lives with the authoring helpers because an assignment's conftest reads the run too (the graded
code file, whether the command prepared data): the plugin, its fixtures, `@prepared` and a conftest
all reach it here, and the dependency goes one way (trusted imports authoring, never back)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.core.contracts import ContractError, RunFile

RUN_ENV = "DLGRADE_RUN"   # names the file (written by grader.grading.runner)
RUN_KEY = pytest.StashKey[RunFile]()


def load_run(config: pytest.Config) -> RunFile | None:
    """This process's run (read on first use), or None in a plain pytest run."""
    if RUN_KEY in config.stash:
        return config.stash[RUN_KEY]
    path = os.environ.get(RUN_ENV)
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ContractError(f"the run file {path} cannot be read: {e}") from e
    run = RunFile.from_json(data, where=f"the run file {path}")
    config.stash[RUN_KEY] = run
    return run


def current_run(config: pytest.Config) -> RunFile:
    """The run, for a fixture: outside a dlgrade run the test is skipped with a reason that says so."""
    if RUN_KEY not in config.stash:
        pytest.skip("not a dlgrade run (use `dlgrade check` or `dlgrade grade`)")
    return config.stash[RUN_KEY]
