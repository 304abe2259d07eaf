"""Preparation once per command (grader.authoring.prepared): a conftest's @prepared function runs once before a
batch, not once per submission; its arrays are what the key gives; a new key, mode, data folder or
test file is never served stale data; and no worker, on any rung, can read the prepared folder."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.core.assignments import find_assignment
from grader.core.contracts import RunFile
from grader.core.spec import load_spec
from grader.commands.grade import grade_submissions
from grader.authoring import CourseKey
from grader.trusted.course_key import new_key
from grader.trusted.prepared import MANIFEST, fingerprint
from grader.grading.runner import RunOptions, grade_submission, prepare
from rungs import RUNGS, keep_modes, on_rung

SPEC = """\
title: "Prepared: a test assignment with data built once per command"
points: 3
solution: prep.py
seed: 0
api:
  - "double(x)"
  - "peek(path)"
default_mode: embedded
modes:
  embedded:
    description: "keyed numbers, built once"
limits:
  memory_mb: 768
  call_timeout_s: 10
  submission_timeout_s: 60
"""

CONFTEST = '''\
import os
from pathlib import Path

from grader.authoring import prepared

CALLS = Path(__file__).resolve().parents[1] / "calls.log"   # outside tests/: not part of its hash


@prepared
def keyed(mode, course_key):
    with open(CALLS, "a") as f:
        f.write(f"{os.getpid()}\\n")
    rng = course_key.rng("prep", mode)
    return {"x": rng.random(16).astype("float32"), "y": rng.integers(0, 9, 4)}
'''

PUBLIC = '''\
import numpy as np
import pytest


@pytest.mark.points(1)
def test_double(student):
    """double(x) is 2x"""
    assert np.allclose(student.double(np.ones(3)), 2.0)
'''

HIDDEN = '''\
import numpy as np
import pytest

from grader.authoring import current_run


@pytest.mark.points(1)
def test_keyed_data_is_the_keys(keyed, course_key, mode):
    """the prepared arrays are what the course key gives"""
    rng = course_key.rng("prep", mode)
    assert np.array_equal(keyed["x"], rng.random(16).astype("float32"))
    assert np.array_equal(keyed["y"], rng.integers(0, 9, 4))


@pytest.mark.points(1)
def test_worker_cannot_read_the_prepared_folder(student, keyed, pytestconfig):
    """the submission cannot list or read the prepared arrays"""
    folder = current_run(pytestconfig).prepared
    assert folder, "nothing was prepared for this run"
    got = student.peek(str(folder))
    assert got.startswith("denied"), f"the worker read the prepared folder: {got[:200]}"
'''

SUBMISSION = '''\
import os


def double(x):
    return 2 * x


def peek(path):
    """What a hostile submission tries: list the folder, read every file in it."""
    found = []
    try:
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                found.append(f"{name}: {f.read(64)!r}")
    except OSError as e:
        return f"denied: {e}"
    return "read: " + "; ".join(found) if found else "denied: the folder is empty here"
'''


@pytest.fixture
def assignment(tmp_path) -> Path:
    root = tmp_path / "prep"
    (root / "tests" / "public").mkdir(parents=True)
    (root / "tests" / "hidden").mkdir()
    (root / "assignment.yaml").write_text(SPEC)
    (root / "README.md").write_text("# Prepared\n")
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "public" / "test_public.py").write_text(PUBLIC)
    (root / "tests" / "hidden" / "test_hidden.py").write_text(HIDDEN)
    tmp_path.chmod(0o755)  # rung (c): the parents must be passable (the grader hides the assignment itself)
    return root


def _submissions(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        (folder / f"student{i}.py").write_text(SUBMISSION)
    return folder


def _calls(assignment: Path) -> int:
    path = assignment / "calls.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_batch_prepares_once_and_every_submission_gets_the_keys_data(assignment, tmp_path):
    report = grade_submissions(assignment=assignment, submissions=[_submissions(tmp_path / "in", 3)],
                               out=tmp_path / "out", jobs=2)
    assert [r.score for r in report.results] == [3.0] * 3, [(r.reason, [t.message for t in r.tests]) for r in report.results]
    assert _calls(assignment) == 1, "the prepared function must run once for the batch, not per submission"


def test_validate_style_reuse_prepares_once(assignment, tmp_path):
    spec = find_assignment(assignment)
    options = prepare(spec, RunOptions(course_key=new_key()))
    sub = _submissions(tmp_path / "in", 2)
    for path in sorted(sub.iterdir()):
        result = grade_submission(spec, path, options)
        assert result.score == 3.0, [t.message for t in result.tests]
    assert _calls(assignment) == 1
    assert sorted(p.name for p in options.prepared.iterdir()) == ["keyed.0.npy", "keyed.1.npy", MANIFEST]
    assert options.prepared.stat().st_mode & 0o777 == 0o700


def test_a_new_key_is_never_served_the_old_keys_data(assignment, tmp_path):
    spec = find_assignment(assignment)
    options = prepare(spec, RunOptions(course_key=new_key()))
    other = RunOptions(course_key=new_key(), prepared=options.prepared)  # a stale folder, another key
    result = grade_submission(spec, _submissions(tmp_path / "in", 1) / "student0.py", other)
    assert result.score == 3.0, [t.message for t in result.tests]  # the hidden test compares with the new key's data
    assert _calls(assignment) == 2, "a folder prepared for another key must be rebuilt in place, not used"


def test_the_fingerprint_follows_key_mode_data_and_test_files(assignment, tmp_path):
    run = RunFile(assignment=assignment, spec=load_spec(assignment), mode="embedded", report=tmp_path / "report.json",
                  course_key=new_key().hex())
    base = fingerprint(run)
    assert fingerprint(RunFile.from_json(run.to_json())) == base
    assert fingerprint(dataclasses.replace(run, course_key=new_key().hex())) != base
    assert fingerprint(dataclasses.replace(run, mode="full")) != base
    assert fingerprint(dataclasses.replace(run, data_dir=tmp_path)) != base
    (assignment / "tests" / "hidden" / "test_hidden.py").write_text(HIDDEN + "\n# edited\n")
    assert fingerprint(run) != base
    assert run.course_key not in json.dumps(base)


def test_the_key_derives_the_same_arrays_as_in_place(assignment):
    """Grades do not move: the prepared arrays are the ones the fixture would build itself."""
    spec = find_assignment(assignment)
    key = new_key()
    options = prepare(spec, RunOptions(course_key=key))
    rng = CourseKey(key).rng("prep", "embedded")
    assert np.array_equal(np.load(options.prepared / "keyed.0.npy"), rng.random(16).astype("float32"))


@pytest.mark.rungs
@pytest.mark.parametrize("rung", RUNGS)
def test_no_worker_reads_the_prepared_folder(assignment, tmp_path, rung):
    with on_rung(rung, tmp_path) as iso, keep_modes(assignment):
        spec = find_assignment(assignment)
        options = prepare(spec, RunOptions(course_key=new_key(), isolation=iso, sandbox="strict"))
        result = grade_submission(spec, _submissions(tmp_path / "in", 1) / "student0.py", options)
    assert result.isolation == rung
    peek = next(t for t in result.tests if "test_worker_cannot_read_the_prepared_folder" in t.nodeid)
    assert peek.status == "passed", peek.message
    assert result.score == 3.0, [t.message for t in result.tests]
    shutil.rmtree(options.prepared, ignore_errors=True)
