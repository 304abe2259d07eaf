"""`check`: the student's local run of the public tests."""
from __future__ import annotations

from pathlib import Path

from grader.boundary.sandbox import DEFAULT_SANDBOX
from grader.core.assignments import find_assignment, marked_points, points_in_mode
from grader.core.errors import ToolkitError
from grader.core.results import SubmissionResult
from grader.grading.runner import RunOptions, grade_submission, require_data


def check_submission(*, assignment: str | Path, submission: Path, mode: str | None = None,
                     data_dir: Path | None = None, sandbox: str = DEFAULT_SANDBOX, threads: int = 2,
                     gpu: str | None = None) -> SubmissionResult:
    """Run the public tests of `assignment` on one submission (file, folder or zip).

    Returns the result (public score only). Raises ToolkitError if the assignment or the
    submission path does not exist, or the mode's data is not in `data_dir`."""
    spec = find_assignment(assignment)
    submission = Path(submission)
    if not submission.exists():
        raise ToolkitError(f"{submission}: no such file or folder")
    require_data(spec, mode, data_dir)  # an unknown mode or missing data fails before any work starts
    options = RunOptions(mode=mode, data_dir=data_dir, include_hidden=False, sandbox=sandbox,
                         threads=threads, gpu=gpu)
    result = grade_submission(spec, submission, options)
    if not result.tests:  # rejected before any test ran: out of what the public tests of this mode are worth
        result.total_points = points_in_mode(marked_points(spec, hidden=False)[0], mode or spec.default_mode)
    return result
