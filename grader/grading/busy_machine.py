"""A wall-clock limit hit while the machine was busy: not the submission's time. `grade` defers
such a submission and grades it again alone after the batch; only that retry's timeout counts.

Separate from the run (grader.grading.runner): the policy, its words in the feedback, and the
test that tells a result to retry are shared by the runner and the `grade` command.
"""
from __future__ import annotations

from grader.boundary.client import WallClockTimeout
from grader.core.results import SubmissionResult, SubmissionStatus
from grader.core.vocabulary import TestKind

BUSY = "while the machine was busy"   # in a reason or message: a wall-clock limit the machine's load may have hit
RETRIED = "graded again alone after the batch, it ran out of time again, so it counts"
WALL_TIMEOUT = WallClockTimeout.kind


def retry_alone(result: SubmissionResult) -> bool:
    """A result of a deferring run (busy_timeouts="defer") that hit a wall-clock limit while the machine
    was busy: `grade` grades it again alone, after the rest of the batch, before it counts."""
    return (any(t.kind == WALL_TIMEOUT for t in result.tests)
            or (result.status == SubmissionStatus.TIMEOUT and BUSY in result.reason))


def count_busy_timeouts(result: SubmissionResult, policy: str) -> None:
    """Tests stopped by a wall-clock limit while the machine was busy (kind "wall-timeout"): left for the
    retry alone ("defer"), or counted as timeouts with words that say what happened."""
    if policy == "defer":
        return
    for t in result.tests:
        if t.kind == WALL_TIMEOUT:
            t.kind = TestKind.TIMEOUT
            first = t.message.split("; it is graded again alone", 1)[0]
            t.message = f"{first}; {RETRIED}" if policy == "retry" else f"{first}; the worker was stopped"
