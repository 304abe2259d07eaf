"""Trusted-side computations for the conv1d_windowing tests (no student code runs here).

Everything a test compares against is computed here, independently, with a few lines of numpy:
the windows, the targets, the split blocks and the leakage rule, the series the forecasters are
trained on, the baselines and the metrics. Nothing from the reference solution is imported.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grader.authoring import StudentCodeRaised, StudentError, as_numpy, load_csv_series, synthetic_daily_series

# --- windows and targets -------------------------------------------------------------------------

def window_count(T: int, m: int, s: int, h: int = 0) -> int:
    """Complete windows of m samples, s apart, whose target h steps after the window still exists."""
    return (T - m - h) // s + 1


def windows(series: np.ndarray, m: int, s: int) -> np.ndarray:
    """(b, m, C): window k is series[k*s : k*s + m] (a (T,) series is one channel)."""
    x = np.asarray(series)
    x = x[:, None] if x.ndim == 1 else x
    b = window_count(len(x), m, s)
    return x[np.arange(b)[:, None] * s + np.arange(m)[None, :]]


def targets(series: np.ndarray, m: int, s: int, h: int, kind: str = "value") -> tuple[np.ndarray, np.ndarray]:
    """(X, y): the windows whose target exists and their targets, (b,) for (T,) or (b, C) for (T, C).
    kind "value": series[k*s + m - 1 + h]; kind "mean": the mean of series[k*s + m : k*s + m + h]."""
    x = np.asarray(series)
    b = window_count(len(x), m, s, h)
    starts = np.arange(b) * s
    if kind == "value":
        y = x[starts + m - 1 + h]
    else:
        y = x[(starts + m)[:, None] + np.arange(h)[None, :]].astype(np.float64).mean(axis=1)
    return windows(x, m, s)[:b], y


def _fmt(a: np.ndarray, limit: int = 8) -> str:
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    text = ", ".join(f"{v:g}" for v in flat[:limit])
    return f"[{text}{', ...' if flat.size > limit else ''}]"


def _compare(got: np.ndarray, want: np.ndarray) -> int | None:
    """Index of the first row (window) that differs, or None (float32 rounding is tolerated)."""
    close = np.isclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-6)
    rows = np.flatnonzero(~close.reshape(len(close), -1).all(axis=1)) if close.ndim > 1 else np.flatnonzero(~close)
    return int(rows[0]) if len(rows) else None


def expect_windows(value, series: np.ndarray, m: int, s: int, *, call: str) -> None:
    """`value` is make_windows(series, m, s): shape (b, m, C) and every window right."""
    want = windows(series, m, s)
    got = as_numpy(value, call)
    T = len(series)
    if tuple(got.shape) != want.shape:
        raise AssertionError(f"{call} returned shape {tuple(got.shape)}, expected {want.shape}: T = {T} gives "
                             f"b = floor((T - m) / s) + 1 = {want.shape[0]} windows of shape (m, C) = {want.shape[1:]}")
    k = _compare(got, want)
    if k is not None:
        raise AssertionError(f"{call}: window {k} is {_fmt(got[k])}, expected {_fmt(want[k])} "
                             f"(window k holds samples k*s ... k*s + m - 1 = {k * s} ... {k * s + m - 1})")


def expect_targets(value, series: np.ndarray, m: int, s: int, h: int, kind: str, *, call: str) -> None:
    """`value` is make_targets(series, m, s, h, kind): (X, y) with the right windows and targets."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise AssertionError(f"{call} should return a pair (X, y), got {describe(value)}")
    want_X, want_y = targets(series, m, s, h, kind)
    got_X, got_y = as_numpy(value[0], f"{call} (X)"), as_numpy(value[1], f"{call} (y)")
    b = len(want_X)
    if tuple(got_X.shape) != want_X.shape or tuple(got_y.shape) != want_y.shape:
        raise AssertionError(f"{call} returned X {tuple(got_X.shape)} and y {tuple(got_y.shape)}, expected X {want_X.shape} "
                             f"and y {want_y.shape}: only windows whose target exists are kept, "
                             f"b = floor((T - m - horizon) / s) + 1 = {b}")
    k = _compare(got_X, want_X)
    if k is not None:
        raise AssertionError(f"{call}: window {k} of X is {_fmt(got_X[k])}, expected {_fmt(want_X[k])}")
    k = _compare(got_y, want_y)
    if k is not None:
        where = (f"series[k*s + m - 1 + horizon] = series[{k * s + m - 1 + h}]" if kind == "value" else
                 f"the mean of series[k*s + m : k*s + m + horizon] = series[{k * s + m} : {k * s + m + h}]")
        raise AssertionError(f"{call}: the target of window {k} is {_fmt(got_y[k])}, expected {_fmt(want_y[k])}, "
                             f"which is {where}")


# --- the split -----------------------------------------------------------------------------------

def purge_gap(m: int, s: int, h: int) -> int:
    """The smallest number of windows to drop at a border: a window spans m + h samples."""
    return math.ceil((m + h) / s) - 1


def split_blocks(N: int, train: float, val: float, gap: int) -> tuple[range, range, range]:
    """Window indices of the train, val and test blocks (chronological_split's documented contract)."""
    n_train, n_val = int(train * N), int(val * N)
    return (range(0, max(n_train - gap, 0)), range(n_train, max(n_train + n_val - gap, n_train)),
            range(n_train + n_val, N))


def index_windows(T: int, m: int, s: int, h: int, kind: str = "value") -> tuple[np.ndarray, np.ndarray]:
    """Windows and targets of the series 0, 1, ..., T-1: every value names the sample it came from,
    so whatever a split returns tells which windows went where."""
    X, y = targets(np.arange(T, dtype=np.float64), m, s, h, kind)
    return X, y  # (N, m, 1), (N,)


def read_split(parts, *, X: np.ndarray, y: np.ndarray, s: int, call: str) -> list[np.ndarray]:
    """The window indices in each returned block, after checking that the result is three (X, y)
    pairs of unmodified windows, each paired with its own target."""
    if not isinstance(parts, (tuple, list)) or len(parts) != 3:
        raise AssertionError(f"{call} should return three (X, y) pairs (train, val, test), got {describe(parts)}")
    names = ("train", "val", "test")
    out = []
    for name, pair in zip(names, parts):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise AssertionError(f"{call}: the {name} part should be an (X, y) pair, got {describe(pair)}")
        Xb = as_numpy(pair[0], f"{call} ({name} X)")
        yb = as_numpy(pair[1], f"{call} ({name} y)")
        if Xb.ndim != 3 or Xb.shape[1:] != X.shape[1:]:
            raise AssertionError(f"{call}: the {name} windows have shape {Xb.shape}, "
                                 f"expected (n, {X.shape[1]}, {X.shape[2]})")
        if yb.shape != (len(Xb),) + y.shape[1:]:
            raise AssertionError(f"{call}: the {name} targets have shape {yb.shape}, expected {(len(Xb),) + y.shape[1:]}")
        first = Xb[:, 0, 0].astype(np.float64)
        idx = np.rint(first / s).astype(np.int64)
        same = not np.any(idx < 0) and not np.any(idx >= len(X)) and np.array_equal(Xb, X[np.clip(idx, 0, len(X) - 1)])
        if len(Xb) and not same:
            raise AssertionError(f"{call}: the {name} block holds windows that are not windows of X (rows changed or mixed)")
        if len(yb) and not np.allclose(yb, y[idx]):
            raise AssertionError(f"{call}: in the {name} block some windows are no longer paired with their own targets")
        out.append(idx)
    return out


def leakage(blocks: list[np.ndarray], m: int, s: int, h: int) -> str | None:
    """The first violation of the rule, as text, or None: every sample a window uses (inputs and
    target, [i*s, i*s + m + h - 1]) lies before the first sample of every window of a later block."""
    names = ("train", "val", "test")
    for a in range(3):
        for b in range(a + 1, 3):
            if len(blocks[a]) == 0 or len(blocks[b]) == 0:
                continue
            i, j = int(blocks[a].max()), int(blocks[b].min())
            if i * s + m + h - 1 >= j * s:
                return (f"{names[a]} window {i} uses samples up to {i * s + m + h - 1} (inputs and target), but "
                        f"{names[b]} window {j} starts at sample {j * s}: the {names[b]} period leaks into {names[a]}")
    return None


def _blocks_text(blocks) -> str:
    parts = []
    for name, b in zip(("train", "val", "test"), blocks):
        b = np.asarray(b)
        parts.append(f"{name} {b.min()}..{b.max()} ({len(b)})" if len(b) else f"{name} empty")
    return "windows " + ", ".join(parts)


def expect_split(parts, *, T: int, m: int, s: int, h: int, kind: str, train: float, val: float,
                 gap: int | None = None, exact: bool, call: str) -> None:
    """Check chronological_split's result on the windows of the index series 0 .. T-1.

    Always: three (X, y) pairs of unmodified, correctly paired windows; each block consecutive and
    in time order; the blocks one after the other. Without an explicit gap: the leakage rule, and
    no block smaller than the documented one (purging more than needed, or emptying a block, does
    not count as avoiding leakage). With exact: the blocks are exactly the documented ones."""
    X, y = index_windows(T, m, s, h, kind)
    N = len(X)
    blocks = read_split(parts, X=X, y=y, s=s, call=call)
    g = purge_gap(m, s, h) if gap is None else gap
    want = [np.asarray(r) for r in split_blocks(N, train, val, g)]
    got_text, want_text = _blocks_text(blocks), _blocks_text(want)
    for name, b in zip(("train", "val", "test"), blocks):
        if len(b) > 1 and np.any(np.diff(b) != 1):
            raise AssertionError(f"{call}: the {name} block is not a run of consecutive windows in time order ({got_text})")
    for a in range(2):
        later = next((blocks[c] for c in range(a + 1, 3) if len(blocks[c])), None)
        if len(blocks[a]) and later is not None and blocks[a].max() >= later.min():
            raise AssertionError(f"{call}: the blocks are not in time order train < val < test ({got_text})")
    if gap is None:
        problem = leakage(blocks, m, s, h)
        if problem:
            raise AssertionError(f"{call}: {problem} ({got_text}; N = {N} windows, purge gap "
                                 f"ceil((m + h) / s) - 1 = {g})")
        for name, b, w in zip(("train", "val", "test"), blocks, want):
            if len(b) < len(w) - 1:  # one window of slack for rounding the block sizes another way
                raise AssertionError(f"{call}: the {name} block has {len(b)} windows, but {len(w)} fit without leakage "
                                     f"({got_text}; expected {want_text})")
    if exact and any(len(b) != len(w) or (len(b) and b[0] != w[0]) for b, w in zip(blocks, want)):
        raise AssertionError(f"{call} returned {got_text}; expected {want_text} (N = {N}, "
                             f"n_train = int(train * N) = {int(train * N)}, n_val = int(val * N) = {int(val * N)}, "
                             f"purge gap {g}: the last {g} windows of the train and val blocks are dropped)")


# --- conv1d -------------------------------------------------------------------------------------

def torch_conv1d_length(L: int, k: int, stride: int, padding: int, dilation: int) -> int | None:
    """The output length nn.Conv1d actually produces (None where it refuses the input)."""
    try:
        out = torch.nn.functional.conv1d(torch.zeros(1, 1, L), torch.zeros(1, 1, k), stride=stride,
                                         padding=padding, dilation=dilation)
    except RuntimeError:
        return None
    return int(out.shape[-1]) if out.shape[-1] > 0 else None


# --- errors -------------------------------------------------------------------------------------

def describe(value) -> str:
    if hasattr(value, "type_name"):
        return f"an object of type {value.type_name}"
    if hasattr(value, "shape"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return repr(value)[:80]


def expect_value_error(call, what: str) -> None:
    """`call()` (a call into the worker) must raise ValueError; anything else fails with a message."""
    try:
        result = call()
    except StudentCodeRaised as e:
        if e.is_a("ValueError"):  # a student's own subclass (class WindowError(ValueError)) is a ValueError
            return
        raised = re.match(r"your code raised (\w+)", e.student_message)
        kind = raised.group(1) if raised else "an exception"
        raise AssertionError(f"{what} should raise ValueError, but raised {kind}") from None
    raise AssertionError(f"{what} should raise ValueError, but returned {describe(result)}")


# --- the forecasting data -------------------------------------------------------------------------

@dataclass
class DailySeries:
    values: np.ndarray        # (T,) float64, degrees C
    day_of_year: np.ndarray   # (T,) int64, 0-based
    period: int               # days in the calendar cycle (365 synthetic, 366 real dates)
    expected: np.ndarray | None = None  # synthetic only: the generator's noise-free part (season + trend)

    def with_calendar(self) -> np.ndarray:
        """(T, 3) float64: temperature, sin and cos of the day of the year."""
        angle = 2 * np.pi * self.day_of_year / self.period
        return np.stack([self.values, np.sin(angle), np.cos(angle)], axis=1)


def load_daily_series(mode: str, data_dir: Path | None, *, seed: int = 0) -> DailySeries:
    """The series a mode grades on, drawn with `seed` (the tests pass one derived from the course key,
    so the series cannot be rebuilt in the sandbox; seed 0 in embedded mode is the public series the
    reference trains on by default). Embedded: a draw of the synthetic generator. Full: the Melbourne
    series under a keyed transform (keyed_melbourne), so that no window of it is a window of the CSV."""
    if mode == "embedded":
        values = synthetic_daily_series(seed=seed)
        return DailySeries(values, np.arange(len(values)) % 365, 365, synthetic_daily_series(seed=seed, noise_scale=0))
    d = load_csv_series(Path(data_dir) / "univariate" / "daily-min-temperatures.csv")
    dates = d["dates"].astype("datetime64[D]")
    return keyed_melbourne(d["values"], (dates - dates.astype("datetime64[Y]")).astype(np.int64), seed)


# The keyed transform of the full mode (measured in assignment.yaml, full thresholds). Each part has
# a job: the time warp and the keyed weather make every window differ from every window of the public
# CSV (a stored copy finds no match, exact or approximate); the weather also makes part of each target
# unknowable from the CSV, so even a submission that estimated the transform from its training data
# and read the CSV's future would miss by the keyed weather's innovations; scale and offset move the
# numbers away from any stored ones.
WARP_DAYS = (3.0, 8.0)           # amplitude of the sinusoidal time warp, days (keyed in this range)
WARP_PERIOD_DAYS = (150.0, 400.0)  # its period: the warp's slope stays within 1 +- 0.34, so time runs forward
KEYED_WEATHER = 0.7              # weight of the keyed AR(1) weather (the synthetic generator's, sd ~2.5 deg C)
SCALE = (0.8, 1.25)
OFFSET_C = (-5.0, 5.0)


def keyed_melbourne(values: np.ndarray, day_of_year: np.ndarray, seed: int) -> DailySeries:
    """y(t) = a * (v(w(t)) + KEYED_WEATHER * e(t)) + b, applied to the whole series (train, val and test
    alike): v the CSV read at the warped time w(t) = t + A sin(2 pi t / P + phase) (linear
    interpolation), e the AR(1) weather of the synthetic generator drawn with `seed`, a and b a keyed
    scale and offset. The calendar channel follows the warped date. All of it derives from `seed`."""
    rng = np.random.default_rng([seed, 0x3E1B])
    T = len(values)
    amplitude, period, phase = rng.uniform(*WARP_DAYS), rng.uniform(*WARP_PERIOD_DAYS), rng.uniform(0, 2 * np.pi)
    scale, offset = rng.uniform(*SCALE), rng.uniform(*OFFSET_C)
    t = np.arange(T, dtype=np.float64)
    warped = np.clip(t + amplitude * np.sin(2 * np.pi * t / period + phase), 0, T - 1)
    weather = synthetic_daily_series(T, seed=seed) - synthetic_daily_series(T, seed=seed, noise_scale=0)
    out = scale * (np.interp(warped, t, np.asarray(values, np.float64)) + KEYED_WEATHER * weather) + offset
    return DailySeries(out, np.asarray(day_of_year)[np.rint(warped).astype(np.int64)], 366)


@dataclass
class ForecastData:
    """One horizon's windows, split and standardised the way the tests send them."""
    h: int
    train: tuple[np.ndarray, np.ndarray]   # standardised float32 (X (n, m, C), y (n,))
    val: tuple[np.ndarray, np.ndarray]
    test_X: np.ndarray                     # standardised float32, sent only after training
    test_y: np.ndarray                     # degrees C (float64)
    mu: float                              # temperature mean and std of the training windows
    sd: float
    persistence: np.ndarray                # degrees C, per test window
    climatology: np.ndarray
    seen_until: int                        # the last sample a train or val window uses (input or target)
    test_from: int                         # the first sample of the first test window
    best: np.ndarray | None                # synthetic only: the best forecast from the past, per test window


def forecast_data(series: DailySeries, *, m: int, s: int, h: int, train: float, val: float,
                  clim_window: int) -> ForecastData:
    """Windows of (temperature, sin, cos), target = temperature h days after the window, split in
    time with the smallest purge gap; the temperature channel and the target are standardised with
    the training windows' statistics (sin and cos are already in [-1, 1])."""
    full = series.with_calendar()
    X, y = targets(full, m, s, h, "value")
    y = y[:, 0]
    tr, va, te = split_blocks(len(X), train, val, purge_gap(m, s, h))
    tr, va, te = (np.asarray(r) for r in (tr, va, te))
    mu, sd = float(X[tr, :, 0].mean()), float(X[tr, :, 0].std())

    def norm(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[:, :, 0] = (a[:, :, 0] - mu) / sd
        return a.astype(np.float32)

    target_day = lambda idx: series.day_of_year[idx * s + m - 1 + h]  # noqa: E731
    clim = climatology(target_day(tr), y[tr], target_day(te), period=series.period, window=clim_window)
    return ForecastData(h, (norm(X[tr]), ((y[tr] - mu) / sd).astype(np.float32)),
                        (norm(X[va]), ((y[va] - mu) / sd).astype(np.float32)),
                        norm(X[te]), y[te], mu, sd, X[te, -1, 0], clim,
                        int(max(tr.max(), va.max(initial=0))) * s + m - 1 + h, int(te[0]) * s,
                        None if series.expected is None else best_forecast(series, te * s + m - 1, h))


def best_forecast(series: DailySeries, last: np.ndarray, h: int) -> np.ndarray:
    """The generator's own forecast h days after the samples `last`: the noise-free part plus what is
    left of today's AR(1) anomaly, phi^h of it. No model of the past does better on average (it
    cannot know the innovations to come); phi is read off the series (least squares, ~0.7)."""
    a = series.values - series.expected
    phi = float(a[1:] @ a[:-1] / (a[:-1] @ a[:-1]))
    return series.expected[last + h] + phi ** h * a[last]


def climatology(train_days, train_values, query_days, *, period: int, window: int) -> np.ndarray:
    """The mean training target over the days within +-(window // 2) of each query's day of the year
    (circular), the overall training mean where there is none."""
    train_days, query_days = np.asarray(train_days) % period, np.asarray(query_days) % period
    values = np.asarray(train_values, dtype=np.float64)
    out = np.empty(len(query_days))
    for q, d in enumerate(query_days):
        dist = np.abs(train_days - d)
        near = np.minimum(dist, period - dist) <= window // 2
        out[q] = values[near].mean() if near.any() else values.mean()
    return out


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2)))


def _checked(value, xb: np.ndarray, outputs: int, name: str) -> np.ndarray:
    want = (len(xb),) if outputs == 1 else (len(xb), outputs)
    p = as_numpy(value, f"{name}(x)")
    if p.shape != want:
        raise AssertionError(f"{name}(x) for x of shape {tuple(xb.shape)} returned shape {p.shape}, expected {want}")
    if p.dtype.kind != "f":
        raise AssertionError(f"{name}(x) returned dtype {p.dtype}, expected a floating-point tensor")
    if not np.isfinite(p).all():
        raise AssertionError(f"{name}(x) returned {int((~np.isfinite(p)).sum())} NaN or infinite value(s)")
    return p.astype(np.float64)


def predict(model, X: np.ndarray, *, outputs: int = 1, batch: int = 1024, name: str = "Conv1dForecaster") -> np.ndarray:
    """model(X) computed in the worker, batch by batch, checked: (N,) (or (N, outputs)), finite.
    Only for windows whose targets no window of the same call reveals (the past, or i.i.d. windows)."""
    return np.concatenate([_checked(model(torch.from_numpy(X[i:i + batch])), X[i:i + batch], outputs, name)
                           for i in range(0, len(X), batch)])


def forecast_in_time_order(models: dict, windows: dict, *, name: str = "Conv1dForecaster") -> tuple[dict, dict]:
    """Forecasts of windows of one series, asked one window at a time in the order of their last day.

    models: {key: remote model}; windows: {key: (X (n, m, C), last_day (n,))}, last_day the index of
    each window's last sample. A later window holds the days after an earlier one, its target among
    them: sent together, or before the earlier one is answered, they would let a model that compares
    windows (within a batch, or remembered across calls, even by another model in the same worker)
    read the future instead of forecasting it. Asked in time order, the worker has seen nothing later
    than the last day of the window it forecasts, which is what a forecaster knows in use (~1 ms a call).
    Each window goes as a batch of two copies of itself: a model that fails on a batch of one loses
    that in test_other_shapes, not all its forecasts here.
    Returns ({key: forecasts (n,)}, {key: the error that stopped that model})."""
    order = sorted((int(day), n, key, i) for n, (key, (_, days)) in enumerate(windows.items())
                   for i, day in enumerate(days))
    out = {key: np.empty(len(X)) for key, (X, _) in windows.items()}
    errors = {}
    for _, _, key, i in order:
        if key in errors:
            continue
        X = np.repeat(windows[key][0][i:i + 1], 2, axis=0)
        try:
            out[key][i] = _checked(models[key](torch.from_numpy(X)), X, 1, name)[0]
        except (StudentError, AssertionError) as e:
            errors[key] = e
    return {k: v for k, v in out.items() if k not in errors}, errors


# --- the channel-layout task ---------------------------------------------------------------------

def layout_task(n: int, m: int, channels: int, informative: int, noise_scale: float, seed: int):
    """Windows of white noise, (n, m, channels); the target is the mean |value| of one channel over
    the window (standardised). The other channels are louder noise. A Conv1d that slides over time
    learns this with a few filters (|x| = relu(x) + relu(-x), then an average); a model that treats
    the time axis as channels (no permute, or reshape instead of permute) has to learn it position by
    position and does not get there in a short training."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m, channels)).astype(np.float32)
    X[:, :, [c for c in range(channels) if c != informative]] *= np.float32(noise_scale)
    y = np.abs(X[:, :, informative].astype(np.float64)).mean(axis=1)
    return X, ((y - y.mean()) / y.std()).astype(np.float32)
