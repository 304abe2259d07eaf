"""Windowing a time series and forecasting it with a 1-D convolutional network.

Exercise: cut a daily temperature series into overlapping windows (frame size m, shift s), build
targets 1 day, 1 week and 1 month ahead, split the windows chronologically without leakage, and
train a small nn.Conv1d forecaster that has to beat persistence and climatology.
Lecture: "Time series with CNNs": window k covers samples k*s ... k*s+m-1, a batch is b x m x channels,
and a Conv1d layer's output length is floor((L + 2p - d(k-1) - 1) / stride) + 1.

Train it:
    python reference_solutions/conv1d_windowing/conv1d_windowing.py                  # synthetic series, offline
    python reference_solutions/conv1d_windowing/conv1d_windowing.py --mode full --data-dir ../shared/data
"""
# EXAMPLE SUBMISSION (conv1d_windowing): chronological_split cuts the blocks without the purge gap
#   (unless a gap is given), so the last training windows' targets lie in the validation period;
#   expected to lose the public split example (1), the leakage test (4), the exact blocks (1) and
#   the 'nothing left to train on' error (1).

# %% [markdown]
# # 1-D convolutions on a time series
#
# We forecast the daily minimum temperature 1 day, 1 week and 1 month ahead with a small
# convolutional network. Most of the work is in the data: cutting the series into windows, pairing
# each window with its target, and splitting in time without leaking the future into training.
# The embedded mode uses a synthetic weather-like series (offline, seconds); the full mode uses ten
# years of Melbourne daily minimum temperatures (1981-1990).

# %%
import argparse
import math
import operator
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


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


def conv1d_output_length(length: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of nn.Conv1d: floor((length + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1.

    Raises ValueError for length < 1, kernel_size < 1, stride < 1, padding < 0, dilation < 1, or when
    the (dilated) kernel does not fit the padded input (the result would be < 1; nn.Conv1d fails then).
    """
    for name, v, lo in (("length", length, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                        ("padding", padding, 0), ("dilation", dilation, 1)):
        if operator.index(v) < lo:
            raise ValueError(f"{name} must be >= {lo}, got {v}")
    out = (length + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} (dilation {dilation}) does not fit length={length} with padding={padding}")
    return out


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
        gap = 0  # the blocks are already in time order
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
        pad = kernel_size // 2  # "same" length for odd kernels, so any frame_size >= 1 works
        self.conv1 = nn.Conv1d(channels, hidden, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size, stride=2, padding=pad)
        length = conv1d_output_length(frame_size, kernel_size, padding=pad)
        length = conv1d_output_length(length, kernel_size, stride=2, padding=pad)
        self.head = nn.Linear(hidden * length, horizon_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.frame_size, self.channels):
            raise ValueError(f"expected (N, {self.frame_size}, {self.channels}) = (N, frame_size, channels), got {tuple(x.shape)}")
        x = x.to(self.head.weight.dtype).permute(0, 2, 1)  # (N, C, m): Conv1d slides over the last axis
        x = F.relu(self.conv1(x))  # (N, hidden, m)
        x = F.relu(self.conv2(x))  # (N, hidden, L)
        x = self.head(x.flatten(1))  # (N, horizon_outputs)
        return x.squeeze(-1) if self.horizon_outputs == 1 else x


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
def load_series(cfg: Config):
    """The daily series (T,), the day of the year of every sample (0-based), and the year length."""
    from dlcourse.datasets import load_csv_series, synthetic_daily_series
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
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds grader/

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "full"], default=Config.mode)
    parser.add_argument("--data-dir", default=Config.data_dir)
    parser.add_argument("--epochs", type=int, default=Config.epochs)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--no-calendar", action="store_true", help="temperature channel only")
    parser.add_argument("--threads", type=int, default=Config.num_threads, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    cfg = Config(mode=args.mode, data_dir=args.data_dir, epochs=args.epochs, seed=args.seed,
                 calendar=not args.no_calendar, num_threads=args.threads)
    t0 = time.perf_counter()
    run(cfg)
    print(f"total {time.perf_counter() - t0:.1f}s")
