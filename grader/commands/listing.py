"""`list`: the assignments with their points, tests, modes and limits."""
from __future__ import annotations

from grader.core.assignments import all_assignments


def list_assignments() -> list[dict]:
    rows = []
    for spec in all_assignments():
        count = lambda d: len(list(d.glob("test_*.py"))) if d.exists() else 0  # noqa: E731
        rows.append({
            "name": spec.name, "title": spec.title, "points": spec.points,
            "test_files": {"public": count(spec.public_tests), "hidden": count(spec.hidden_tests)},
            "modes": {m: v.description for m, v in spec.modes.items()}, "default_mode": spec.default_mode,
            "limits": {"memory_mb": spec.limits.memory_mb, "call_timeout_s": spec.limits.call_timeout_s,
                       "submission_timeout_s": spec.limits.submission_timeout_s},
        })
    return rows
