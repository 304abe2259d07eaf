"""`validate` of every assignment on every rung of the isolation ladder this machine offers: the
reference earns full marks and the template none whichever sandbox runs them.

About three minutes a rung, so these run apart from the main suite: `python -m pytest tests -m rungs`
(`.ci/run` does, after the suite)."""
from __future__ import annotations

import pytest

from grader.core.assignments import all_assignments
from grader.commands.validate import validate_assignment
from rungs import RUNGS, keep_modes, on_rung

pytestmark = pytest.mark.rungs
ASSIGNMENTS = [spec.name for spec in all_assignments()]


@pytest.mark.parametrize("name", ASSIGNMENTS)
@pytest.mark.parametrize("rung", RUNGS)
def test_validate_passes(rung, name, tmp_path):
    spec = next(s for s in all_assignments() if s.name == name)
    tmp_path.chmod(0o755)
    with on_rung(rung, tmp_path), keep_modes(spec.path, spec.path.parent.parent / "reference_solutions" / name):
        checks = validate_assignment(assignment=name, threads=1)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not failed, "\n".join(failed)
