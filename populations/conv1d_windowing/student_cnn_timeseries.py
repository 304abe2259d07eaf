"""A Conv1d + global-average-pooling forecaster from a student repository.

Adapted from public student code: sathirasithuruwan/Solar-power-Prediction-,
Solar-power-Prediction-main/src/models/cnn_timeseries.py (CNNTimeseries: two Conv1d layers of 64
filters, kernel 3, "same" padding, ReLU, global average pooling over the sequence, Dropout(0.1), a
Linear head; input transposed from [B, L, F] to [B, F, L]). Adapted to the assignment's constructor
(channels, frame_size, horizon_outputs) and a DataLoader training loop with Adam and MSELoss.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class WindowError(ValueError):
    pass


def _tensor(series) -> torch.Tensor:
    t = torch.as_tensor(np.array(series)) if not isinstance(series, torch.Tensor) else series
    return t.float() if not torch.is_floating_point(t) else t


def _window_index(n_samples: int, frame_size: int, shift: int) -> torch.Tensor:
    """[b, m] matrix of sample indices: row k is k*shift ... k*shift + m - 1."""
    n_windows = (n_samples - frame_size) // shift + 1
    starts = torch.arange(n_windows).unsqueeze(1) * shift
    return starts + torch.arange(frame_size).unsqueeze(0)


def make_windows(series, frame_size, shift):
    if not (isinstance(frame_size, int) and frame_size > 0 and shift > 0):
        raise WindowError("frame_size and shift have to be positive integers")
    t = _tensor(series)
    t = t[:, None] if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[0] < frame_size:
        raise WindowError(f"cannot cut windows of {frame_size} from a series of shape {tuple(t.shape)}")
    return t[_window_index(t.shape[0], frame_size, shift)]      # [b, m, C]


def make_targets(series, frame_size, shift, horizon, kind="value"):
    if kind not in {"value", "mean"} or horizon < 1:
        raise WindowError(f"bad target: kind={kind!r}, horizon={horizon}")
    t = _tensor(series)
    T = t.shape[0]
    if T < frame_size + horizon:
        raise WindowError("series too short")
    b = (T - frame_size - horizon) // shift + 1
    X = make_windows(t, frame_size, shift)[:b]
    future = _window_index(T - frame_size, horizon, shift)[:b] + frame_size   # [b, horizon] indices after each window
    y = t[future[:, -1]] if kind == "value" else t[future].mean(dim=1)
    return X, y


def conv1d_output_length(length, kernel_size, stride=1, padding=0, dilation=1):
    if min(length, kernel_size, stride, dilation) < 1 or padding < 0:
        raise WindowError("conv1d arguments out of range")
    numerator = length + 2 * padding - dilation * (kernel_size - 1) - 1
    if numerator < 0:
        raise WindowError("input too short for this kernel")
    return math.floor(numerator / stride) + 1


def chronological_split(X, y, train=0.7, val=0.15, *, frame_size=None, shift=1, horizon=1, gap=None):
    n = len(X)
    if n != len(y) or not 0 < train < 1 or not 0 <= val < 1 - train:
        raise WindowError("X/y lengths or split fractions are wrong")
    m = X.shape[1] if frame_size is None else frame_size
    purge = gap if gap is not None else math.ceil((m + horizon) / shift) - 1
    cut1, cut2 = int(n * train), int(n * train) + int(n * val)
    blocks = [(0, cut1 - purge), (cut1, cut2 - purge), (cut2, n)]
    blocks = [(lo, max(hi, lo)) for lo, hi in blocks]
    if blocks[0][1] <= 0 or (val > 0 and blocks[1][1] == blocks[1][0]):
        raise WindowError("purging left nothing in a block")
    return tuple((X[lo:hi], y[lo:hi]) for lo, hi in blocks)


class Conv1dForecaster(nn.Module):
    def __init__(self, channels, frame_size, horizon_outputs=1, num_filters=64, kernel_size=3, dropout=0.1):
        super().__init__()
        self.horizon_outputs = horizon_outputs
        self.conv1 = nn.Conv1d(channels, num_filters, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(num_filters, num_filters, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters, horizon_outputs)

    def forward(self, x):
        # x: [B, L, F] -> [B, F, L] for Conv1d
        x = x.float().transpose(1, 2)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = x.mean(dim=2)  # global average pooling over sequence
        x = self.fc(self.dropout(x))
        return x.squeeze(-1) if self.horizon_outputs == 1 else x


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    model.to(device)
    train_ds = TensorDataset(*(torch.as_tensor(a, dtype=torch.float32) for a in train))
    loader = DataLoader(train_ds, batch_size=batch_size, shuffle=True)
    X_va, y_va = (torch.as_tensor(a, dtype=torch.float32).to(device) for a in val)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        model.train()
        train_loss = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * xb.size(0)
        train_loss /= len(train_ds)
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(X_va), y_va).item() if len(X_va) else float("nan")
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
    return history
