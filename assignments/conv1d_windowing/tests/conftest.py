"""Fixtures shared by the public and hidden tests: the grader's series and the trained forecasters.

How the grader prepares the forecasting data (the same for every submission, so that only the
model and its training are graded here; the windowing functions have tests of their own):
- the series is read on this (trusted) side: the synthetic daily series, or the Melbourne CSV;
- two calendar channels, sin and cos of the day of the year, are added: windows are (n, m, 3);
- windows and targets (the temperature h days after a window's last day) are cut here with the
  trusted numpy code in windowing_metrics.py, not with the submission's make_windows;
- the split is chronological with the smallest purge gap (the documented chronological_split);
- the temperature channel and the targets are standardised with the training windows' mean and
  std; sin and cos are left as they are;
- the submission gets float32 tensors: Conv1dForecaster(3, frame_size) and
  train_forecaster(model, (X_tr, y_tr), (X_va, y_va), ...). The test windows are sent only after
  training, and the forecasts are de-standardised and scored here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from grader.errors import StudentError
from windowing_metrics import ForecastData, forecast_data, load_daily_series, predict, rmse


@pytest.fixture(scope="session")
def daily_series(mode, data_dir):
    """The daily series of the run's data mode (values in degrees C, day of the year)."""
    return load_daily_series(mode, data_dir)


@dataclass
class Forecast:
    """One horizon's outcome. `train_error` / `error` keep a failure to re-raise in each test that needs it."""
    h: int
    data: ForecastData
    log: object = None
    pred: np.ndarray | None = None       # degrees C, one per test window
    rmse: float = math.nan
    train_error: BaseException | None = None
    error: BaseException | None = None   # training or evaluation

    def get(self) -> "Forecast":
        if self.error is not None:
            raise self.error
        return self

    def get_log(self):
        if self.train_error is not None:
            raise self.train_error
        return self.log


def _tensors(pair):
    return tuple(torch.from_numpy(a) for a in pair)


@pytest.fixture(scope="session")
def forecasts(student, worker, daily_series, settings, device, seed) -> dict[int, Forecast]:
    """Train one Conv1dForecaster per horizon in the worker, then forecast the test windows."""
    results = {}
    for h in settings["horizons"]:
        d = forecast_data(daily_series, m=settings["frame_size"], s=settings["shift"], h=h,
                          train=settings["train"], val=settings["val"], clim_window=settings["climatology_window"])
        f = Forecast(h, d)
        results[h] = f
        try:
            worker.seed(seed + h)
            model = student.Conv1dForecaster(d.train[0].shape[2], settings["frame_size"])
            with worker.timeout(settings["train_timeout_s"]):
                f.log = student.train_forecaster(model, _tensors(d.train), _tensors(d.val), epochs=settings["epochs"],
                                                 batch_size=settings["batch_size"], lr=settings["lr"], device=device)
        except (StudentError, AssertionError) as e:
            f.train_error = f.error = e
            continue
        try:
            model.eval()
            f.pred = predict(model, d.test_X) * d.sd + d.mu  # the worker sees the test windows only now
            f.rmse = rmse(f.pred, d.test_y)
        except (StudentError, AssertionError) as e:
            f.error = e
    return results
