"""Time limits the machine's load cannot decide: a call's limit counts the worker's own CPU time, so a
worker starved of CPU by its neighbours finishes an honest call; a worker waiting on nothing is still
stopped by the wall-clock backstop; and a wall-clock limit hit while the machine was busy is graded
again alone, after the rest of the batch, before it counts (and the feedback says so)."""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

import grader.commands.grade as grade_module
from grader.boundary import time_limits  # where a call waits on the worker (the load check it reads)
from grader.boundary import cpu_time
from grader.boundary.client import WallClockTimeout, WorkerSession
from grader.core.assignments import find_assignment
from grader.core.errors import WorkerTimeout
from grader.core.results import SubmissionResult
from grader.core.results import TestResult as OneTest  # not collected as a test class
from grader.grading.backends import Graded
from grader.grading.runner import RETRIED, retry_alone
from tiny_batch import TINY

SPINS = '''\
import time


def spin(seconds):
    """Computes until it has used `seconds` of CPU time, however long the machine makes that take."""
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n > 0


def nap(seconds):
    time.sleep(seconds)
    return True
'''


def _session(tmp_path: Path, call_timeout_s: float) -> WorkerSession:
    pristine = tmp_path / "pristine"
    pristine.mkdir(parents=True)
    (pristine / "submission.py").write_text(SPINS)
    limits = dataclasses.replace(find_assignment(TINY).limits, call_timeout_s=call_timeout_s)
    return WorkerSession(pristine, limits, module_file="submission.py", scratch=tmp_path / "workers")


def test_a_worker_starved_of_cpu_finishes_an_honest_call(tmp_path):
    """2 s of computing under a 1 s limit is stopped, however busy the machine; the same call finishes
    when what the clock reads as the worker's CPU is a quarter of it (a starved worker's clock stands
    still while it waits for a core; injected here, so the outcome does not depend on this machine)."""
    with _session(tmp_path / "alone", 1.0) as session:
        session.ensure_started()
        with pytest.raises(WorkerTimeout, match=r"spin did not finish within the 1 s limit \(CPU time it used\)"):
            session.module.spin(2.0)
    with _session(tmp_path / "starved", 1.0) as session:
        session.ensure_started()
        real = session.cpu_clock
        session.cpu_clock = lambda: real() / 4
        assert session.module.spin(2.0) is True


def test_a_worker_waiting_on_nothing_is_stopped_by_the_wall_clock_backstop(tmp_path, monkeypatch):
    """A sleeping worker uses no CPU: the backstop (3x the limit + WALL_EXTRA_S) ends it all the same,
    and says it waited rather than computed."""
    monkeypatch.setattr(cpu_time, "WALL_EXTRA_S", 1.0)
    monkeypatch.setattr(time_limits, "machine_loaded", lambda: False)
    with _session(tmp_path, 0.5) as session:
        session.ensure_started()
        started = time.monotonic()
        with pytest.raises(WorkerTimeout) as caught:
            session.module.nap(60)
        assert 2.5 <= time.monotonic() - started < 15
    assert type(caught.value) is WorkerTimeout and caught.value.kind == "timeout"
    assert "did not finish within 2.5 s of wall-clock time" in caught.value.student_message
    assert "it waited on something (sleep, input, a lock)" in caught.value.student_message


def test_a_wall_clock_stop_on_a_busy_machine_is_not_yet_the_students(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_time, "WALL_EXTRA_S", 1.0)
    monkeypatch.setattr(time_limits, "machine_loaded", lambda: True)
    with _session(tmp_path, 0.5) as session:
        session.ensure_started()
        with pytest.raises(WallClockTimeout) as caught:
            session.module.nap(60)
    assert caught.value.kind == "wall-timeout"
    assert "while the machine was busy" in caught.value.student_message
    assert "it is graded again alone before this counts" in caught.value.student_message


# --- grade: the retry alone, after the rest of the batch ---------------------------------------------

def _result(sid: str, kind: str, message: str) -> SubmissionResult:
    test = OneTest(name="answer", nodeid="tests/public/test_public.py::test_answer", points=1.0, score=0.0,
                      status="failed", visibility="visible", message=message, kind=kind)
    return SubmissionResult(sid, "tiny", "embedded", tests=[test], total_points=1.0)


class _Backend:
    """Hands back what a grading would have: s_busy hits a wall-clock limit on a busy machine."""

    def __init__(self, log: list, jobs: int):
        self.log, self.jobs = log, jobs

    def submit(self, task) -> Future:
        sid, policy = task.submission.id, task.options.busy_timeouts
        self.log.append((sid, policy, self.jobs))
        future = Future()
        if sid == "s_busy" and policy == "defer":
            future.set_result(Graded(_result(sid, "wall-timeout", "answer did not finish within 42 s of wall-clock "
                                                                  "time while the machine was busy")))
        elif sid == "s_busy":
            future.set_result(Graded(_result(sid, "timeout", f"answer did not finish; {RETRIED}")))
        else:
            future.set_result(Graded(_result(sid, "assertion", "answer() returned 41, expected 42")))
        return future

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_busy_machines_wall_clock_stop_is_graded_again_alone_after_the_batch(tmp_path, monkeypatch):
    log: list = []
    monkeypatch.setattr(grade_module, "make_backend", lambda name, *, jobs, **kw: _Backend(log, jobs))
    subs = tmp_path / "subs"
    subs.mkdir()
    for sid in ("s_busy", "s_other", "s_third"):
        (subs / f"{sid}.py").write_text("def answer():\n    return 41\n")
    monkeypatch.setattr(grade_module, "prepare", lambda spec, options: options)
    report = grade_module.grade_submissions(assignment=TINY, submissions=[subs], out=tmp_path / "out", jobs=2)
    assert sorted(log[:3]) == [("s_busy", "defer", 2), ("s_other", "defer", 2), ("s_third", "defer", 2)]
    assert log[3:] == [("s_busy", "retry", 1)]          # alone, after the rest
    (row,) = [r for r in report.rows if r.submission == "s_busy"]
    assert row.tests[0].kind == "timeout" and RETRIED in row.tests[0].message
    assert [r.submission for r in report.results] == ["s_busy", "s_other", "s_third"]


def test_only_a_busy_machines_wall_clock_stop_waits_for_a_retry():
    assert retry_alone(_result("a", "wall-timeout", "..."))
    assert not retry_alone(_result("b", "timeout", "answer did not finish within the 4 s limit (CPU time it used)"))
    assert not retry_alone(_result("c", "assertion", "answer() returned 41"))
