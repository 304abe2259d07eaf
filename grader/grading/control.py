"""Whose fault is a test's exception that is neither the student's nor the grader's by its type?

A test that raises a `StudentError` or fails an assertion blames the submission; a `GraderError`
blames the grader. Anything else (a ValueError from numpy, an OverflowError in the test's own
arithmetic) says nothing by its type: the student's values may have caused it (a seed past 2**63
that numpy refuses), or the test itself may be broken. The evidence decides: the same test runs on
the assignment's reference solution, with the same options, course key and mode (the control).

- The control passes the test: the exception came from what the submission handed over; the test
  scores 0 with kind `unevaluable` and the row is graded like any other.
- The control fails it too (or cannot run it at all): the grader's fault; the test becomes a
  `grader-error`, the row `error`, graded again on the next run.

One control per test for the whole batch: outcomes are cached by the test's node id and everything
that could change its verdict (the test files, mode, course key, data), so 300 submissions that
trip the same test run one control, and submissions graded at once wait for the one running.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.core.errors import UNEVALUABLE
from grader.core.results import SubmissionResult, TestResult, TestStatus
from grader.core.vocabulary import TestKind

# kinds with which a control run did not reach a verdict on the test: not cached, tried again
INCONCLUSIVE = (TestKind.NOT_RUN, TestKind.TIMEOUT)


@dataclass(frozen=True)
class Control:
    """The reference solution's outcome on one test."""
    reproduced: bool     # the reference failed it too: the test (the grader) is at fault
    outcome: str         # what the reference did, in words, for the feedback and the gradebook


# node ids -> the reference's results for them (a control run of just those tests)
ControlRun = Callable[[list[str]], dict[str, TestResult]]


class ControlCache:
    """Control outcomes per (batch key, node id), safe to share between grading threads."""

    def __init__(self):
        self._outcomes: dict[tuple, Control] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def outcomes(self, batch_key: tuple, nodeids: list[str], run: ControlRun) -> dict[str, Control]:
        """The control's outcome for each of `nodeids`, running the reference on those not known yet."""
        keys = sorted({(batch_key, n) for n in nodeids})
        with self._guard:
            locks = [self._locks.setdefault(k, threading.Lock()) for k in keys]
        for lock in locks:  # in one order everywhere: no two threads deadlock
            lock.acquire()
        try:
            found = {n: self._outcomes[(batch_key, n)] for (_, n) in keys if (batch_key, n) in self._outcomes}
            missing = [n for (_, n) in keys if n not in found]
            if missing:
                ran = run(missing)
                for nodeid in missing:
                    found[nodeid] = judge(ran.get(nodeid))
                    test = ran.get(nodeid)
                    if test is not None and test.kind not in INCONCLUSIVE:  # a verdict: kept for the batch
                        self._outcomes[(batch_key, nodeid)] = found[nodeid]
            return found
        finally:
            for lock in reversed(locks):
                lock.release()


def judge(reference: TestResult | None) -> Control:
    """What the reference's result on a test says about the exception the submission's run met."""
    if reference is None:
        return Control(True, "the reference solution's run did not report this test")
    if reference.status in (TestStatus.PASSED, TestStatus.PARTIAL) or reference.kind == TestKind.CREDIT:
        return Control(False, "the reference solution passes this test")
    if reference.kind == UNEVALUABLE:
        return Control(True, f"the reference solution fails it the same way ({reference.detail})"
                       if reference.detail else "the reference solution fails it the same way")
    first = (reference.message.splitlines() or [""])[0][:300]
    return Control(True, f"the reference solution fails it too ({reference.kind or reference.status}: {first})")


def settle(result: SubmissionResult, controls: dict[str, Control]) -> None:
    """Give each `unevaluable` test of `result` to whoever its control blames."""
    for t in result.tests:
        if t.kind != UNEVALUABLE:
            continue
        control = controls.get(t.nodeid) or judge(None)
        if control.reproduced:
            t.kind = TestKind.GRADER_ERROR
            t.message = (f"the test itself failed ({t.detail}), not because of your submission: "
                         f"{control.outcome.replace(f' ({t.detail})', '')}; "
                         "it is graded again on the next run")
        else:
            t.message = f"{t.message} ({control.outcome}, so the values your code produced are the cause)"
        t.score = 0.0


def tests_signature(test_dirs: list[Path]) -> tuple:
    """What identifies the tests' code for the cache: every file's path, size and change time."""
    files = sorted(p for d in test_dirs if d.exists() for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


CONTROLS = ControlCache()  # one per process: a `grade` batch, or its Ray worker
