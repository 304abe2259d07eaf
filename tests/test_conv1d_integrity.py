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

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "conv1d_windowing"
KEY = bytes(range(32))

# a TCN (causal dilated convolutions, last step + global average pooling), a notebook with DataLoader
HONEST = ["julia_dilated_tcn.ipynb"]
R1, R7, R30 = "test_forecast_rmse[1]", "test_forecast_rmse[7]", "test_forecast_rmse[30]"
WHY = "must not remember"  # the message of a forecaster caught answering from what it was shown
# cheat -> {test it must lose points on: a phrase its message must hold, or None}; it may lose more
CHEATS = {
    # regenerates the public synthetic series: nothing matches a keyed draw, persistence is left
    # (which keeps most of the h=1 points: one day ahead persistence is nearly as good as a model)
    "ferenc_public_lookup.py": {R7: None, R30: None, "test_channel_layout": None},
    # remembers every window (a module global, a file) and answers with the window h days later: fed
    # in time order it finds nothing, asked again it changes; persistence where windows h apart do
    # not overlap (h = 30)
    "gizella_window_stash.py": {R1: WHY, R7: WHY, R30: None, "test_channel_layout": None,
                                "test_training_log": None},
    # the same memory in a registered buffer (it passes the schema check) in front of an honest
    # network: forward changes the state and answers differently when asked again; its val loss in
    # the pristine worker (found in memory) is not the logged one
    "hugo_forward_buffer.py": {R1: WHY, R7: WHY, "test_training_log": None},
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
        assert not {R1, R7, R30} & set(lost), f"{name} lost forecast points: {lost}"


@pytest.mark.slow
def test_cheats_score_below_every_honest_forecaster(graded):
    spec, results = graded
    floor = min(results[name].score for name in HONEST)
    problems = []
    for name, expected in CHEATS.items():
        result, lost = results[name], _lost(results[name])
        if result.score >= floor:
            problems.append(f"{name}: {result.score} >= {floor} (honest), lost {lost}")
        for test, phrase in expected.items():
            if test not in lost:
                problems.append(f"{name}: kept the points of {test}")
            elif phrase and phrase not in lost[test][1]:
                problems.append(f"{name}: {test} does not say why: {lost[test][1][:200]}")
    assert not problems, "\n".join(problems)
