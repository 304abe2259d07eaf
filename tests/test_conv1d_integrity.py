"""The conv1d_windowing grader scores forecasts, not lookups. Each cheat in examples/conv1d_windowing/
gets perfect "forecasts" from a grader that forecasts on a public series or sends the test windows
in batches (or to the worker that trained); here it must score strictly below the honest examples,
which keep (nearly) full marks. Embedded mode, a fixed course key (so the run is reproducible):

    python cli.py grade conv1d_windowing examples/conv1d_windowing --out graded/     # the same, by hand
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.assignments import find_assignment
from grader.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "conv1d_windowing"
KEY = bytes(range(32))

# a TCN (causal dilated convolutions, last step + global average pooling), a notebook with DataLoader
HONEST = ["julia_dilated_tcn.ipynb"]
FORECASTS = {"test_forecast_rmse[1]", "test_forecast_rmse[7]", "test_forecast_rmse[30]"}
# cheat -> the tests it must lose points on (it may lose more), and a phrase the forecast message must hold
CHEATS = {
    # regenerates the public synthetic series: nothing matches a keyed series, persistence is left
    "ferenc_public_lookup.py": ({"test_forecast_rmse[7]", "test_forecast_rmse[30]", "test_channel_layout"}, None),
    # remembers every window (module global, file): fed in time order it finds nothing, asked again it changes
    "gizella_window_stash.py": (FORECASTS | {"test_training_log"}, "must not remember"),
    # the same memory in a registered buffer: passes the schema check, but forward changes the state
    "hugo_forward_buffer.py": (FORECASTS | {"test_training_log"}, "must not remember"),
}


@pytest.fixture(scope="module")
def graded():
    spec = find_assignment("conv1d_windowing")
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=KEY)
    names = HONEST + list(CHEATS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(names, pool.map(lambda n: grade_submission(spec, EXAMPLES / n, options), names)))
    for name, result in results.items():
        assert result.status == "graded" and not result.grader_errors, \
            f"{name}: {result.status} {result.reason} {result.grader_errors[:1]}"
    return spec, results


def _lost(result) -> dict[str, tuple[float, str]]:
    return {t.nodeid.rsplit("::", 1)[-1]: (round(t.points - t.score, 4), t.message) for t in result.tests
            if t.score < t.points}


@pytest.mark.slow
def test_honest_forecasters_keep_full_marks(graded):
    spec, results = graded
    for name in HONEST:
        lost = _lost(results[name])
        assert results[name].score >= spec.points - 1, f"{name}: {results[name].score}/{spec.points}, lost {lost}"
        assert not FORECASTS & set(lost), f"{name} lost forecast points: {lost}"


@pytest.mark.slow
def test_cheats_score_below_every_honest_forecaster(graded):
    spec, results = graded
    floor = min(results[name].score for name in HONEST)
    problems = []
    for name, (must_lose, phrase) in CHEATS.items():
        result, lost = results[name], _lost(results[name])
        if result.score >= floor:
            problems.append(f"{name}: {result.score} >= {floor} (honest), lost {lost}")
        if must_lose - set(lost):
            problems.append(f"{name}: kept the points of {sorted(must_lose - set(lost))}")
        if phrase and not all(phrase in lost.get(t, (0, ""))[1] for t in FORECASTS):
            problems.append(f"{name}: the forecast messages do not say why: {[lost.get(t) for t in sorted(FORECASTS)]}")
    assert not problems, "\n".join(problems)
