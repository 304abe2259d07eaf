"""The toolkit's own test suite.

`tests/fixtures/` holds a test assignment whose `tests/public/test_*.py` are grading tests (they
need the `student` fixture of a grading run), and `tests/adversarial/` holds hostile submissions.
Neither is collected by `pytest tests`. When the grader itself runs the fixture assignment's tests
($DLGRADE_RUN is set) pytest also loads this conftest (it sits above them); then it does nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOT_TESTS = (HERE / "fixtures", HERE / "adversarial")


def pytest_ignore_collect(collection_path, config):
    if os.environ.get("DLGRADE_RUN"):
        return None
    path = Path(collection_path).resolve()
    if any(path == d or d in path.parents for d in NOT_TESTS):
        return True
    return None


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test of the session (tests/browser_support.py): Playwright's
    sync API starts once per process, so two modules with a browser each would fail in one run."""
    from browser_support import launch
    yield from launch()
