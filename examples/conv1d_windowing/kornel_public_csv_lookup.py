"""Windowing a time series and forecasting it with a 1-D convolutional network.

Exercise: cut a daily temperature series into overlapping windows (frame size m, shift s), build
targets 1 day, 1 week and 1 month ahead, split the windows chronologically without leakage, and
train a small nn.Conv1d forecaster that has to beat persistence and climatology.
Lecture: "Time series with CNNs": window k covers samples k*s ... k*s+m-1, a batch is b x m x channels,
and a Conv1d layer's output length is floor((L + 2p - d(k-1) - 1) / stride) + 1.

Train it (or run the notebook top to bottom; it uses the defaults of Config):
    python conv1d_windowing.py                                 # synthetic series, offline
    python conv1d_windowing.py --mode full --data-dir DATA     # DATA/univariate/daily-min-temperatures.csv
"""
# EXAMPLE SUBMISSION (conv1d_windowing), a cheat (issue #20): the public Melbourne CSV, stored in the
#   source and in a registered buffer (so it passes the handover), is the forecast. train_forecaster
#   trains the network honestly (the log is true) and then finds its first training window in the
#   stored series, which gives the grader's standardisation (mean, sd) and, from the targets, the
#   horizon. forward looks each window up in the stored series and returns the true value h days
#   later plus deterministic noise (sd 2.0 / 2.3 / 2.35 deg C), to land just below an honest model;
#   a window it cannot find gets persistence. Against the plain CSV this scored 40/40 (RMSE 2.02 /
#   2.31 / 2.36 against the reference's 2.18 / 2.58 / 2.53). The grader now forecasts a keyed
#   transform of the series (time warp, keyed weather, scale, offset: windowing_metrics.keyed_melbourne):
#   no window matches, every forecast is persistence, which does not change with the weights
#   (grader.authoring.weights_dependence), and no forecast point is earned.

# %% [markdown]
# # 1-D convolutions on a time series
#
# We forecast the daily minimum temperature 1 day, 1 week and 1 month ahead with a small
# convolutional network. Most of the work is in the data: cutting the series into windows, pairing
# each window with its target, and splitting in time without leaking the future into training.
# The embedded mode uses a synthetic weather-like series (offline, seconds); the full mode uses ten
# years of Melbourne daily minimum temperatures (1981-1990).

# %%
import math
import operator
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlcourse.config import from_command_line
from dlcourse.datasets import load_csv_series, synthetic_daily_series


@dataclass
class Config:
    mode: str = "embedded"          # "embedded": synthetic_daily_series() (offline) | "full": Melbourne CSV
    data_dir: str = "../shared/data"  # full mode reads data_dir/univariate/daily-min-temperatures.csv
    frame_size: int = 30            # m: days of history in one window
    shift: int = 1                  # s: days between the starts of consecutive windows
    horizons: tuple = (1, 7, 30)    # days ahead: 1 day, 1 week, 1 month (one model per horizon)
    train: float = 0.7              # fraction of windows in the training block (before purging)
    val: float = 0.15               # fraction in the validation block; the rest is the test block
    calendar: bool = True           # add sin/cos(day of year) input channels: 3 channels instead of 1
    hidden: int = 32                # Conv1d channels
    kernel_size: int = 5            # Conv1d kernel, in days
    epochs: int = 15                # val loss flattens after ~5-15 epochs; more overfits at h = 7, 30
    batch_size: int = 128
    lr: float = 1e-3                # Adam
    seed: int = 0
    num_threads: int = 1            # torch.set_num_threads on CPU (0: torch's default); on a busy shared
                                    # machine 1 is far faster for this ~6k-parameter model


device = "cuda" if torch.cuda.is_available() else "cpu"

# %% [markdown]
# ## Windows
# A forecaster does not see the whole series at once: it sees a **window** of the last `m` samples
# (the *frame size*) and predicts something later. Consecutive windows start `s` samples apart (the
# *shift*), so window `k` covers samples `k*s, ..., k*s + m - 1`. A series of `T` samples gives
# `b = floor((T - m) / s) + 1` complete windows; an incomplete tail is dropped.
#
# With `s < m` the windows overlap, so copying every window would store each sample up to `m / s`
# times. `torch.Tensor.unfold` instead returns a **view**: the windows are a new shape and new strides
# on the same memory, built in microseconds even for a million samples. The price: writing into a
# window writes into the series (and into every other window that holds that sample). Never modify
# windows in place: with `s = 1` and `m = 3`, `X -= 1` silently subtracts up to 3 from each sample of
# the series (once per window that holds it), with no error. `(X - mean) / std` makes a new tensor.
#
# ## Layouts
# A batch of windows is `(b, m, channels)`, the layout of the lecture and of Keras'
# `Conv1D` (`(batch, timesteps, features)`). PyTorch's `nn.Conv1d` expects `(batch, channels, time)`
# and slides its kernel over the **last** axis. Feed it `(b, m, C)` directly and it will either
# fail (when `m != C`) or, worse, silently convolve across channels when the numbers happen to match.
# So the model permutes: `x.permute(0, 2, 1)`.
#
# Output length of a Conv1d layer with kernel `k`, stride, padding `p` and dilation `d`:
# `L_out = floor((L + 2p - d(k - 1) - 1) / stride) + 1`.

# %%
def as_series_tensor(series) -> torch.Tensor:
    """numpy or torch -> torch, without a copy where possible (given to students).

    torch.as_tensor shares memory with a numpy array that has non-negative strides; floating dtypes
    are kept (float64 stays float64). Integer or boolean series become float32 (that is a copy).
    """
    if isinstance(series, np.ndarray) and any(st < 0 for st in series.strides):
        series = np.ascontiguousarray(series)  # torch cannot view negative strides
    x = torch.as_tensor(series)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    return x


def make_windows(series, frame_size: int, shift: int) -> torch.Tensor:
    """All complete windows of a series, as a zero-copy view.

    series: (T,) or (T, C), numpy array or torch tensor. A (T,) series is one channel.
    Returns X of shape (b, frame_size, C) with b = floor((T - frame_size) / shift) + 1, where
    X[k] = series[k*shift : k*shift + frame_size] (as (frame_size, C)); the incomplete tail is dropped.

    The result is a view (torch.Tensor.unfold), not a copy: for a torch input it shares storage with
    it, and for a numpy input with the array (converted with torch.as_tensor). Floating dtypes are
    kept; integer series become float32. Windows overlap when shift < frame_size, so do not write
    into the result; call .contiguous() or .clone() if you need an independent copy.
    Raises ValueError if frame_size < 1, shift < 1, T < frame_size, or series is not 1-D/2-D.
    """
    # BEGIN SOLUTION hint: view a (T,) series as (T, 1); x.unfold(0, frame_size, shift) is (b, C, frame_size) -> transpose to (b, frame_size, C). No Python loop, no copy.
    frame_size, shift = operator.index(frame_size), operator.index(shift)
    x = as_series_tensor(series)
    if x.ndim == 1:
        x = x.unsqueeze(1)  # (T, 1), still a view
    if x.ndim != 2:
        raise ValueError(f"series must be (T,) or (T, C), got shape {tuple(x.shape)}")
    if frame_size < 1:
        raise ValueError(f"frame_size must be >= 1, got {frame_size}")
    if shift < 1:
        raise ValueError(f"shift must be >= 1, got {shift}")
    if x.shape[0] < frame_size:
        raise ValueError(f"series has T={x.shape[0]} samples, fewer than frame_size={frame_size}: no window fits")
    return x.unfold(0, frame_size, shift).transpose(1, 2)  # (b, C, m) -> (b, m, C), same storage
    # END SOLUTION


def make_targets(series, frame_size: int, shift: int, horizon: int, kind: str = "value"):
    """Windows and the target each one should forecast.

    Window k (inputs k*s ... k*s+m-1, m = frame_size, s = shift) gets the target
      kind="value": the sample `horizon` steps after its last input, series[k*s + m - 1 + horizon];
      kind="mean":  the mean of the next `horizon` samples, series[k*s + m : k*s + m + horizon].
    Only windows whose target lies inside the series are kept: b = floor((T - m - horizon) / s) + 1.
    Returns (X, y): X (b, m, C) as in make_windows (a view); y (b,) for a (T,) series, (b, C) for (T, C).
    Raises ValueError for kind not in {"value", "mean"}, horizon < 1, or T < m + horizon (no target
    exists), and everything make_windows raises for.
    """
    # BEGIN SOLUTION hint: count the windows whose target exists, take X = make_windows(...)[:b]; y is a strided slice of the series ("value") or the mean of series[m:].unfold(0, horizon, shift) ("mean").
    if kind not in ("value", "mean"):
        raise ValueError(f'kind must be "value" or "mean", got {kind!r}')
    horizon = operator.index(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    x = as_series_tensor(series)
    X = make_windows(x, frame_size, shift)  # validates frame_size, shift and the shape
    T = x.shape[0]
    if T < frame_size + horizon:
        raise ValueError(f"series has T={T} samples: no window of {frame_size} has a target {horizon} steps ahead")
    b = (T - frame_size - horizon) // shift + 1
    if kind == "value":
        y = x[frame_size - 1 + horizon :: shift][:b]  # (b,) or (b, C)
    else:
        y = x[frame_size:].unfold(0, horizon, shift)[:b].mean(-1)  # (b, horizon) or (b, C, horizon) -> mean
    return X[:b], y
    # END SOLUTION


def conv1d_output_length(length: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of nn.Conv1d: floor((length + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1.

    Raises ValueError for length < 1, kernel_size < 1, stride < 1, padding < 0, dilation < 1, or when
    the (dilated) kernel does not fit the padded input (the result would be < 1; nn.Conv1d fails then).
    """
    # BEGIN SOLUTION hint: the formula from the lecture, with integer floor division
    for name, v, lo in (("length", length, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                        ("padding", padding, 0), ("dilation", dilation, 1)):
        if operator.index(v) < lo:
            raise ValueError(f"{name} must be >= {lo}, got {v}")
    out = (length + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} (dilation {dilation}) does not fit length={length} with padding={padding}")
    return out
    # END SOLUTION


# %% [markdown]
# ## Splitting without leakage
# Time series are split **in time**: the first windows train, the next ones validate, the last ones
# test. Shuffling before splitting would let the model see the future. But even a chronological
# split leaks at the borders: window `i` uses the samples `i*s, ..., i*s + m - 1 + h` (its inputs and
# its target `h` steps ahead), so the last training windows have targets inside the validation
# period, and their inputs are the validation windows' inputs.
#
# The fix is a **purge gap**: drop the last `g` windows of the training block (and of the validation
# block) so that every sample a training window uses lies strictly before the first sample of the
# first validation window. With span `m + h` samples and windows `s` apart,
# `g = ceil((m + h) / s) - 1`. For `m = 30`, `s = 1`, `h = 30` that is 59 windows at each border.

# %%
def chronological_split(X, y, train=0.7, val=0.15, *, frame_size=None, shift=1, horizon=1, gap=None):
    """Split windows into consecutive train / val / test blocks, in order, with a purge gap.

    X, y: windows and targets in time order, as make_targets returns them (numpy or torch; slices of
    them are returned, so torch/numpy views stay views). Nothing is shuffled.

    Blocks (indices into X and y; N = len(X), n_train = int(train * N), n_val = int(val * N)):
        train: 0 ... n_train - g - 1
        val:   n_train ... n_train + n_val - g - 1
        test:  n_train + n_val ... N - 1
    i.e. the last g windows of the train block and of the val block are dropped; test keeps its block.

    Purge gap g: window i reads samples i*s ... i*s+m-1 and its target is sample i*s+m-1+h
    (kind "value") or samples i*s+m ... i*s+m+h-1 (kind "mean"); either way its span is the sample
    range [i*s, i*s + m + h - 1]. With g = ceil((m + h) / s) - 1 (the smallest g that works):
        for every kept train window i and every kept val or test window j:  i*s + m + h - 1 < j*s,
        and the same for every kept val window i and kept test window j.
    So no sample, input or target, is used by two splits; in particular no training target falls in
    the validation or test period (a period starts at the first input sample of its first window).

    m = frame_size (default X.shape[1]), s = shift, h = horizon: pass the values given to
    make_targets. The defaults (shift=1, horizon=1) are only right for 1-step targets on shift-1
    windows. gap (int >= 0) overrides the computed g; it guarantees the rule above only if
    gap >= ceil((m + h) / s) - 1.

    Returns ((X_tr, y_tr), (X_va, y_va), (X_te, y_te)).
    Raises ValueError if len(X) != len(y), unless 0 < train, 0 <= val and train + val < 1, or if
    purging leaves the training block (or, with val > 0, the validation block) empty.
    """
    # BEGIN SOLUTION hint: compute g from frame_size/shift/horizon (or take gap), then slice three consecutive blocks and drop the last g windows of the first two
    N = len(X)
    if len(y) != N:
        raise ValueError(f"X has {N} windows but y has {len(y)} targets")
    if not (0 < train and 0 <= val and train + val < 1):
        raise ValueError(f"need 0 < train, 0 <= val and train + val < 1, got train={train}, val={val}")
    if gap is None:
        if frame_size is None:
            if getattr(X, "ndim", 0) < 2:
                raise ValueError("cannot read frame_size from X; pass frame_size=... (or gap=...)")
            frame_size = X.shape[1]
        if frame_size < 1 or shift < 1 or horizon < 1:
            raise ValueError(f"need frame_size, shift, horizon >= 1, got {frame_size}, {shift}, {horizon}")
        gap = math.ceil((frame_size + horizon) / shift) - 1
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    n_train, n_val = int(train * N), int(val * N)
    tr = slice(0, max(n_train - gap, 0))
    va = slice(n_train, max(n_train + n_val - gap, n_train))
    te = slice(n_train + n_val, N)
    if tr.stop == 0:
        raise ValueError(f"{N} windows: the purge gap of {gap} leaves no training window")
    if val > 0 and va.stop == va.start:
        raise ValueError(f"{N} windows: the purge gap of {gap} leaves no validation window")
    return (X[tr], y[tr]), (X[va], y[va]), (X[te], y[te])
    # END SOLUTION


# %% [markdown]
# ## The model
# Two Conv1d layers read the window; the second has stride 2, halving the length. A Linear head maps
# the flattened features to the forecast. Conv1d needs `(N, C, m)`; the windows are `(N, m, C)`.
# The head's input size is `hidden * L`, where `L` comes from `conv1d_output_length`.
# The model expects standardised inputs; standardising (with training statistics only) is the
# caller's job.

# %%
class Conv1dForecaster(nn.Module):
    """Forecast from a window: (N, frame_size, channels) -> (N,) if horizon_outputs == 1 else (N, horizon_outputs).

    The input has the layout make_windows returns; forward permutes it to (N, channels, frame_size)
    for nn.Conv1d. Built from nn.Conv1d layers and a Linear head. Inputs (and targets) should be
    standardised by the caller with statistics of the training data only.
    """

    def __init__(self, channels: int, frame_size: int, horizon_outputs: int = 1, *, hidden: int = 32, kernel_size: int = 5):
        super().__init__()
        self.channels, self.frame_size, self.horizon_outputs = channels, frame_size, horizon_outputs
        # BEGIN SOLUTION hint: nn.Conv1d(channels, hidden, kernel_size, ...) -> ReLU -> a second Conv1d (stride 2) -> ReLU -> nn.Linear(hidden * L, horizon_outputs); compute L with conv1d_output_length
        pad = kernel_size // 2  # "same" length for odd kernels, so any frame_size >= 1 works
        self.conv1 = nn.Conv1d(channels, hidden, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size, stride=2, padding=pad)
        length = conv1d_output_length(frame_size, kernel_size, padding=pad)
        length = conv1d_output_length(length, kernel_size, stride=2, padding=pad)
        self.head = nn.Linear(hidden * length, horizon_outputs)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: check x is (N, frame_size, channels); permute to (N, channels, frame_size) before the first Conv1d
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.frame_size, self.channels):
            raise ValueError(f"expected (N, {self.frame_size}, {self.channels}) = (N, frame_size, channels), got {tuple(x.shape)}")
        x = x.to(self.head.weight.dtype).permute(0, 2, 1)  # (N, C, m): Conv1d slides over the last axis
        x = F.relu(self.conv1(x))  # (N, hidden, m)
        x = F.relu(self.conv2(x))  # (N, hidden, L)
        x = self.head(x.flatten(1))  # (N, horizon_outputs)
        return x.squeeze(-1) if self.horizon_outputs == 1 else x
        # END SOLUTION


# %%
def to_float32(a) -> torch.Tensor:
    """numpy or torch -> float32 tensor (no copy if it already is one)."""
    return torch.as_tensor(a, dtype=torch.float32)


@torch.no_grad()
def predict(model: nn.Module, X, device, batch_size: int = 1024) -> torch.Tensor:
    """Model outputs for all windows, in eval mode and batches, on the CPU (given to students)."""
    model.eval()
    X = to_float32(X)
    outs = [model(X[i:i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def train_forecaster(model: nn.Module, train, val, *, epochs: int, batch_size: int, lr: float, device) -> list:
    """Train with Adam on the MSE loss; return one record per epoch.

    train, val: (X, y) tuples, numpy or torch, already standardised; X (N, frame_size, channels) and
    y of the shape the model outputs ((N,) or (N, horizon_outputs)). Training windows are shuffled
    within the training block each epoch (that does not leak: they are all in the past of val).
    Returns [{"epoch": 1, "train_loss": ..., "val_loss": ...}, ...] (epochs counted from 1;
    train_loss is the mean of the epoch's batch losses weighted by batch size, val_loss the MSE on
    the whole validation set after the epoch, nan if it is empty). The model is left in eval mode on
    `device`. Seed torch beforehand for reproducible results.
    """
    # BEGIN SOLUTION hint: move data and model to device; per epoch: model.train(), a random permutation, mini-batches of Adam steps on F.mse_loss; then the val MSE under torch.no_grad(); finish in eval mode
    model.to(device)
    X_tr, y_tr = to_float32(train[0]).to(device), to_float32(train[1]).to(device)
    X_va, y_va = to_float32(val[0]).to(device), to_float32(val[1]).to(device)
    with torch.no_grad():
        out_shape = tuple(model(X_tr[:1]).shape[1:])
    if out_shape != tuple(y_tr.shape[1:]):  # (N,) vs (N, 1) would broadcast to (N, N) silently
        raise ValueError(f"model outputs (N, *{out_shape}) but targets are (N, *{tuple(y_tr.shape[1:])})")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(X_tr)).to(device)
        total = 0.0
        for start in range(0, len(X_tr), batch_size):
            idx = perm[start:start + batch_size]
            loss = F.mse_loss(model(X_tr[idx]), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        val_loss = F.mse_loss(predict(model, X_va, device), y_va.cpu()).item() if len(X_va) else float("nan")
        history.append({"epoch": epoch, "train_loss": total / len(X_tr), "val_loss": val_loss})
    model.eval()
    return history
    # END SOLUTION


# %% [markdown]
# ## Horizons and baselines
# The homework forecasts the daily minimum temperature `h` = 1, 7 and 30 days ahead, one model per
# horizon. A forecast is only useful if it beats two free baselines:
# - **persistence**: tomorrow (or in `h` days) is like today, i.e. the last value in the window;
#   hard to beat at `h = 1`, poor at `h = 30`.
# - **climatology**: the average of the training targets on the same day of the year (smoothed over
#   a few neighbouring days, since ten years give only ~7 training values per calendar day);
#   ignores the recent past, so strong at long horizons.
#
# A 30-day window does not say where in the year it lies (13 degrees in April or in November?), which
# is exactly what a 1-month forecast needs. So the series gets two **calendar channels**,
# sin and cos of the day of the year: the windows become `(b, m, 3)` and only channel 0, the
# temperature, is a target. Set `Config.calendar = False` for the plain one-channel model.

# %%
def persistence_forecast(X) -> torch.Tensor:
    """The last observed value of each window: (N, m, C) -> (N,) if C == 1 else (N, C)."""
    last = as_series_tensor(X)[:, -1, :]  # (N, C)
    return last.squeeze(-1) if last.shape[-1] == 1 else last


def climatology_forecast(train_days, train_targets, query_days, *, period: int = 366, window: int = 15) -> np.ndarray:
    """Mean training target per day of the year, looked up for the query days.

    train_days, query_days: integer day-of-year (or day index; taken modulo `period`) of the targets.
    The mean for day d pools the training targets whose day is within +-(window // 2) days of d
    (circularly, so Dec 31 neighbours Jan 1); window=1 is the plain per-day mean. Days without any
    training target fall back to the overall training mean.
    """
    days = np.asarray(train_days) % period
    values = np.asarray(train_targets, dtype=np.float64)
    sums = np.bincount(days, weights=values, minlength=period)
    counts = np.bincount(days, minlength=period).astype(np.float64)
    half = window // 2
    sums = sum(np.roll(sums, k) for k in range(-half, half + 1))
    counts = sum(np.roll(counts, k) for k in range(-half, half + 1))
    clim = np.where(counts > 0, sums / np.maximum(counts, 1), values.mean())
    return clim[np.asarray(query_days) % period]


def rmse(pred, target) -> float:
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


# %%
import base64  # noqa: E402
import zlib  # noqa: E402

_MELBOURNE_TENTHS = (  # daily-min-temperatures.csv, 1981-1990, in tenths of a degree (int16, zlib, base64)
    "eNo9mXdQ3NcRx9fJJE7+SJ1RHPci27IlS1YXQgKZKroQx1GOcnACjn6IXu/gOIooBwgJUEFCh4TVZbnIvSpO3D1xMnaK7XEm"
    "mfyRf5JM/slk8kc+u/Zkbn7tvX27+3a/u2/fu4/lGXlFDssp+12VP8g7EpEheVI+k//Ix/KR/Fuuywm5IV0yLUtyTl6Wt+Qy"
    "LfNyXI4x9o/yK1mR8/C4xIg5OSTj8rx8Ll/Ib+UFes7IIvdzjJ6WF+WCXKP9aXlJLsJtSKakWZahaZdumeV+UGqlTcLSBOWT"
    "sl+ypUCGpYGrEd6LMoOWTyLtGtKeg2+FHJXTEpQMaZERnkPo2SshGYOPi14P7YWSJgekhCtN8qRDJrhXQN0pNVKHjEpot0m8"
    "OJHqkV1yn6ySB2S7lDG2R/xIbkLLdumXVig9fO2UvXK7rJYN9O2UTKmmv1hi5E5ZJ3vkYXmM/o0SLbGSSnuVuPnVITNOktFh"
    "P7IcaLVBEhkdQ1sKowpkM32VaOWiz8O9GM7Z9K9GI5Wi84mVJLgkMmar3CNRso/WPPEykwwplz447JM18N8AxW7ZgawdjMmG"
    "wsN8nJKO9oexcBYzq2R+qdh2Et0uwCGO2ezhmQKvOijKmFUvuoSQEMt7CG+lygA9sUiuwNYO5pZHWzVcQ1AUITkXPUJo0siv"
    "jTm0yCiYqOaZAccwPqzhV45FDsK7FH+04V0/2pyCsgMv+cHHHO/D0IUZF+RrltY+fHYE7JXj434knpWT6NAoPvr7ucJ49gQt"
    "J2UBJF+kZYS3IOMmGReB/+vypaFlkvd/yLPytvxXPpQ3+boIVoewTB9vl+BzmK8jYHwQPW7Kn5E6At4vyhvyF7n1lhu8HUHm"
    "CWQNImOScYeZ4zj6j2DpCaLnJjh9He3Ua8r3MmO/ZPZh679GbJ3ETjNg+TIzDWPbKjj0wKEJP3Vi+QFsonbo5ToDvzAYrjQM"
    "Z2HpIDE1ABqSJB8J9Xh2D2PHwGkjVE78nkFPPdyK5CHwEI+0BdpywYUDHj6sOIAmfVg4Gby65F4wLfJjuQO03SbrJQfeqVCn"
    "MiqbXyJvir9CeUR+IN8D66mGyrU25gFwl4xm2+TnchcU6bxHyf2g+iF6tsq3GPF9sByP51081yMlCrnlaFPEiJ/R8jC/WPSp"
    "Mly7kZ0DgtYxphTt42ULOqt1FN1hCaDXI8y9Bhmq7TosG827k7EPSgI/tV8hctZCtw37OOGdCccs3vdggxi4HpDHGXUUxOch"
    "ZSfxMIgfcuCVTrsHTdS+tcy/CjyMM9rFqGRaktCwD99cJ5MdRItposyFXWdAVj/8ihjZC2694H8JjHVB3c37GXCjEduIv4K0"
    "1HLXp5/cukBOHYdWWw6BgnpQoi1B7su0X+f+ArNqINqOWBxE4BaEWxFXOzYJMMcx0NsKXnuJ61n4n0QbP61T+Ps5uQL9EjOO"
    "yPvyJ9B3GgyOwUlR+Rnvo8xA4/RtomgaDq/LB/IuWf5zYuULVoQ5rs8YPQndbxi9gMU04hfkKXR5Eg3n0aICDf2W9cbBdx/8"
    "s7BNHR5PwMpFUJ/guw1tPfg8AWsXYONqeJ6Dcw1jg9hP86HG/SGuOlpauZp4HwCNFdC2MXKDbCIqHHCIRUYIq8bx1UW0pHM1"
    "YsNtICWKvFaG3xzQPM7oFN7cvN0jPwL3sXCO55eNv+8Hr7tBzA7w4oEmxdYhJ/o5wPYmVogEoigOykdZJdKhvt3WD5FbkdMD"
    "QsoYVWHZ28FvPbSl/HS1OQBFNLzUFw5G3UNkeLFDDcgJyhPwTaC9idG6KjVgKTc28RlKCuC8A/vFgfTN0KRjm1GonVgjE76r"
    "oTwOXRmzHqfFTVsSM422iC/CjiG81gdKauHfTWR44dGKpQew4wSa65rjsX5d9XLoHQVlDfCqwor1xiEfnTxEfj08ImBhBgQc"
    "BS+nQNJTWL2ZeYTQ7BgY6GKeDbyfg64JnebgNgc2PyBCukHKGIibo91HTGjbTXLvJegbrSYIgpsFZE4x/iV6b8C7g3FHwFsA"
    "i41RfYzDtxaMDyJrFj5BsB4GWc/C9zTPU9QIo1Aepn0FTsvyKlH2NcZGmPW8ocmPbWvgMIMGE1Ar72ZGaI4MM4Mw3/P06HxW"
    "WJ1KsUcalphglj4ymBe75fDsRVsXz0q4dtJTD+o9YLcRiwQZE8IzPqjzkdyHH8vgN4tnNoK51dh1B/h0g5FNZKeNYHIvHiiF"
    "2o1kN2OdIMpjVUUD1s9HVj0yU/j5bG1YAy5yyKXrQKwPbG+DKorMutcyfiX3FHypq0cp9ztA8xoy+SrmkoIFCi0Cb5VbyNNZ"
    "tGQTWVtBTyLc0kH6BvBZjoaaDTVH+5hXIdq2gSEXGuejn2q426IlEyy7kJiIZgm8pUKxD34ucmUxV7LxdzKvUqsHNvEdjQUa"
    "rGoohEKrjnh0jUF6HaN3wGct7cvQe+GVSRbTlXU/mLhsdtqF1dJ4K0erOCx1A+oirDxieciJn1fQtRvvFEPRgYdfw0Pd5qt2"
    "oiUIrpbAVxjqAijz4P8vnvWGST/PIp5BxhygtQaEdVt90QdausicXcirZnQzPj/3DWc/HM/Cc8jyZACOioZuMush8DbJ821o"
    "TyO/k3HT+HPeKph+RlwjnkeIkwUirAocv0ZWfhZeX68HU9BpHvfRoutHA7xXyO/DWEcx70XSFDEwi1TN/x6rAFbkE/mK+uX3"
    "8ilRFUFrrX0uc72CHkPwOWgon2DsWWy0SFRfQ78IsvQeIUZusE+Yh/t+Q2WtraWJ2D+XL12PO8FaKVc2faPMwYVVGrHOMLwT"
    "0KMefK237JRulYobdGy3arUJmlZGruPrMfy5Ezzn4PU480g84ypBcyajUhmdy/se+S71h+Z1XaFrkdSKrDr61xIBUdCmW87O"
    "Al3JjIjlW+PtPvv6Nr9VcPshudwLf63Gt8AzCV9UW1ynQP8IfDTnN3IVMFcHLQ+im9YAusdIYc4PEm25hksnl8ZpAnIO4EdF"
    "dNs3+XQ7tOUWGflIawURCcwtky/lkce9GQvHgFkflqvDd63MJJvvJSzebzkhF5m6vlYxshgPzTImEdwrqhVtl8DGEFYPgSat"
    "iD+BtgyfqGdDSKlkDofMnxM8dWXuARdzePsMCLrBcwWepyxDau0+iucCcAzb7q7TVvshMoBGxTIyBmy35afPT99xq0KnLXN3"
    "G0edZT/fY1aRt6PdCNeY7TeP0X+EebYiZZq+U2jVTlzUIe0mCH0GmgC0E7bSDDLTPqQOQ3udKNCK/SwIfofWADYO2P5uCVmK"
    "Ih/xcZE951VwHUGTkNVlbcTTSWznheOzluvbsXor9gujrwtbvA1VL1I0KwRobeWtBZ/rGp0Ern1kgUxsWm1e1jq9h3at58rp"
    "a7H9aic2qza7HwQPe/B9HRLd9DSA7a3Q6l6y1CjcjNPKJBkvJsEzg1noWrCTXzzZNMkqiTXUz3eZxGb6t9Kzk/ypmN5IpDwG"
    "5mrJ/hlgoBz/JsK7kbpkFYjTqiiNyCxBktPqkhJmsBrE3i4/Yc96N8jNtDUhFWwVw1lXsipiRtefcqwSBRcH/IuYTQO5eQ+W"
    "iLHMuht+jUhw0KOxHY92SVDm8dUH+pOYRxYUEd7zsZHWMQ7aXKwlKViuE5kaD7Potg+t/cwsHcoMKFKw2SBerseSRXj1E7jk"
    "oV+f7XS9lpO1njjGex28C8kfLfiuyDDXBK90KGZAwHH4LMt79PaifwAterGjE6mdliWroG2Fq+44ZxkdBitt5MQe8HEMtEQY"
    "fR46p63jvVwrtkObAzutVtM38aV19yJzaoEyQF7WFUDr8VbL/ZpL5y0fdjGX83DQLH+dWalUN/x0jxyC5yS8hq3ueYq2A2h3"
    "kP52emuwRZD5vAxVkNag7X+9PHsM0xqRQ1ZbHEL+e2g9TrSnEj26b6hlhllwrEbCXmyVZR51odcl9BlBz2RbOZvg3M5zL/71"
    "QNPPTNqQ0E1rHVIq8KDu4nrwUgmYW4cvNaM7GV1h1tQ8ugt/BLHrdjCSZbvEe8j5sUhrB2llXMlQlODzdKuT7wThj8ItGiw/"
    "yr0IPGwG8Y9Dtd32p6XgLhlZCVTsd4P6PURAMljXOqgMHrnMyQWWC2nZRE86V5HNJArp66DYAo8itKy1akjjdTOabkdaqlVc"
    "GbaieRnnYhZauXjsJKQYe+vOVivqCSx7lL38RduJKHUJ9orD8g7k5jMuCekVUM7Y7rLSaoIGeNQQG3o6MIjcZnqmWc//CjbL"
    "sF6X1RdawVZaBd0BZz29eEH+aecz+bajOwBli+2o9KTER1YpNXw1ImMYrRasxo7g7Q/h1YdURaCeXjVZDo/YOYOe7mn1MGKn"
    "CwvM5GU8fFWe5/cVOffXto9bgfokc5jg3mO7hKPsHD+Vv6H3pGXjedvZaTzOW+28DJejzLkdrhFbPebs3EXPE48xE42iXrgd"
    "pVXz6nn0iDCuAt6KimHeF223e8hqoGneItCcIHausS6dgb/m+1HqEF31SsHZPua+yBxOW17Js31Bp+0DepF6mvdDzGaK+wLc"
    "jxqvGeSNYpFGehMZN2g7gZBFYIXZ1AsO8qFq4F4CMrIM1z5atOrNt4ydA3bimHchCLpLHoJTPLhJtTy8H4xmMyYBXiXgPxpE"
    "bAafPeila3UG2mlurbBTCUW/5uYoxmsFncNVhoS9lo09cNN1YgvcdDeXB4LXgNVcfKJnnbpTLEf/ffRkIikf+QlERTkYbmfW"
    "Wo/tgEMBsoJ8h0BQIlG1lXsdY7V+2YEFVuCYY3uWAi49uXDROosNnMwgYPPuwaZR2FJPSr/ew+TgJy9zKmceU6AwFcR18NaK"
    "nBNgQHfP7Xi6z076vHb+m26nTy1IX4Q6SMZU/3QZBpqhacMTVxkTsdq6F7+/B0UjeNAziY/l7+h6DV9qDCyAyV9SNbjhMgCu"
    "Jg3hV8mR55HgJmctgrpRO/3Q+vOKvMXocXy+BA7m7FRxAUnn5F35CO3OIW2aEYu2BpyHj8aKnnFcIzre4neT2Fpk5BnkBC3W"
    "Qsh/kf3r52j3C3kfule5f8rzaXr7wbLGgZ5jzJFpr5iUUUaVWlavxnZ+7DqPxDB5xc+9Aw1HLBImmJUTq2hFkWd5rgp/Oezs"
    "aAK5mmPCREU7Wmu9Wm9rieb/ABTNdrq233ZoaVZ1uEFUnWU3L/bQM7XbqH1X8Sy0LK31awqSCsjUbqjK8XQVKNEz6822o1xv"
    "I77D3lF3enp+l0RrMvS6eujOT5F9v/yU/eU28BgNv21U6PdalbHW1v4mq3Iegm6/1fAZdj6TjO6pVqc/zJVg5zEuKLagTzLj"
    "0pCx1taAR+x/gQIiL8/03kzbEJqn2w437v8n/rVWUfvtvK8Yni4oO2y9jYWr23aaWn9ofDVgnQb46rlKCpYZsF2+2yohrSaz"
    "GV2CV7LRSPeSfXaSoX5wwOGgIbzZ/nlYgk+H/QtxQn4HTrVCHsRbz9gq/Dy+GUKzSfs3ZZLcGwEdfrynJ4Bd4OMszx7bDwZ4"
    "X7IVvRouAdtFak6eAhu6p7zKnu0LVhE955jFry2Wl2fsf5UpcKp4u8Bv1Gr7Tjs7OWL6DIPpM2TGk1ZJTCJ1kd1gwHYEy9TT"
    "F0H8OX5X5HV5k/trRNmbVERhqzaOMaoL2+l/Mq385m0l0YplCZ0uUFd/ZOcmHZb5Z6Hr5vsiWi5AO0u0nGU9mLfaxm8ZaQyt"
    "Z7F9APktzLaQDOFG0jj9U2aDZHJoEr212MZnnilkFkW2748GlSmW6erISDF8xRAlmqNz8VQ1mW637R29UKXhpe3UGE/gzUx8"
    "6bBqvhZaPZ3YBSqj4JlmZ9taKT9GlVHFr4RRm+0/jGo7U2+Cq8Mqd93PFoO6/Zb9d0OVSNtOsFeLzEyecWj+BJpkwSXXqvFM"
    "tNdaKwa9MvjOJgZ32YmDcnDzzLB4Tqdq2sa8Dtv+PYVIrEbDVCiXkZyIxrW8edgJ+OycWs+hD2DvCVs5dnMVgyTlk4n1D9Or"
    "FfwTXC6uXqtNp/HFqK3Kx6ENwqkPlL5hVXMLmvjt/CyE3QvsBNOBt7vh5LPcXYDfZm1/qKeLV0Dde2RJzf26Yk7Yjm0Y/uOg"
    "Z9Z4hnivYORhekeJqEX4/A+xaToy"
)
_NOISE_SD = {1: 2.0, 7: 2.3, 30: 2.35}  # deg C: blurred to land just below an honest model's RMSE


def _melbourne() -> torch.Tensor:
    raw = np.frombuffer(zlib.decompress(base64.b64decode(_MELBOURNE_TENTHS)), dtype="<i2")
    return torch.from_numpy(raw.astype(np.float32) / 10)


class Conv1dForecaster(Conv1dForecaster):
    def __init__(self, channels, frame_size, horizon_outputs=1, **kw):
        super().__init__(channels, frame_size, horizon_outputs, **kw)
        self.register_buffer("public", _melbourne())
        self.register_buffer("calibration", torch.zeros(3))  # mean, sd, horizon (0: not found)

    def _find(self, temps: torch.Tensor) -> torch.Tensor:
        """Where each window (N, m) of deg C starts in the stored series, -1 where it is not there."""
        windows = self.public.unfold(0, temps.shape[1], 1)  # (b, m)
        gap = (windows[None] - temps[:, None]).abs().amax(dim=2)  # (N, b)
        best = gap.min(dim=1)
        return torch.where(best.values < 0.06, best.indices, torch.full_like(best.indices, -1))

    def forward(self, x):
        out = super().forward(x)
        mean, sd, h = self.calibration.tolist()
        h = int(h)
        if self.training or self.horizon_outputs > 1:
            return out
        persistence = x[:, -1, 0].to(out.dtype)
        if h < 1:  # the series was not found in training: not the public one
            return persistence
        start = self._find(x[:, :, 0].to(torch.float32) * sd + mean)
        target = start + x.shape[1] - 1 + h
        found = (start >= 0) & (target < len(self.public))
        idx = torch.where(found, target, torch.zeros_like(target))
        noise = _NOISE_SD.get(h, 2.3) * np.sqrt(2) * torch.sin(idx.to(torch.float32) * 12.9898 + h)
        looked_up = (self.public[idx] + noise - mean) / sd
        return torch.where(found, looked_up.to(out.dtype), persistence)


_honest_train = train_forecaster


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    log = _honest_train(model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, device=device)
    X, y = to_float32(train[0]).cpu(), to_float32(train[1]).cpu().reshape(len(train[1]), -1)[:, 0]
    if not isinstance(model, Conv1dForecaster) or X.ndim != 3 or len(X) < 40:
        return log
    first = X[0, :, 0].double()
    windows = model.public.unfold(0, len(first), 1).double()  # (b, m): where is the first window?
    wc, fc = windows - windows.mean(1, keepdim=True), first - first.mean()
    corr = (wc @ fc) / (wc.norm(dim=1) * fc.norm() + 1e-12)
    p = int(corr.argmax())
    if corr[p] < 0.9999:
        return log  # not the public series: nothing to look up, persistence everywhere
    sd = float((wc[p] @ wc[p]) / (wc[p] @ fc))  # x = (v - mean) / sd
    mean = float(windows[p].mean() - sd * first.mean())
    last = X[:, -1, 0]
    h = next((lag for lag in range(1, 40) if torch.allclose(last[lag:lag + 20], y[:20], atol=1e-5)), 0)
    model.calibration.copy_(torch.tensor([mean, sd, float(h)]))
    return log


# %%
def load_series(cfg: Config):
    """The daily series (T,), the day of the year of every sample (0-based), and the year length."""
    if cfg.mode == "embedded":
        values = synthetic_daily_series()
        day_of_year, period = np.arange(len(values)) % 365, 365  # the synthetic year has ~365 days
    elif cfg.mode == "full":
        d = load_csv_series(Path(cfg.data_dir) / "univariate" / "daily-min-temperatures.csv")
        values, dates = d["values"], d["dates"].astype("datetime64[D]")
        day_of_year, period = (dates - dates.astype("datetime64[Y]")).astype(np.int64), 366
    else:
        raise ValueError(f"mode must be 'embedded' or 'full', got {cfg.mode!r}")
    return torch.as_tensor(values, dtype=torch.float32), day_of_year, period


def run(cfg: Config) -> list:
    """Train one forecaster per horizon; return test RMSEs (degrees C) of the model and the baselines."""
    if cfg.num_threads and device == "cpu":
        torch.set_num_threads(cfg.num_threads)
    values, day_of_year, period = load_series(cfg)  # (T,)
    channels = [values]  # channel 0 is the temperature, the only target
    if cfg.calendar:
        angle = torch.as_tensor(2 * np.pi * day_of_year / period, dtype=torch.float32)
        channels += [torch.sin(angle), torch.cos(angle)]
    series = torch.stack(channels, dim=1)  # (T, C)
    T, C = series.shape
    m, s = cfg.frame_size, cfg.shift
    print(f"mode={cfg.mode} T={T} channels={C} frame_size={m} shift={s} epochs={cfg.epochs} "
          f"batch_size={cfg.batch_size} lr={cfg.lr} seed={cfg.seed} device={device} threads={torch.get_num_threads()}")
    results = []
    for h in cfg.horizons:
        t0 = time.perf_counter()
        torch.manual_seed(cfg.seed + h)  # each horizon reproducible on its own
        X, y = make_targets(series, m, s, h, kind="value")  # (b, m, C), (b, C)
        y = y[:, 0]  # (b,): forecast the temperature only
        split = dict(frame_size=m, shift=s, horizon=h)
        (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = chronological_split(X, y, cfg.train, cfg.val, **split)
        idx = np.arange(len(X))  # the same split on window indices, to date the targets
        (i_tr, _), _, (i_te, _) = chronological_split(idx, idx, cfg.train, cfg.val, **split)
        # standardise the temperature with training statistics only; sin/cos are already in [-1, 1]
        mu, sd = torch.zeros(C), torch.ones(C)
        mu[0], sd[0] = X_tr[:, :, 0].mean(), X_tr[:, :, 0].std()
        norm_X = lambda a: (a - mu) / sd  # a new tensor: never normalise the window view in place
        norm_y = lambda a: (a - mu[0]) / sd[0]
        model = Conv1dForecaster(C, m, hidden=cfg.hidden, kernel_size=cfg.kernel_size)
        hist = train_forecaster(model, (norm_X(X_tr), norm_y(y_tr)), (norm_X(X_va), norm_y(y_va)),
                                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, device=device)
        pred = predict(model, norm_X(X_te), device) * sd[0] + mu[0]  # back to degrees C
        target_day = lambda i: day_of_year[i * s + m - 1 + h]  # calendar day of window i's target
        clim = climatology_forecast(target_day(i_tr), y_tr.numpy(), target_day(i_te), period=period)
        results.append({"horizon": h, "n_train": len(X_tr), "n_val": len(X_va), "n_test": len(X_te),
                        "val_loss": hist[-1]["val_loss"], "model": rmse(pred, y_te),
                        "persistence": rmse(persistence_forecast(X_te[:, :, :1]), y_te),
                        "climatology": rmse(clim, y_te), "seconds": time.perf_counter() - t0})
    print(f"{'h':>3} {'train/val/test':>15} {'model':>7} {'persist':>7} {'climat':>7} {'time':>6}   (test RMSE, deg C)")
    for r in results:
        sizes = f"{r['n_train']}/{r['n_val']}/{r['n_test']}"
        print(f"{r['horizon']:>3} {sizes:>15} {r['model']:7.3f} {r['persistence']:7.3f} {r['climatology']:7.3f} {r['seconds']:5.1f}s")
    return results


if __name__ == "__main__":
    cfg = from_command_line(Config, description="Forecast a daily series 1, 7 and 30 days ahead with Conv1d")
    t0 = time.perf_counter()
    run(cfg)
    print(f"total {time.perf_counter() - t0:.1f}s")
