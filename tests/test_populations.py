"""Every honest design a student of this course would build keeps at least 95 % of the points.

`populations/<assignment>/` holds honest submissions written from the course's lectures, the papers'
recipes, the best-known tutorials and public student code (each member's docstring says which; each
folder's README gives its measured scores). The thresholds, budgets and tolerances in the specs were
set on them, not on the reference alone. A change to a spec or a test that costs any member more than
5 % of the points fails here, naming the member, the course key and the tests it lost points on.

    python -m pytest tests -m population          # embedded mode, two course keys (CI runs it)
    python -m pytest tests -m population_full     # the full modes with ../shared/data (slow; skipped without it)

Each member is graded on two course keys: the hidden data derive from the key, so a threshold that
holds on one key only is caught.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
POPULATIONS = REPO / "populations"
DATA_DIR = Path(os.environ.get("DLGRADE_DATA_DIR", REPO.parent / "shared" / "data"))
SHARE = 0.95
# two fixed keys (any will do; fixed so that a failure can be reproduced with `grade --course-key`)
KEYS = {"key-a": bytes(range(32)), "key-b": hashlib.sha256(b"dlgrade population key b").digest()}
# the full modes measured on members (hpo's and gan's full modes need a GPU-sized budget: README says so)
FULL_MODES = {"ae_bottleneck": "full", "conv1d_windowing": "full"}
ARTIFACTS = REPO / "build" / "test-artifacts" / "populations"
# Measured and not yet fixed (a member, its assignment, why): a strict xfail, so the day it passes this list must
# shrink. Empty since ae's full mode trains 20 epochs with lines set on the lecture's one-layer ReLU code.
FULL_MODE_GAPS: dict[tuple[str, str], str] = {}


def members(assignment: str) -> list[Path]:
    folder = POPULATIONS / assignment
    return sorted(p for p in folder.iterdir()
                  if p.name != "README.md" and not p.name.startswith((".", "_")) and p.suffix in ("", ".py", ".ipynb"))


def _cases(assignments) -> list:
    return [pytest.param(a, m.name, k, id=f"{a}/{m.name}/{k}")
            for a in assignments if (POPULATIONS / a).is_dir() for m in members(a) for k in KEYS]


def _lost(result) -> str:
    return "; ".join(f"{t.name} {t.score:g}/{t.points:g}: {t.message.splitlines()[0][:160] if t.message else t.kind}"
                     for t in result.tests if t.score < t.points - 1e-9)


def _grade_and_check(assignment: str, member: str, key: str, mode: str | None, data_dir: Path | None) -> None:
    spec = find_assignment(assignment)
    options = RunOptions(mode=mode, data_dir=data_dir, include_hidden=True, threads=1, course_key=KEYS[key])
    result = grade_submission(spec, POPULATIONS / assignment / member, options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the scores README's population tables are read from
    (ARTIFACTS / f"{assignment}.{member}.{key}.{result.mode}.json").write_text(json.dumps(
        {"score": result.score, "total": result.total_points, "status": str(result.status), "lost": _lost(result)}))
    assert result.status == "graded" and not result.grader_errors, f"{member} ({key}): {result.status}: {result.reason}"
    assert result.score >= SHARE * result.total_points - 1e-9, (
        f"{assignment}/{member} on {key}, mode {result.mode}: {result.score:g}/{result.total_points:g} "
        f"(< {SHARE:.0%}); lost: {_lost(result)}")


def test_every_assignment_has_a_population():
    assignments = sorted(p.name for p in (REPO / "assignments").iterdir() if (p / "assignment.yaml").exists())
    for a in assignments:
        assert (POPULATIONS / a / "README.md").exists(), f"populations/{a}/README.md is missing"
        assert len(members(a)) >= 3, f"populations/{a} has {len(members(a))} members; the issue asks for designs " \
                                     "from the lectures, the papers/tutorials and public student code"


@pytest.mark.population
@pytest.mark.parametrize("assignment,member,key", _cases(["ae_bottleneck", "conv1d_windowing", "hpo", "gan"]))
def test_honest_member_keeps_95_percent(assignment, member, key):
    _grade_and_check(assignment, member, key, None, None)


def _full_cases() -> list:
    cases = []
    for c in _cases(FULL_MODES):
        gap = FULL_MODE_GAPS.get(tuple(c.values[:2]))
        cases.append(pytest.param(*c.values, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=gap)] if gap else []))
    return cases


@pytest.mark.population_full
@pytest.mark.parametrize("assignment,member,key", _full_cases())
def test_honest_member_keeps_95_percent_in_full_mode(assignment, member, key):
    spec = find_assignment(assignment)
    mode = FULL_MODES[assignment]
    missing = [r for r in spec.mode(mode).requires if not (DATA_DIR / r).exists()]
    if missing:
        pytest.skip(f"the full mode's data is not in {DATA_DIR} (missing {', '.join(missing)}); "
                    "set DLGRADE_DATA_DIR to the folder of shared/data")
    _grade_and_check(assignment, member, key, mode, DATA_DIR)
