"""The fixtures an assignment's tests use (listed in grader.trusted.plugin's docstring).

Loaded with the plugin (`pytest_plugins`); outside a dlgrade run each of them skips its test with a
reason that says so."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.authoring.checks import Credit
from grader.authoring.course_key import CourseKey
from grader.authoring.handoff import Handoff
from grader.authoring.run_file import current_run
from grader.boundary.client import WorkerSession
from grader.core.spec import Spec
from grader.trusted.artifacts import Artifacts
from grader.trusted.course_key import new_key
from grader.trusted.feedback import Feedback
from grader.trusted.workers import WORKERS_KEY

ITEM_CREDIT = pytest.StashKey[Credit]()       # a test's `credit`, read by the report when it passed
ITEM_FEEDBACK = pytest.StashKey[Feedback]()   # a test's `feedback`, its pictures and notes into its record


@pytest.fixture(scope="session")
def worker(pytestconfig):
    """The sandboxed worker with the submission imported (started before the first test)."""
    current_run(pytestconfig)
    session, thread, failure = pytestconfig.stash[WORKERS_KEY].prestarted
    if thread is not None:
        thread.join()
    if failure:
        session.close()  # a failed start is retried, and reported, by ensure_started
    yield session
    session.close()


@pytest.fixture(scope="session")
def student(worker):
    """The submission's module; attribute calls run in the worker."""
    worker.ensure_started()
    return worker.module


@pytest.fixture(scope="session")
def fresh_worker(pytestconfig):
    """Factory for extra workers with a fresh import (for example: decode with only the weights)."""
    current_run(pytestconfig)
    made = []

    def make() -> WorkerSession:
        session = pytestconfig.stash[WORKERS_KEY].new_session()
        made.append(session)
        session.ensure_started()
        return session

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def handoff(fresh_worker) -> Handoff:
    """Trained weights from one worker into a pristine one (see grader.authoring.handoff for the rule)."""
    return Handoff(fresh_worker)


@pytest.fixture(scope="session")
def course_key(pytestconfig) -> CourseKey:
    """The secret hidden data is derived from (see grader.authoring.course_key); never sent to a worker."""
    key = current_run(pytestconfig).course_key
    return CourseKey(bytes.fromhex(key) if key else new_key())


@pytest.fixture(scope="session")
def spec(pytestconfig) -> Spec:
    return current_run(pytestconfig).spec


@pytest.fixture(scope="session")
def mode(pytestconfig) -> str:
    return current_run(pytestconfig).mode


@pytest.fixture(scope="session")
def settings(spec, mode) -> dict:
    """The data mode's `settings` from assignment.yaml."""
    return spec.mode(mode).settings


@pytest.fixture(scope="session")
def thresholds(spec, mode) -> dict:
    """The data mode's `thresholds` from assignment.yaml."""
    return spec.mode(mode).thresholds


@pytest.fixture(scope="session")
def data_dir(pytestconfig, spec, mode) -> Path | None:
    """The data directory for full modes; skips the test with a clear reason if files are missing."""
    root = current_run(pytestconfig).data_dir
    required = spec.mode(mode).requires
    if not required:
        return root
    if root is None:
        pytest.skip(f"mode {mode!r} needs a data directory (--data-dir) holding {', '.join(required)}")
    missing = [r for r in required if not (root / r).exists()]
    if missing:
        pytest.skip(f"mode {mode!r}: data files missing in {root}: {', '.join(missing)}")
    return root


@pytest.fixture(scope="session")
def device(worker) -> str:
    """'cuda' when the grader allows a GPU and the worker sees one, else 'cpu'."""
    return "cuda" if worker.gpu is not None and worker.load_info.get("cuda") else "cpu"


@pytest.fixture(scope="session")
def seed(spec) -> int:
    return spec.seed


@pytest.fixture
def credit(request) -> Credit:
    c = Credit()
    request.node.stash[ITEM_CREDIT] = c
    return c


@pytest.fixture(scope="session")
def artifacts(pytestconfig) -> Artifacts:
    return Artifacts(current_run(pytestconfig).artifacts_dir)


@pytest.fixture
def feedback(request, pytestconfig) -> Feedback:
    safe = "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    fb = Feedback(current_run(pytestconfig).report.parent / "images", safe)
    request.node.stash[ITEM_FEEDBACK] = fb
    return fb
