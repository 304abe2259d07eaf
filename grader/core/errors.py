"""The three kinds of failure, and whose fault each one is.

- `ToolkitError`: the user of the toolkit must fix something (a bad spec, a missing path).
  The CLI prints the message and exits with `EXIT_USAGE`; no traceback.
- `StudentError`: the submission did something wrong (raised, crashed, timed out, returned
  garbage). A test that meets one scores 0 and shows `student_message`.
- `GraderError`: the grading machinery itself broke. Reported as an internal grading error,
  never blamed on the student.
"""
from __future__ import annotations

from grader.core.vocabulary import TestKind

EXIT_OK = 0
EXIT_FAILED = 1        # the command ran, but the outcome is bad (tests failed, validate failed)
EXIT_USAGE = 2         # the user must fix something before the command can run
EXIT_INTERRUPTED = 130


class ToolkitError(Exception):
    """A problem the user of the toolkit must fix; the message says what and how."""


class SpecError(ToolkitError):
    """An invalid `assignment.yaml`; the message names the file and the key."""


class GraderError(Exception):
    """The grading machinery failed; not the student's fault.

    Raised in a test (a sandbox that cannot start, a workspace the worker cannot read), it makes the
    test's kind "grader-error" and the submission's status "error": graded again on the next run."""


class GraderSuspect(ToolkitError):
    """The first submissions of a batch all failed with the same internal error: the grader (its
    sandbox, disk or memory) is broken, not the submissions. The batch stops instead of grading on."""


# how every internal error's reason starts, so that a student reading it knows it is not theirs
INTERNAL_ERROR = "internal grading error (the grader's fault, not your submission's; it is graded again on the next run)"


# the kind of a test that raised an exception neither the student's nor the grader's by type (a
# ValueError in the test's own arithmetic): the student's when the reference solution passes that
# test, the grader's ("grader-error") when it fails the same way (grader.grading.control decides)
UNEVALUABLE = TestKind.UNEVALUABLE


class GradingCancelled(Exception):
    """Grading was stopped from outside (Ctrl-C); the submission has no result and is graded next run."""


class StudentError(Exception):
    """Something the submission did made a check fail.

    `student_message` is what the student reads. It never contains hidden data.
    """

    kind = TestKind.ERROR

    def __init__(self, student_message: str, *, detail: str = ""):
        super().__init__(student_message)
        self.student_message = student_message
        self.detail = detail  # e.g. a traceback mapped to notebook cells

    def __str__(self) -> str:
        return self.student_message + (f"\n{self.detail}" if self.detail else "")


class StudentCodeRaised(StudentError):
    """The student's code raised an exception inside the worker; `exc_type` is its class name and
    `exc_bases` the built-in exception classes it derives from (as the worker reported them)."""
    kind = TestKind.EXCEPTION

    def __init__(self, student_message: str, *, detail: str = "", exc_type: str = "", exc_bases: tuple[str, ...] = ()):
        super().__init__(student_message, detail=detail)
        self.exc_type = exc_type
        self.exc_bases = exc_bases

    def is_a(self, builtin: str) -> bool:
        """The exception is `builtin` (e.g. "ValueError") or a class of the student's derived from it."""
        return self.exc_type == builtin or builtin in self.exc_bases


class MissingName(StudentError):
    """A function, class or method the tests need is not in the submission."""
    kind = TestKind.MISSING


class WorkerTimeout(StudentError):
    """A call into the submission ran past its time limit; the worker was killed."""
    kind = TestKind.TIMEOUT


class WorkerDied(StudentError):
    """The worker process ended while the grader waited for it (crash, exit, memory, kill)."""
    kind = TestKind.CRASHED


class BadReply(StudentError):
    """The worker sent something that is not a valid reply (forged, malformed or oversized)."""
    kind = TestKind.PROTOCOL


class SubmissionUnloadable(StudentError):
    """The submission could not be imported at all (syntax error, import error, exit at import)."""
    kind = TestKind.LOAD
