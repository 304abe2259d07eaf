"""The pytest plugin that turns plain pytest files into a grader.

It runs in the trusted process. Instructors write ordinary tests and use:

Markers (see `pytest --markers`):
    @pytest.mark.points(n)            the test's worth (required for every test)
    @pytest.mark.visibility(v)        "visible" (default in tests/public), "after_due_date",
                                      or "hidden" (default in tests/hidden: name and points only)
    @pytest.mark.timeout(seconds)     limit for the whole test, in CPU seconds of its workers (wall-clock
                                      time only as a backstop: 3x + 30 s)
    @pytest.mark.modes("full", ...)   run only in these data modes (skipped, not failed, otherwise)

Fixtures:
    student     the submission's module, living in the sandboxed worker (calls run there)
    worker      its session: worker.timeout(s), worker.seed(n), worker.output_text
    fresh_worker()  a new worker on a pristine copy of the submission (context manager)
    handoff     trained weights, and nothing else, into a pristine worker: handoff.take(model, "Cls", ...)
                right after training, then `with handoff.load(weights) as [model]:` to evaluate
    course_key  the secret that hidden data is derived from: course_key.rng("purpose"), .seed(...)
    spec, mode, settings, thresholds, data_dir, device, seed
    credit      partial credit: credit.linear(value, full=..., zero=..., what=...)
    artifacts   the submission's non-code files, read as capped data
    feedback    pictures and notes for the student's feedback (feedback.image(...), feedback.note(...))

The run is configured by a JSON file named in $DLGRADE_RUN (written by `grader.grading.runner`, read as a
checked `RunFile`: grader.authoring.run_file); the report (one `TestRecord` per test) is written where that
file says. As pytest's own plugins are: this module registers the markers and, in a dlgrade run, one
`Workers` (grader.trusted.workers) and one `GradingReport` (grader.trusted.report) object, kept in
`config.stash`, whose methods are the hooks; the fixtures live in grader.trusted.fixtures.
"""
from __future__ import annotations

import sys

import pytest

from grader.trusted import fixtures
from grader.trusted.report import REPORT_KEY, GradingReport
from grader.authoring.run_file import load_run
from grader.trusted.workers import WORKERS_KEY, Workers

MARKERS = {
    "points(n)": "points the test is worth; required on every grading test",
    "visibility(v)": "who sees the result: 'visible', 'after_due_date' or 'hidden' (name and points only)",
    "timeout(seconds)": "limit for the whole test in its workers' CPU seconds (wall-clock only as a 3x + 30 s backstop)",
    "modes(*names)": "run only in these data modes; skipped (not failed) in the others",
}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser, args) -> None:
    """Helper modules beside an assignment's conftest.py (metrics, loaders) become importable."""
    run = load_run(early_config)
    if run is not None:
        tests_dir = str(run.assignment / "tests")
        if tests_dir not in sys.path:
            sys.path.insert(0, tests_dir)


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    # registered, not named in `pytest_plugins`: that would mark it for assertion rewriting after this
    # module imported it (a warning in every run); it holds no assert
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "dlgrade-fixtures")
    run = load_run(config)  # the command's spec, overrides included: read once, passed
    if run is None:
        return
    workers = config.stash[WORKERS_KEY] = Workers(run)
    report = config.stash[REPORT_KEY] = GradingReport(run, workers)
    config.pluginmanager.register(workers, "dlgrade-workers")
    config.pluginmanager.register(report, "dlgrade-report")


def pytest_unconfigure(config: pytest.Config) -> None:
    for key in (REPORT_KEY, WORKERS_KEY):
        if key in config.stash:
            config.pluginmanager.unregister(config.stash[key])
            del config.stash[key]


def pytest_collection_finish(session: pytest.Session) -> None:
    """A preparing run (`runner.prepare`) builds the @prepared values the collected tests use."""
    run = load_run(session.config)
    if run is not None and run.preparing:
        from grader.trusted.prepared import build
        build(session, run)
