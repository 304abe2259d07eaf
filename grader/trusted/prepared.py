"""Preparation paid once per command: the preparing process's side of `@prepared`.

A conftest marks the functions with `grader.authoring.prepared` (the marker, the fingerprint and the
test process's reading live there, so that assignments import nothing of this room). Here a trusted
pytest run that only collects builds every prepared value the collected tests use and writes it, as
.npy files and a manifest with the run's fingerprint, into a 0700 folder of the command's
(`new_folder`), before the first submission.
"""
from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from grader.authoring.course_key import CourseKey
from grader.authoring.prepared import MANIFEST, REGISTRY, fingerprint
from grader.core.contracts import RunFile


def build(session: pytest.Session, run: RunFile) -> None:
    """Build every prepared value the collected tests use and write it to `run.prepare_into`."""
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
