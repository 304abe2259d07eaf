"""How long a call into the worker may take: its CPU time, with wall-clock time only as a backstop.

A call may use `budget` CPU seconds, a test (`TestLimit`, `@pytest.mark.timeout`) its own; the
wall-clock backstop (`grader.boundary.cpu_time.wall_backstop`) ends a call that waits on something.
A starved worker's CPU clock stands still, so a busy machine cannot push an honest call over its
limit: a backstop hit while the machine was busy is a `WallClockTimeout`, graded again alone.
"""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from grader.boundary.cpu_time import machine_loaded, starved, wall_backstop
from grader.core.errors import WorkerTimeout
from grader.core.vocabulary import TestKind

POLL_S = 0.1  # how often a waiting call reads the worker's CPU clock


class WallClockTimeout(WorkerTimeout):
    """A call stopped by the wall-clock backstop while the machine was busy (or the worker starved):
    not yet the submission's fault; grading retries it alone before the timeout counts."""
    kind = TestKind.WALL_TIMEOUT


class TestLimit:
    """One test's time limit (`@pytest.mark.timeout`): CPU seconds its workers may use, with a wall backstop."""

    def __init__(self, seconds: float, started: float):
        self.seconds = seconds
        self.wall_deadline = started + wall_backstop(seconds)
        self.cpu_at_start: dict[int, float] = {}   # per session: its CPU clock when the test began


def await_reply(sock: socket.socket, deadline: float, what: str, *, budget: float, cpu_seconds: Callable[[], float],
                test: TestLimit | None, session: int) -> None:
    """Return once the worker starts to answer on `sock`; raise WorkerTimeout once the call has used its
    CPU `budget`, the test its own (`session`: the key of this session's clock in `test.cpu_at_start`),
    or the wall-clock `deadline` ran out."""
    wall_start, cpu_start = time.monotonic(), cpu_seconds()
    while True:
        left = deadline - time.monotonic()
        try:
            ready = select.select([sock], [], [], max(0.0, min(POLL_S, left)))[0]
        except (ValueError, OSError):   # the socket was closed meanwhile: recv says why
            return
        if ready:
            return
        used = cpu_seconds() - cpu_start
        if used > budget:
            raise WorkerTimeout(f"{what} did not finish within the {budget:g} s limit (CPU time it used); "
                                "the worker was stopped")
        if test is not None and cpu_seconds() - test.cpu_at_start.get(session, cpu_start) > test.seconds:
            raise WorkerTimeout(f"{what} did not finish within the test's time limit ({test.seconds:g} s of CPU "
                                "time); the worker was stopped")
        if time.monotonic() >= deadline:
            wall = deadline - wall_start   # the backstop, as the spec's numbers give it
            if machine_loaded() or starved(used, time.monotonic() - wall_start):
                raise WallClockTimeout(f"{what} did not finish within {wall:.3g} s of wall-clock time while the "
                                       f"machine was busy (it got {used:.1f} s of CPU); it is graded again alone "
                                       "before this counts")
            raise WorkerTimeout(f"{what} did not finish within {wall:.3g} s of wall-clock time, using only "
                                f"{used:.1f} s of CPU: it waited on something (sleep, input, a lock); "
                                "the worker was stopped")
