"""The words the processes say to each other about a test: its kind of outcome and who may see it.

String enums: a member equals its plain string, which is what the report, the gradebook and the
Gradescope file hold, so reading an old file or comparing with a literal still works."""
from __future__ import annotations

from enum import Enum

try:
    from enum import StrEnum
except ImportError:  # Python 3.10
    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


class TestKind(StrEnum):
    """Why a test scored what it did; NONE for a test that passed in full (nothing to explain)."""
    __test__ = False  # not a pytest test class, whatever its name
    NONE = ""
    # the trusted process's own verdicts
    NOT_RUN = "not-run"              # grading stopped before the test ran (or finished)
    ASSERTION = "assertion"          # a check of the test failed
    CREDIT = "credit"                # it ran to the end and earned part of its points (credit.linear)
    SKIPPED = "skipped"
    GRADER_ERROR = "grader-error"    # the grader's fault: the row is an error, graded again next run
    UNEVALUABLE = "unevaluable"      # an exception neither side's by type: a control run decides (grader.grading.control)
    # a StudentError's kind (grader.core.errors, grader.boundary.client)
    ERROR = "error"
    EXCEPTION = "exception"          # the student's code raised
    MISSING = "missing"              # a name the tests need is not in the submission
    TIMEOUT = "timeout"
    WALL_TIMEOUT = "wall-timeout"    # a wall-clock limit hit while the machine was busy: retried alone first
    CRASHED = "crashed"
    PROTOCOL = "protocol"            # the worker sent something that is not a valid reply
    LOAD = "load"                    # the submission could not be imported


class Visibility(StrEnum):
    """Who sees a test's result (`@pytest.mark.visibility`)."""
    VISIBLE = "visible"
    AFTER_DUE_DATE = "after_due_date"
    HIDDEN = "hidden"                # name and points only
