"""Preparation paid once per command: keyed test data built before grading starts, not per submission.

An assignment's conftest marks a function that builds trusted-side arrays with `@prepared`:

    from grader.trusted.prepared import prepared

    @prepared
    def ae_data(mode, settings, data_dir, course_key):
        return load_ae_data(mode, settings, data_dir, course_key)   # an array, a tuple or a dict of arrays

The function becomes a session fixture of the same name. `grade`, `check` and `validate` run every
prepared function that the collected tests use ONCE, in a trusted process of their own, before the
first submission (a progress line says so), and store the arrays as .npy files in a 0700 folder of
the command's: no worker can reach it (a bubblewrap or namespace worker sees a private /tmp, a rung
(c) uid cannot enter a root-owned 0700 folder). Each submission's trusted process then maps them
(np.load, copy-on-write mmap) instead of building them again. The folder is only used while its
fingerprint (course key, data mode, data folder, and the assignment's test files) is the run's own;
otherwise, and wherever nothing was prepared (a plain pytest run, a Ray node without the folder),
the fixture builds the arrays in place, with the same function: the values, and so the grades, are
the same either way.

A prepared function's arguments are named after plugin fixtures: mode, settings, thresholds,
data_dir, course_key, spec, seed. It must be deterministic given them (draw randomness from
course_key only).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from grader.core.contracts import RunFile
from grader.trusted.run_file import RUN_KEY

ARGUMENTS = ("mode", "settings", "thresholds", "data_dir", "course_key", "spec", "seed")
MANIFEST = "manifest.json"
REGISTRY: dict[str, object] = {}   # name -> the prepared function (filled as conftests are imported)


def prepared(fn):
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


# --- the preparing process's side (a trusted pytest run that collects and builds) ---------------------

def build(session: pytest.Session, run: RunFile) -> None:
    """Build every prepared value the collected tests use and write it to `run.prepare_into`."""
    from grader.trusted.course_key import CourseKey
    folder = run.prepare_into
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ()) if name in REGISTRY}
    spec, mode = run.spec, run.mode
    values = {"mode": mode, "spec": spec, "settings": spec.mode(mode).settings, "thresholds": spec.mode(mode).thresholds,
              "seed": spec.seed, "course_key": CourseKey(bytes.fromhex(run.course_key)), "data_dir": run.data_dir}
    required = spec.mode(mode).requires
    items = {}
    for name in sorted(wanted):
        fn = REGISTRY[name]
        if required and (values["data_dir"] is None or any(not (values["data_dir"] / r).exists() for r in required)):
            continue  # the test process's data_dir fixture skips with its own reason
        value = fn(**{p: values[p] for p in inspect.signature(fn).parameters})
        kind, keys, arrays = _flatten(name, value)
        for i, a in enumerate(arrays):
            np.save(folder / f"{name}.{i}.npy", a, allow_pickle=False)
        items[name] = {"kind": kind, "keys": keys}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint(run), "items": items}))
    os.replace(tmp, folder / MANIFEST)


def _flatten(name: str, value) -> tuple[str, list, list[np.ndarray]]:
    if isinstance(value, np.ndarray):
        return "array", [0], [value]
    if isinstance(value, tuple) and all(isinstance(v, np.ndarray) for v in value):
        return "tuple", list(range(len(value))), list(value)
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in value.items()):
        return "dict", list(value), list(value.values())
    raise TypeError(f"@prepared {name}: return an array, a tuple of arrays or a dict of str -> array, "
                    f"not {type(value).__name__}")


def new_folder() -> Path:
    """A 0700 folder of this process's (the trusted side's), removed when the process ends."""
    import atexit
    path = Path(tempfile.mkdtemp(prefix="dlgrade-prepared-"))
    path.chmod(0o700)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
