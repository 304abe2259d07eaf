"""The sandboxed workers of one trusted run: the main one started early, the fresh ones the tests ask for,
each told the limit of the test that is running.

One `Workers` object per run, registered as a plugin in `pytest_configure` and kept in
`config.stash[WORKERS_KEY]`; its hooks are its methods."""
from __future__ import annotations

import threading
import time

import pytest

from grader.boundary.client import TestLimit, WorkerSession
from grader.boundary.sandbox import Isolation
from grader.core.contracts import RunFile
from grader.intake.notebooks import locate_line


class Workers:
    """Every worker session of the run, and the limit of the test now running (None between tests)."""

    def __init__(self, run: RunFile):
        self.run = run
        self.sessions: list[WorkerSession] = []
        self.limit: TestLimit | None = None
        self.prestarted: tuple[WorkerSession, threading.Thread | None, list[BaseException]] | None = None

    @property
    def main(self) -> WorkerSession | None:
        return self.sessions[0] if self.sessions else None

    def new_session(self) -> WorkerSession:
        """A worker on a pristine copy of the submission (launched by the caller)."""
        run, spec = self.run, self.run.spec
        starts = [tuple(x) for x in run.cell_starts]
        code_file = run.code_file or "submission"

        def locate(line: int) -> str:
            return locate_line(starts, line, code_file)

        api = {sig.split("(")[0].strip(): sig for sig in spec.api}
        session = WorkerSession(str(run.workspace), spec.limits, module_file=run.module_file,
                                isolation=Isolation.from_json(run.isolation), gpu=run.gpu, threads=run.threads,
                                seed=spec.seed, api=api, locate=locate,
                                scratch=str(run.scratch) if run.scratch else None)
        session.start_test(self.limit)  # made during a test: that test's limit
        self.sessions.append(session)
        return session

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start the main worker now, in the background: its imports (torch) overlap with collection
        and with this process's own imports, which saves seconds per submission."""
        if self.run.preparing:  # no submission
            return
        worker = self.new_session()
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
        self.prestarted = (worker, thread, failure)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # the test's limit counts its workers' CPU time (a busy machine does not use it up); wall-clock
        # time only as a generous backstop (grader.boundary.cpu_time)
        marker = item.get_closest_marker("timeout")
        self._start_test(TestLimit(float(marker.args[0]), time.monotonic()) if marker else None)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._start_test(None)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for s in self.sessions:
            s.close()

    def _start_test(self, limit: TestLimit | None) -> None:
        self.limit = limit
        for s in self.sessions:
            s.start_test(limit)


WORKERS_KEY = pytest.StashKey[Workers]()
