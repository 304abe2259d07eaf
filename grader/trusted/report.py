"""The report of one trusted run: one `TestRecord` per collected test, rewritten after every test.

One `GradingReport` per run, registered as a plugin in `pytest_configure` and kept in
`config.stash[REPORT_KEY]` (as pytest's junitxml keeps its `LogXML`); its hooks are its methods. Every
test has a record from collection on, so a run stopped half-way still lists them all.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.core.contracts import Report, RunFile, TestRecord
from grader.core.errors import UNEVALUABLE, GraderError, StudentError
from grader.core.results import TestStatus
from grader.core.vocabulary import TestKind, Visibility
from grader.trusted.fixtures import ITEM_CREDIT, ITEM_FEEDBACK
from grader.trusted.workers import Workers

NOT_REACHED = "not run: grading stopped before this test"
CUT_SHORT = "stopped: the time limit for the whole submission ran out during this test"


@dataclass(frozen=True)
class TestMarks:
    """What a test's markers and location say about it, as written (checked when the report is written)."""
    __test__ = False  # not a pytest test class, whatever its name
    nodeid: str
    name: str
    points: float | None     # None: no points marker, a broken test
    visibility: str

    @classmethod
    def of(cls, item: pytest.Item) -> TestMarks:
        points = item.get_closest_marker("points")
        vis = item.get_closest_marker("visibility")
        hidden_dir = "hidden" in Path(str(item.path)).parts
        obj = getattr(item, "obj", None)
        doc = (obj.__doc__ or "").strip().splitlines() if obj is not None else []
        name = doc[0].strip() if doc else item.name.removeprefix("test_").replace("_", " ")
        if "[" in item.name and doc:
            name += " [" + item.name.split("[", 1)[1]
        visibility = vis.args[0] if vis else (Visibility.HIDDEN if hidden_dir else Visibility.VISIBLE)
        return cls(item.nodeid, name, float(points.args[0]) if points else None, str(visibility))

    def problems(self) -> list[str]:
        out = [] if self.points is not None else [f"{self.nodeid}: no @pytest.mark.points marker"]
        if self.visibility not in set(Visibility):
            out.append(f"{self.nodeid}: visibility must be one of {', '.join(Visibility)}")
        return out

    def record(self, **outcome) -> TestRecord:
        """A record for this test; a visibility outside the vocabulary hides it (and is a grader error)."""
        visibility = Visibility(self.visibility) if self.visibility in set(Visibility) else Visibility.HIDDEN
        return TestRecord(nodeid=self.nodeid, name=self.name, points=self.points or 0.0, visibility=visibility,
                          **outcome)


def classify(excinfo: pytest.ExceptionInfo) -> tuple[TestStatus, TestKind, str, str]:
    """(status, kind, message, detail) for an exception raised in a test or its fixtures."""
    e = excinfo.value
    if isinstance(e, StudentError):
        return TestStatus.FAILED, TestKind(e.kind), e.student_message, e.detail
    if isinstance(e, GraderError):
        return TestStatus.FAILED, TestKind.GRADER_ERROR, f"the grader failed, not your submission: {e}", ""
    if isinstance(e, AssertionError):
        text = str(e).strip() or "a check failed"
        first, _, rest = text.partition("\nassert ")
        return TestStatus.FAILED, TestKind.ASSERTION, first.strip(), ("assert " + rest.strip()) if rest else ""
    if excinfo.errisinstance(pytest.skip.Exception):
        return TestStatus.SKIPPED, TestKind.SKIPPED, str(getattr(e, "msg", e)), ""
    # neither the student's nor the grader's by type: `grader.grading.control` re-runs the test on the
    # reference solution and decides (the student's values caused it, or the test itself is broken)
    raised = f"{type(e).__name__}: {str(e)[:300]}"
    return (TestStatus.FAILED, UNEVALUABLE,
            f"the grader could not evaluate your submission: {raised} raised while checking your values", raised)


class GradingReport:
    """The records of one run and the errors that make its tests the grader's fault; writes report.json."""

    def __init__(self, run: RunFile, workers: Workers):
        self.run, self.workers = run, workers
        self.marks: dict[str, TestMarks] = {}
        self.records: dict[str, TestRecord] = {}
        self.collection_errors: list[str] = []

    # --- hooks -----------------------------------------------------------------------------------------

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        mode = self.run.mode
        for item in items:
            modes = item.get_closest_marker("modes")
            other_mode = bool(modes) and mode not in modes.args
            if other_mode:
                item.add_marker(pytest.mark.skip(reason=f"only graded in mode {', '.join(modes.args)} (this run: {mode})"))
            self._add(item, status=TestStatus.FAILED, kind=TestKind.NOT_RUN, other_mode=other_mode, message=NOT_REACHED)
        self.write()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._update(item, status=TestStatus.RUNNING, kind=TestKind.NOT_RUN, fraction=1.0, duration=0.0, message=CUT_SHORT)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        record = self._update(item, duration=self._record(item).duration + report.duration)
        if report.skipped and call.excinfo is not None:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(call.excinfo.value)
            record = self._update(item, status=TestStatus.SKIPPED, kind=TestKind.SKIPPED,
                                  message=str(reason).removeprefix("Skipped: "), fraction=0.0)
        elif report.failed and record.status == TestStatus.RUNNING:
            status, kind, message, detail = (classify(call.excinfo) if call.excinfo
                                             else (TestStatus.FAILED, TestKind.ERROR, "failed", ""))
            if call.when == "teardown":
                kind = TestKind.GRADER_ERROR
            record = self._update(item, status=status, kind=kind, message=message, detail=detail, fraction=0.0)
        if call.when == "call" and report.passed:
            record = self._credit(item) or record
        if call.when == "teardown":
            if record.status == TestStatus.RUNNING:
                self._update(item, status=TestStatus.PASSED, kind=TestKind.NONE,
                             message=record.message if record.metrics else "")
            fb = item.stash.get(ITEM_FEEDBACK, None)
            if fb is not None:
                self._update(item, images=list(fb.images), notes=list(fb.notes))
            self.write()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.write()  # before the workers close: their output and load go into the report

    # --- records ---------------------------------------------------------------------------------------

    def _add(self, item: pytest.Item, **outcome) -> TestRecord:
        marks = self.marks[item.nodeid] = TestMarks.of(item)
        record = self.records[item.nodeid] = marks.record(**outcome)
        return record

    def _record(self, item: pytest.Item) -> TestRecord:
        if item.nodeid not in self.records:  # not seen at collection (a test pytest added later)
            return self._add(item, status=TestStatus.FAILED, kind=TestKind.NOT_RUN)
        return self.records[item.nodeid]

    def _update(self, item: pytest.Item, **changes) -> TestRecord:
        record = self.records[item.nodeid] = dataclasses.replace(self._record(item), **changes)
        return record

    def _credit(self, item: pytest.Item) -> TestRecord | None:
        """A passed test that gave partial credit (`credit.linear`): its fraction, computation and metrics."""
        c = item.stash.get(ITEM_CREDIT, None)
        if c is None or c.fraction is None:
            return None
        status = (TestStatus.PASSED if c.fraction >= 1.0 else TestStatus.FAILED if c.fraction == 0
                  else TestStatus.PARTIAL)
        metrics = {k: (v if v is None or abs(v) != float("inf") else str(v)) for k, v in c.metrics.items()}
        # it ran to the end: never "not-run"
        return self._update(item, fraction=c.fraction, message=c.message.strip(), metrics=metrics, status=status,
                            kind=TestKind.NONE if c.fraction >= 1.0 else TestKind.CREDIT)

    def write(self) -> None:
        """Rewrite the report (atomically): after collection, after each test and at the end."""
        errors = list(self.collection_errors) + [p for m in self.marks.values() for p in m.problems()]
        tests = [dataclasses.replace(r, score=round(r.points * r.fraction, 4)
                                     if r.status in (TestStatus.PASSED, TestStatus.PARTIAL) else 0.0)
                 for r in self.records.values()]
        main, sessions = self.workers.main, self.workers.sessions
        report = Report(tests=tests, grader_errors=errors, load=main.load_info if main else {},
                        worker_restarts=sum(s.restarts for s in sessions),
                        worker_output=main.output_text[-8000:] if main else "")
        tmp = Path(str(self.run.report) + ".tmp")
        tmp.write_text(json.dumps(report.to_json(), indent=1, default=str))
        os.replace(tmp, self.run.report)


REPORT_KEY = pytest.StashKey[GradingReport]()
