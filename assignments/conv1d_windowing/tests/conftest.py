"""Fixtures shared by the public and hidden tests: the grader's series and the trained forecasters.

How the grader prepares the forecasting data (the same for every submission, so that only the
model and its training are graded here; the windowing functions have tests of their own):
- the series is made on this (trusted) side: in embedded mode a draw of the synthetic generator
  whose seed comes from the course key (a submission cannot regenerate it: the public seed gives
  another series), in full mode the Melbourne CSV under a keyed transform (windowing_metrics.keyed_melbourne:
  no window of it is a window of the public CSV);
- two calendar channels, sin and cos of the day of the year, are added: windows are (n, m, 3);
- windows and targets (the temperature h days after a window's last day) are cut here with the
  trusted numpy code in windowing_metrics.py, not with the submission's make_windows;
- the split is chronological with the smallest purge gap (the documented chronological_split);
- the temperature channel and the targets are standardised with the training windows' mean and
  std; sin and cos are left as they are;
- the submission gets float32 tensors: Conv1dForecaster(3, frame_size) and
  train_forecaster(model, (X_tr, y_tr), (X_va, y_va), ...) in the main worker, horizons 30, 7, 1
  in that order: each model is trained, and its weights taken, before that worker has seen a day
  of its test period (the validation blocks of shorter horizons end later);
- the trained weights, and nothing else, go to one pristine worker (the `handoff` fixture), which
  forecasts the validation windows and then the test windows of all horizons one at a time, in the
  order of their last day (windowing_metrics.forecast_in_time_order): when a model forecasts a
  window, that worker has seen nothing later than the window's last day;
- then it is asked for all test windows again, at once: a forecaster that remembers what it was
  shown (a global, a buffer written in forward) answers differently, or has changed its state
  dict, and earns nothing; the forecasts are de-standardised and scored here;
- last, one more pristine worker per horizon forecasts the test windows (in time order again) with
  the trained weights and with keyed perturbations of them (grader.authoring.weights_dependence):
  forecasts that do not change with the weights (a lookup, a fixed formula) earn nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from grader.authoring import Dependence, StudentError, read_state, state_digest, weights_dependence
from windowing_metrics import ForecastData, forecast_data, forecast_in_time_order, load_daily_series, predict, rmse


@pytest.fixture(scope="session")
def daily_series(mode, data_dir, course_key):
    """The daily series of the run's data mode (values in degrees C, day of the year)."""
    return load_daily_series(mode, data_dir, seed=course_key.seed("conv1d_windowing", "series"))


@dataclass
class Forecast:
    """One horizon's outcome. `train_error` / `error` keep a failure to re-raise in each test that needs it."""
    h: int
    data: ForecastData
    log: object = None
    pred: np.ndarray | None = None       # degrees C, one per test window
    rmse: float = math.nan
    val_mse: float = math.nan            # of the handed-over weights on the validation windows (standardised)
    dependence: Dependence | None = None  # do the test forecasts change with the weights?
    train_error: BaseException | None = None
    error: BaseException | None = None   # training or evaluation

    def get(self) -> Forecast:
        if self.error is not None:
            raise self.error
        return self

    def get_log(self):
        if self.train_error is not None:
            raise self.train_error
        return self.log


def _stateful(model, weights, X, first) -> str | None:
    """Why the model's forecasts depend on what it was shown before (None if they do not): asked again
    all at once, after it has seen every test window, it must answer as it did window by window, and
    its state dict must still be the weights it was given."""
    again = predict(model, X)
    changed = np.flatnonzero(~np.isclose(again, first, rtol=1e-4, atol=1e-4))
    if len(changed):
        return (f"asked again after seeing the whole test period, it changed {len(changed)} of {len(X)} forecasts "
                f"(window {changed[0]}: {first[changed[0]]:.4f}, then {again[changed[0]]:.4f})")
    if state_digest(read_state(model.state_dict(), weights.label)) != weights.digest:
        return "forecasting changed its state dict (forward writes into parameters or buffers)"
    return None


def _tensors(pair):
    return tuple(torch.from_numpy(a) for a in pair)


@pytest.fixture(scope="session")
def forecasts(student, worker, handoff, daily_series, settings, device, seed, course_key) -> dict[int, Forecast]:
    """Train one Conv1dForecaster per horizon in the worker; forecast with its weights elsewhere."""
    results = {h: Forecast(h, forecast_data(daily_series, m=settings["frame_size"], s=settings["shift"], h=h,
                                            train=settings["train"], val=settings["val"],
                                            clim_window=settings["climatology_window"]))
               for h in settings["horizons"]}
    weights, seen_until = {}, -1
    for h in sorted(results, reverse=True):  # the longest horizon's test period starts first
        f, d = results[h], results[h].data
        seen_until = max(seen_until, d.seen_until)
        if seen_until >= d.test_from:  # the instructor's settings, not the submission
            raise RuntimeError(f"horizon {h}: the main worker has seen sample {seen_until} of the test period "
                               f"(from {d.test_from}); change train/val/horizons")
        channels, m = d.train[0].shape[2], settings["frame_size"]
        try:
            worker.seed(seed + h)
            model = student.Conv1dForecaster(channels, m)
            with worker.timeout(settings["train_timeout_s"]):
                f.log = student.train_forecaster(model, _tensors(d.train), _tensors(d.val), epochs=settings["epochs"],
                                                 batch_size=settings["batch_size"], lr=settings["lr"], device=device)
        except (StudentError, AssertionError) as e:
            f.train_error = f.error = e
            continue
        try:
            weights[h] = handoff.take(model, "Conv1dForecaster", channels, m)
        except (StudentError, AssertionError) as e:
            f.error = e
    if not weights:
        return results
    m, s = settings["frame_size"], settings["shift"]
    windows = {h: (results[h].data.test_X, results[h].data.test_from + np.arange(len(results[h].data.test_X)) * s + m - 1)
               for h in weights}
    if seen_until >= min(int(days[0]) for _, days in windows.values()):
        raise RuntimeError("grader configuration: a validation block reaches past the first test window")
    errors = {}
    try:
        with handoff.load(*weights.values()) as trained:  # one pristine worker holding only these weights
            models = dict(zip(weights, trained))
            for h, model in models.items():  # the past first: every validation window ends before any test window
                try:
                    val = predict(model, results[h].data.val[0])
                    results[h].val_mse = float(np.mean((val - results[h].data.val[1]) ** 2))
                except (StudentError, AssertionError) as e:
                    errors[h] = e
            preds, late = forecast_in_time_order({h: models[h] for h in models if h not in errors},
                                                 {h: windows[h] for h in models if h not in errors})
            errors.update(late)
            for h in preds:  # a forecast is a function of the window and the weights, whatever came before
                try:
                    problem = _stateful(models[h], weights[h], windows[h][0], preds[h])
                except (StudentError, AssertionError) as e:
                    problem = f"asked again, it failed ({e})"
                if problem:
                    errors[h] = AssertionError(f"horizon {h}: {problem}. A forecaster must not remember the windows "
                                               "it is shown: its forecasts earn no credit")
    except (StudentError, AssertionError) as e:  # the handoff itself (the weights do not fit a fresh model)
        for h in weights:
            results[h].error = e
        return results
    for h, e in errors.items():
        results[h].error = e
    for h, pred in preds.items():
        if h in errors:
            continue
        f = results[h]
        f.pred = pred * f.data.sd + f.data.mu
        f.rmse = rmse(f.pred, f.data.test_y)
        try:
            f.dependence = weights_dependence(
                handoff, weights[h], lambda models, h=h: forecast_in_time_order(models, {k: windows[h] for k in models}),
                graded=pred, rng=course_key.rng("conv1d_windowing", "weights dependence", h),
                what=f"horizon {h}: the test-period forecasts")
        except (StudentError, AssertionError) as e:  # the same handover passed above: a failure is the model's
            f.error = e
    return results
