"""The pytest plugin that turns plain pytest files into a grader.

It runs in the trusted process. Instructors write ordinary tests and use:

Markers (see `pytest --markers`):
    @pytest.mark.points(n)            the test's worth (required for every test)
    @pytest.mark.visibility(v)        "visible" (default in tests/public), "after_due_date",
                                      or "hidden" (default in tests/hidden: name and points only)
    @pytest.mark.timeout(seconds)     limit for the whole test, in CPU seconds of its workers (wall-clock
                                      time only as a backstop: 3x + 30 s)
    @pytest.mark.modes("full", ...)   run only in these data modes (skipped, not failed, otherwise)

Fixtures:
    student     the submission's module, living in the sandboxed worker (calls run there)
    worker      its session: worker.timeout(s), worker.seed(n), worker.output_text
    fresh_worker()  a new worker on a pristine copy of the submission (context manager)
    handoff     trained weights, and nothing else, into a pristine worker: handoff.take(model, "Cls", ...)
                right after training, then `with handoff.load(weights) as [model]:` to evaluate
    course_key  the secret that hidden data is derived from: course_key.rng("purpose"), .seed(...)
    spec, mode, settings, thresholds, data_dir, device, seed
    credit      partial credit: credit.linear(value, full=..., zero=..., what=...)
    artifacts   the submission's non-code files, read as capped data
    feedback    pictures and notes for the student's feedback (feedback.image(...), feedback.note(...))

The run is configured by a JSON file named in $DLGRADE_RUN (written by `grader.grading.runner`); the
report (one record per test) is written where that file says.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.trusted.course_key import CourseKey, new_key
from grader.core.errors import UNEVALUABLE, GraderError, StudentError
from grader.authoring.handoff import Handoff
from grader.authoring.pictures import png_bytes
from grader.intake.notebooks import locate_line
from grader.boundary.client import TestLimit, WorkerSession
from grader.core.results import TestStatus
from grader.boundary.sandbox import Isolation
from grader.core.spec import spec_from_json
from grader.authoring.checks import Credit

VISIBILITIES = ("visible", "after_due_date", "hidden")
RUN_KEY = pytest.StashKey[dict]()
RECORDS_KEY = pytest.StashKey[list]()
SESSIONS_KEY = pytest.StashKey[list]()
ITEM_CREDIT = pytest.StashKey[Credit]()
ITEM_FEEDBACK = pytest.StashKey["Feedback"]()

MARKERS = {
    "points(n)": "points the test is worth; required on every grading test",
    "visibility(v)": "who sees the result: 'visible', 'after_due_date' or 'hidden' (name and points only)",
    "timeout(seconds)": "limit for the whole test in its workers' CPU seconds (wall-clock only as a 3x + 30 s backstop)",
    "modes(*names)": "run only in these data modes; skipped (not failed) in the others",
}


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    path = os.environ.get("DLGRADE_RUN")
    if not path:
        return
    run = json.loads(Path(path).read_text())
    run["spec"] = spec_from_json(run["spec"])  # the command's spec, overrides included: read once, passed
    config.stash[RUN_KEY] = run
    config.stash[RECORDS_KEY] = []
    config.stash[SESSIONS_KEY] = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Helper modules beside an assignment's conftest.py (metrics, loaders) become importable."""
    path = os.environ.get("DLGRADE_RUN")
    if path:
        tests_dir = str(Path(json.loads(Path(path).read_text())["assignment"]) / "tests")
        if tests_dir not in sys.path:
            sys.path.insert(0, tests_dir)


def _run(config) -> dict:
    if RUN_KEY not in config.stash:
        pytest.skip("not a dlgrade run (use `dlgrade check` or `dlgrade grade`)")
    return config.stash[RUN_KEY]


# --- collection ------------------------------------------------------------------------------------

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN_KEY not in config.stash:
        return
    mode = config.stash[RUN_KEY]["mode"]
    records = config.stash[RECORDS_KEY]
    for item in items:
        modes = item.get_closest_marker("modes")
        other_mode = bool(modes) and mode not in modes.args
        if other_mode:
            item.add_marker(pytest.mark.skip(reason=f"only graded in mode {', '.join(modes.args)} (this run: {mode})"))
        # every test has a record from the start, so a run stopped half-way still lists them all
        records.append({**item_meta(item), "status": TestStatus.FAILED, "kind": "not-run", "other_mode": other_mode,
                        "message": "not run: grading stopped before this test", "detail": "",
                        "fraction": 0.0, "duration": 0.0, "images": [], "notes": []})
    _write_report(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A preparing run (`runner.prepare`) builds the @prepared values the collected tests use."""
    run = session.config.stash.get(RUN_KEY, None)
    if run and run.get("prepare_into"):
        from grader.trusted.prepared import build
        build(session, run)


def item_meta(item: pytest.Item) -> dict:
    """Points, visibility and name of a test, from its markers and location."""
    points = item.get_closest_marker("points")
    vis = item.get_closest_marker("visibility")
    hidden_dir = "hidden" in Path(str(item.path)).parts
    visibility = vis.args[0] if vis else ("hidden" if hidden_dir else "visible")
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines() if getattr(item, "obj", None) else []
    name = doc[0].strip() if doc else item.name.removeprefix("test_").replace("_", " ")
    if "[" in item.name and doc:
        name += " [" + item.name.split("[", 1)[1]
    return {
        "nodeid": item.nodeid, "name": name, "points": float(points.args[0]) if points else None,
        "visibility": visibility, "hidden_dir": hidden_dir,
        "timeout": float(item.get_closest_marker("timeout").args[0]) if item.get_closest_marker("timeout") else None,
    }


# --- fixtures --------------------------------------------------------------------------------------

def _new_session(config) -> WorkerSession:
    run = _run(config)
    spec = run["spec"]
    starts = [tuple(x) for x in run.get("cell_starts") or []]
    code_file = run.get("code_file", "submission")

    def locate(line: int) -> str:
        return locate_line(starts, line, code_file)

    api = {sig.split("(")[0].strip(): sig for sig in spec.api}
    session = WorkerSession(run["workspace"], spec.limits, module_file=run["module_file"],
                            isolation=Isolation.from_json(run["isolation"]),
                            gpu=run["gpu"], threads=run["threads"], seed=spec.seed, api=api, locate=locate,
                            scratch=run.get("scratch"))
    session.start_test(config.stash.get(_TEST_LIMIT, None))  # made during a test: that test's limit
    config.stash[SESSIONS_KEY].append(session)
    return session


_TEST_LIMIT = pytest.StashKey[TestLimit]()


_PRESTART = pytest.StashKey[tuple]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the main worker now, in the background: its imports (torch) overlap with collection
    and with this process's own imports, which saves seconds per submission."""
    config = session.config
    if RUN_KEY not in config.stash or config.stash[RUN_KEY].get("prepare_into"):  # preparing: no submission
        return
    worker = _new_session(config)
    failure: list[BaseException] = []

    def start():
        try:
            worker.handshake()
        except BaseException as e:  # noqa: BLE001 - reported when a test first needs the worker
            failure.append(e)

    thread = None
    try:
        worker.launch()  # in the main thread: the sandbox ends the worker when its starting thread ends
        thread = threading.Thread(target=start, daemon=True)
        thread.start()
    except BaseException as e:  # noqa: BLE001
        failure.append(e)
    config.stash[_PRESTART] = (worker, thread, failure)


@pytest.fixture(scope="session")
def worker(pytestconfig):
    """The sandboxed worker with the submission imported (started before the first test)."""
    session, thread, failure = pytestconfig.stash[_PRESTART]
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
    made = []

    def make() -> WorkerSession:
        session = _new_session(pytestconfig)
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
    """The secret hidden data is derived from (see grader.trusted.course_key); never sent to a worker."""
    key = _run(pytestconfig).get("course_key")
    return CourseKey(bytes.fromhex(key) if key else new_key())


@pytest.fixture(scope="session")
def spec(pytestconfig):
    return _run(pytestconfig)["spec"]


@pytest.fixture(scope="session")
def mode(pytestconfig) -> str:
    return _run(pytestconfig)["mode"]


@pytest.fixture(scope="session")
def settings(spec, mode) -> dict:
    """The data mode's `settings` from assignment.yaml."""
    return spec.mode(mode).settings


@pytest.fixture(scope="session")
def thresholds(spec, mode) -> dict:
    """The data mode's `thresholds` from assignment.yaml."""
    return spec.mode(mode).thresholds


@pytest.fixture(scope="session")
def data_dir(pytestconfig, spec, mode):
    """The data directory for full modes; skips the test with a clear reason if files are missing."""
    run = _run(pytestconfig)
    required = spec.mode(mode).requires
    if not required:
        return Path(run["data_dir"]) if run.get("data_dir") else None
    if not run.get("data_dir"):
        pytest.skip(f"mode {mode!r} needs a data directory (--data-dir) holding {', '.join(required)}")
    root = Path(run["data_dir"])
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


class Artifacts:
    """Non-code files of the submission, read on the trusted side as capped data (never run)."""

    def __init__(self, root: Path | None):
        self.root = root

    def names(self) -> list[str]:
        if self.root is None or not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() and not p.is_symlink())

    def find(self, *patterns: str) -> str | None:
        """The first file whose name matches one of the globs (tried in order), or None."""
        import fnmatch
        names = self.names()
        for pattern in patterns:
            for name in names:
                if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(Path(name).name, pattern):
                    return name
        return None

    def read_bytes(self, name: str, *, max_bytes: int = 50 * 2 ** 20) -> bytes:
        path = (self.root / name).resolve()
        if self.root is None or self.root.resolve() not in path.parents or path.is_symlink():
            raise AssertionError(f"{name}: not a file of your submission")
        if path.stat().st_size > max_bytes:
            raise AssertionError(f"{name} is {path.stat().st_size // 2**20} MB; at most {max_bytes // 2**20} MB is read")
        return path.read_bytes()

    def read_text(self, name: str, *, max_bytes: int = 10 * 2 ** 20) -> str:
        return self.read_bytes(name, max_bytes=max_bytes).decode("utf-8", "replace")


@pytest.fixture(scope="session")
def artifacts(pytestconfig) -> Artifacts:
    root = _run(pytestconfig).get("artifacts_dir")
    return Artifacts(Path(root) if root else None)


class Feedback:
    """Pictures and notes attached to one test's result in the student's feedback."""

    def __init__(self, out_dir: Path, prefix: str):
        self.out_dir, self.prefix = out_dir, prefix
        self.images: list[dict] = []
        self.notes: list[str] = []

    def image(self, title: str, image) -> None:
        """An (H, W) or (H, W, 3) array in [0, 1] (see grader.authoring.pictures.grid / line_plot)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.prefix}-{len(self.images) + 1}.png"
        (self.out_dir / name).write_bytes(png_bytes(image))
        self.images.append({"title": title, "file": name})

    def note(self, text: str) -> None:
        self.notes.append(str(text))


@pytest.fixture
def feedback(request, pytestconfig) -> Feedback:
    run = _run(pytestconfig)
    safe = "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    fb = Feedback(Path(run["report"]).parent / "images", safe)
    request.node.stash[ITEM_FEEDBACK] = fb
    return fb


# --- running and recording -------------------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if RUN_KEY not in item.config.stash:
        return
    meta = item_meta(item)
    record = _record(item)
    record.update(status=TestStatus.RUNNING, kind="not-run", fraction=1.0, duration=0.0,
                  message="stopped: the time limit for the whole submission ran out during this test")
    # the test's limit counts its workers' CPU time (a busy machine does not use it up); wall-clock
    # time only as a generous backstop (grader.boundary.cpu_time)
    limit = TestLimit(meta["timeout"], time.monotonic()) if meta["timeout"] else None
    item.config.stash[_TEST_LIMIT] = limit
    for s in item.config.stash[SESSIONS_KEY]:
        s.start_test(limit)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if RUN_KEY in item.config.stash:
        item.config.stash[_TEST_LIMIT] = None
        for s in item.config.stash[SESSIONS_KEY]:
            s.start_test(None)


def classify(excinfo) -> tuple[str, str, str, str]:
    """(status, kind, message, detail) for an exception raised in a test or its fixtures."""
    e = excinfo.value
    if isinstance(e, StudentError):
        return TestStatus.FAILED, e.kind, e.student_message, e.detail
    if isinstance(e, GraderError):
        return TestStatus.FAILED, "grader-error", f"the grader failed, not your submission: {e}", ""
    if isinstance(e, AssertionError):
        text = str(e).strip() or "a check failed"
        first, _, rest = text.partition("\nassert ")
        return TestStatus.FAILED, "assertion", first.strip(), ("assert " + rest.strip()) if rest else ""
    if excinfo.errisinstance(pytest.skip.Exception):
        return TestStatus.SKIPPED, "skipped", str(getattr(e, "msg", e)), ""
    # neither the student's nor the grader's by type: `grader.grading.control` re-runs the test on the
    # reference solution and decides (the student's values caused it, or the test itself is broken)
    raised = f"{type(e).__name__}: {str(e)[:300]}"
    return (TestStatus.FAILED, UNEVALUABLE,
            f"the grader could not evaluate your submission: {raised} raised while checking your values", raised)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if RUN_KEY not in item.config.stash:
        return
    record = _record(item)
    record["duration"] += report.duration
    if report.skipped and call.excinfo is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(call.excinfo.value)
        record.update(status=TestStatus.SKIPPED, kind="skipped", message=str(reason).removeprefix("Skipped: "), fraction=0.0)
    elif report.failed and record["status"] == TestStatus.RUNNING:
        status, kind, message, detail = classify(call.excinfo) if call.excinfo else (TestStatus.FAILED, "error", "failed", "")
        record.update(status=status, kind=kind, message=message, detail=detail, fraction=0.0)
        if call.when == "teardown":
            record.update(kind="grader-error")
    if call.when == "call" and report.passed:
        c = item.stash.get(ITEM_CREDIT, None)
        if c is not None and c.fraction is not None:
            record["fraction"] = c.fraction
            record["message"] = c.message.strip()
            record["metrics"] = {k: (v if v is None or abs(v) != float("inf") else str(v)) for k, v in c.metrics.items()}
            record["status"] = (TestStatus.PASSED if c.fraction >= 1.0 else TestStatus.FAILED if c.fraction == 0
                                else TestStatus.PARTIAL)
            record["kind"] = "" if c.fraction >= 1.0 else "credit"  # it ran to the end: never "not-run"
    if call.when == "teardown":
        if record["status"] == TestStatus.RUNNING:
            record.update(status=TestStatus.PASSED, kind="", message=record["message"] if record.get("metrics") else "")
        fb = item.stash.get(ITEM_FEEDBACK, None)
        if fb is not None:
            record["images"], record["notes"] = fb.images, fb.notes
        _write_report(item.config)


def _record(item: pytest.Item) -> dict:
    records = item.config.stash[RECORDS_KEY]
    record = next((r for r in records if r["nodeid"] == item.nodeid), None)
    if record is None:
        record = {**item_meta(item), "status": TestStatus.FAILED, "kind": "not-run", "message": "", "detail": "",
                  "fraction": 0.0, "duration": 0.0, "images": [], "notes": []}
        records.append(record)
    return record


def pytest_collectreport(report) -> None:
    if report.failed:
        _errors.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")


_errors: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    if RUN_KEY not in config.stash:
        return
    _write_report(config)
    for s in config.stash[SESSIONS_KEY]:
        s.close()


def _write_report(config: pytest.Config) -> None:
    """Rewrite the report (atomically): after collection, after each test and at the end."""
    run = config.stash[RUN_KEY]
    sessions = config.stash[SESSIONS_KEY]
    main = sessions[0] if sessions else None
    errors = list(_errors)
    for record in config.stash[RECORDS_KEY]:
        if record["points"] is None:
            errors.append(f"{record['nodeid']}: no @pytest.mark.points marker")
        if record["visibility"] not in VISIBILITIES:
            errors.append(f"{record['nodeid']}: visibility must be one of {', '.join(VISIBILITIES)}")
            record["visibility"] = "hidden"
        points = record["points"] or 0.0
        record["score"] = round(points * record["fraction"], 4) if record["status"] in (TestStatus.PASSED, TestStatus.PARTIAL) else 0.0
    report = {
        "tests": [{**r, "points": r["points"] or 0.0} for r in config.stash[RECORDS_KEY]],
        "grader_errors": errors,
        "load": main.load_info if main else {},
        "worker_restarts": sum(s.restarts for s in sessions),
        "worker_output": main.output_text[-8000:] if main else "",
    }
    tmp = Path(run["report"] + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    os.replace(tmp, run["report"])
