"""The test-author API: the one engine import an assignment's tests may use.

Everything under assignments/ (tests, conftests, helper modules, calibrate.py) and every test the
scaffold writes imports from `grader.authoring` itself, never from its submodules or another room
(tests/test_architecture.py checks it), and docs/writing-tests.md documents exactly the names in
`__all__` (the same test checks that the two cannot drift). The submodules hold the code: checks
that fail with a message a student understands (checks), pictures for feedback (pictures), moving a
trained model between workers (handoff) and checking that graded outputs come from its weights
(weights_dependence), the readers of data sets and trial logs (datasets, trial_log, built on the
student package), the course key, `@prepared` and the run file.

Runs inside the trusted pytest process, called by assignment tests and by the plugin (the trusted
room imports this one, never the other way); may import core, the student package, and exactly
boundary.client (a worker's objects, as tests receive them) and intake.notebooks (reading a
handed-in notebook as grading does).
"""
from grader.authoring.checks import Credit, as_numpy, expect_array, expect_log
from grader.authoring.course_key import CourseKey
from grader.authoring.datasets import (DataNotFound, load_cifar10, load_csv_series, load_digits, load_mnist,
                                       load_st_har, synthetic_daily_series)
from grader.authoring.handoff import Handoff, Weights, read_state, state_digest
from grader.authoring.pictures import image_rows, line_plot, scatter_plot
from grader.authoring.prepared import prepared
from grader.authoring.run_file import current_run, load_run
from grader.authoring.trial_log import read_trial_log
from grader.authoring.weights_dependence import Dependence, asking_each, weights_dependence
from grader.boundary.client import RemoteObject
from grader.core.assignments import template_dir
from grader.core.contracts import RunFile
from grader.core.errors import StudentCodeRaised, StudentError
from grader.core.spec import Spec, load_spec
from grader.intake.notebooks import NotebookError, read_notebook

__all__ = [
    # checks on what the submission returns
    "as_numpy", "expect_array", "expect_log", "Credit",
    # whose fault it is
    "StudentError", "StudentCodeRaised",
    # the worker's objects
    "RemoteObject",
    # trained weights into a pristine worker, and outputs that must depend on them
    "Handoff", "Weights", "read_state", "state_digest", "weights_dependence", "asking_each", "Dependence",
    # pictures for feedback
    "line_plot", "scatter_plot", "image_rows",
    # data
    "DataNotFound", "load_digits", "load_mnist", "load_cifar10", "load_csv_series", "synthetic_daily_series",
    "load_st_har", "CourseKey", "prepared",
    # what the student handed in besides code
    "read_trial_log", "read_notebook", "NotebookError",
    # the run and the assignment
    "RunFile", "current_run", "load_run", "Spec", "load_spec", "template_dir",
]
