"""`@prepared`: keyed test data that a conftest builds once per command, not once per submission.

An assignment's conftest marks a function that builds trusted-side arrays with `@prepared`:

    from grader.authoring import prepared

    @prepared
    def ae_data(mode, settings, data_dir, course_key):
        return load_ae_data(mode, settings, data_dir, course_key)   # an array, a tuple or a dict of arrays

The function becomes a session fixture of the same name. `grade`, `check` and `validate` run every
prepared function that the collected tests use ONCE, in a trusted process of their own, before the
first submission (a progress line says so), and store the arrays as .npy files in a 0700 folder of
the command's (grader.trusted.prepared builds them): no worker can reach it (a bubblewrap or
namespace worker sees a private /tmp, a rung (c) uid cannot enter a root-owned 0700 folder). Each
submission's trusted process then maps them (np.load, copy-on-write mmap) instead of building them
again. The folder is only used while its fingerprint (course key, data mode, data folder, and the
assignment's test files) is the run's own; otherwise, and wherever nothing was prepared (a plain
pytest run, a Ray node without the folder), the fixture builds the arrays in place, with the same
function: the values, and so the grades, are the same either way.

A prepared function's arguments are named after plugin fixtures: mode, settings, thresholds,
data_dir, course_key, spec, seed. It must be deterministic given them (draw randomness from
course_key only).

The marker and the reading side live here, with the authoring helpers, so that a conftest needs
nothing of the trusted room; the preparing process's side imports REGISTRY and the fingerprint.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from grader.authoring.run_file import RUN_KEY
from grader.core.contracts import RunFile

ARGUMENTS = ("mode", "settings", "thresholds", "data_dir", "course_key", "spec", "seed")
MANIFEST = "manifest.json"
REGISTRY: dict[str, Callable] = {}   # name -> the prepared function (filled as conftests are imported)


def prepared(fn: Callable) -> Callable:
    """Make `fn` a session fixture whose arrays are built once per command (see the module docstring)."""
    unknown = [p for p in inspect.signature(fn).parameters if p not in ARGUMENTS]
    if unknown:
        raise TypeError(f"@prepared {fn.__name__}: arguments must be among {', '.join(ARGUMENTS)}; got {', '.join(unknown)}")
    REGISTRY[fn.__name__] = fn

    @functools.wraps(fn)
    def fixture(request):
        args = {p: request.getfixturevalue(p) for p in inspect.signature(fn).parameters}
        cached = load(request.config.stash.get(RUN_KEY, None), fn.__name__)
        return cached if cached is not None else fn(**args)

    fixture.__signature__ = inspect.Signature([inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)])
    return pytest.fixture(scope="session", name=fn.__name__)(fixture)


# --- the fingerprint: what the arrays depend on ----------------------------------------------------

def tests_hash(assignment: Path) -> str:
    """A digest of every file under the assignment's tests/ (names and contents)."""
    h = hashlib.sha256()
    root = Path(assignment) / "tests"
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def fingerprint(run: RunFile) -> str:
    """Course key, mode, data folder and test files of a run (the key itself is never written down)."""
    parts = [run.course_key or "", run.mode, str(run.data_dir or ""), tests_hash(run.assignment)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# --- the test process's side -------------------------------------------------------------------------

def load(run: RunFile | None, name: str):
    """The prepared value of `name` for this run, mapped from disk; None when there is none that fits."""
    if run is None or run.prepared is None or not run.course_key:
        return None
    folder = run.prepared
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    entry = manifest.get("items", {}).get(name)
    if entry is None or manifest.get("fingerprint") != fingerprint(run):
        return None
    arrays = [np.load(folder / f"{name}.{i}.npy", mmap_mode="c", allow_pickle=False) for i in range(len(entry["keys"]))]
    if entry["kind"] == "array":
        return arrays[0]
    if entry["kind"] == "tuple":
        return tuple(arrays)
    return dict(zip(entry["keys"], arrays))
