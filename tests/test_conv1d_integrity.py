"""The conv1d_windowing grader scores forecasts, not lookups. Each cheat in examples/conv1d_windowing/
gets perfect "forecasts" from a grader that forecasts on a public series or sends the test windows
in batches (or to the worker that trained); here it must score strictly below the honest examples,
which keep (nearly) full marks. Embedded mode, a fixed course key (so the run is reproducible):

    python examples/materialise.py conv1d_windowing /tmp/conv1d-examples     # the same, by hand
    python cli.py grade conv1d_windowing /tmp/conv1d-examples --out graded/

Full mode grades a keyed transform of the public Melbourne series (windowing_metrics.keyed_melbourne):
a stored copy of the CSV finds no window of it, and a forecaster that falls back to something that
ignores its weights earns no forecast points (grader.authoring.weights_dependence).
"""
from __future__ import annotations

import runpy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
materialised = runpy.run_path(str(REPO / "examples" / "materialise.py"))["materialised"]
KEY = bytes(range(32))

# a TCN (causal dilated convolutions, last step + global average pooling), a notebook with DataLoader
HONEST = ["julia_dilated_tcn.ipynb"]
R1, R7, R30 = "test_forecast_rmse[1]", "test_forecast_rmse[7]", "test_forecast_rmse[30]"
WHY = "must not remember"  # the message of a forecaster caught answering from what it was shown
IGNORES = "do not come from the trained weights"  # forecasts that do not change when the weights do
DATA = Path("/work/shared/data")  # the full mode's data directory (the tests that need it skip without it)
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
    # the public CSV in a buffer, looked up (issue #20: 40/40 on the plain CSV in full mode); on a series
    # it cannot find, persistence, which does not depend on its weights
    "kornel_public_csv_lookup.py": {R1: IGNORES, R7: IGNORES, R30: IGNORES},
}


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """examples/conv1d_windowing made whole (the cheats are stored as their code beside the reference's)."""
    return materialised("conv1d_windowing", tmp_path_factory.mktemp("conv1d-examples"))


@pytest.fixture(scope="module")
def graded(examples):
    spec = find_assignment("conv1d_windowing")
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=KEY)
    names = HONEST + list(CHEATS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(names, pool.map(lambda n: grade_submission(spec, examples / n, options), names)))
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


def _full_mode_data():
    if not (DATA / "univariate" / "daily-min-temperatures.csv").exists():
        pytest.skip(f"full-mode data not in {DATA}")
    sys.path.insert(0, str(REPO / "assignments" / "conv1d_windowing" / "tests"))
    import windowing_metrics
    return windowing_metrics


def _nearest_csv_window_forecast(wm, series, h: int) -> tuple[float, float]:
    """The best a stored copy of the CSV does without training: each test window's best affine match
    among the CSV's windows (highest correlation), the CSV's value h days later mapped back by that fit.
    Returns (its RMSE, the better of persistence and climatology's RMSE) on the test period."""
    d = wm.forecast_data(series, m=30, s=1, h=h, train=0.7, val=0.15, clim_window=15)
    csv = wm.load_csv_series(DATA / "univariate" / "daily-min-temperatures.csv")["values"].astype(np.float64)
    X = d.test_X[:, :, 0].astype(np.float64) * d.sd + d.mu
    W = wm.windows(csv[:len(csv) - h], 30, 1)[:, :, 0]
    Xc, Wc = X - X.mean(1, keepdims=True), W - W.mean(1, keepdims=True)
    j = ((Xc / np.linalg.norm(Xc, axis=1, keepdims=True)) @ (Wc / np.linalg.norm(Wc, axis=1, keepdims=True)).T).argmax(1)
    slope = (Xc * Wc[j]).sum(1) / (Wc[j] ** 2).sum(1)
    pred = X.mean(1) + slope * (csv[j + 29 + h] - W[j].mean(1))
    return wm.rmse(pred, d.test_y), min(wm.rmse(d.persistence, d.test_y), wm.rmse(d.climatology, d.test_y))


def test_a_stored_copy_of_the_public_series_finds_no_window_of_the_graded_one():
    wm = _full_mode_data()
    plain = wm.load_csv_series(DATA / "univariate" / "daily-min-temperatures.csv")
    dates = plain["dates"].astype("datetime64[D]")
    public = wm.DailySeries(plain["values"], (dates - dates.astype("datetime64[Y]")).astype(np.int64), 366)
    for h in (1, 7, 30):  # the plain CSV: the copy knows the future exactly
        assert _nearest_csv_window_forecast(wm, public, h)[0] < 0.01
    for seed in (1, 2, 3):  # keyed: the copy's best match forecasts worse than a free baseline
        series = wm.load_daily_series("full", DATA, seed=seed)
        for h in (1, 7, 30):
            copy, baseline = _nearest_csv_window_forecast(wm, series, h)
            assert copy > baseline, f"seed {seed}, h={h}: a stored CSV forecasts with RMSE {copy:.3f} <= {baseline:.3f}"


@pytest.mark.slow
def test_full_mode_lookup_of_the_public_csv_scores_below_an_honest_forecaster(examples):
    _full_mode_data()
    spec = find_assignment("conv1d_windowing")
    options = RunOptions(mode="full", data_dir=DATA, include_hidden=True, threads=1, course_key=KEY)
    names = HONEST + ["kornel_public_csv_lookup.py"]
    results = {n: grade_submission(spec, examples / n, options) for n in names}
    for name, result in results.items():
        assert result.status == "graded" and not result.grader_errors, f"{name}: {result.status} {result.reason}"
    honest, lookup = results[HONEST[0]], results["kornel_public_csv_lookup.py"]
    assert honest.score >= 0.95 * spec.points, f"{HONEST[0]}: {honest.score}, lost {_lost(honest)}"
    assert lookup.score < honest.score, f"lookup {lookup.score} >= honest {honest.score}"
    lost = _lost(lookup)
    for test in (R1, R7, R30):
        assert test in lost and IGNORES in lost[test][1], f"{test}: {lost.get(test)}"
