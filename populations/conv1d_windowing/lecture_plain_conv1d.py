"""The plain Conv1d forecaster as the lecture teaches it.

Design: the course's time-series-with-CNNs lecture (VITMAV45): windows (N, m, C) permuted to
(N, C, m), two valid (unpadded) Conv1d layers of 32 filters, kernel 3, ReLU, then Flatten and one
Linear output; the Linear's input size from the Conv1d output-length formula of the same lecture.
Adam on the MSE loss, mini-batches reshuffled every epoch.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def _as_tensor(series):
    if isinstance(series, np.ndarray):
        series = np.ascontiguousarray(series)
    t = torch.as_tensor(series)
    return t if t.is_floating_point() else t.float()


def make_windows(series, frame_size, shift):
    x = _as_tensor(series)
    if x.dim() == 1:
        x = x.unsqueeze(-1)
    if x.dim() != 2:
        raise ValueError("series must be 1-D or 2-D")
    if frame_size < 1 or shift < 1:
        raise ValueError("frame_size and shift must be >= 1")
    if x.shape[0] < frame_size:
        raise ValueError("series is shorter than frame_size")
    return x.unfold(0, frame_size, shift).transpose(1, 2)  # (b, m, C)


def make_targets(series, frame_size, shift, horizon, kind="value"):
    if kind not in ("value", "mean"):
        raise ValueError("kind must be 'value' or 'mean'")
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    x = _as_tensor(series)
    X = make_windows(x, frame_size, shift)
    if x.shape[0] < frame_size + horizon:
        raise ValueError("series too short for this horizon")
    b = (x.shape[0] - frame_size - horizon) // shift + 1
    if kind == "value":
        y = x[frame_size - 1 + horizon::shift][:b]
    else:
        y = x[frame_size:].unfold(0, horizon, shift)[:b].mean(-1)
    return X[:b], y


def conv1d_output_length(length, kernel_size, stride=1, padding=0, dilation=1):
    if length < 1 or kernel_size < 1 or stride < 1 or padding < 0 or dilation < 1:
        raise ValueError("invalid Conv1d arguments")
    out = (length + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("the kernel does not fit the input")
    return int(out)


def chronological_split(X, y, train=0.7, val=0.15, *, frame_size=None, shift=1, horizon=1, gap=None):
    n = len(X)
    if len(y) != n:
        raise ValueError("X and y differ in length")
    if not (0 < train and 0 <= val and train + val < 1):
        raise ValueError("bad split fractions")
    if gap is None:
        m = X.shape[1] if frame_size is None else frame_size
        gap = math.ceil((m + horizon) / shift) - 1
    n_train, n_val = int(train * n), int(val * n)
    tr_end, va_end = max(n_train - gap, 0), max(n_train + n_val - gap, n_train)
    if tr_end == 0 or (val > 0 and va_end == n_train):
        raise ValueError("purging leaves an empty block")
    return ((X[:tr_end], y[:tr_end]), (X[n_train:va_end], y[n_train:va_end]),
            (X[n_train + n_val:], y[n_train + n_val:]))


class Conv1dForecaster(nn.Module):
    def __init__(self, channels, frame_size, horizon_outputs=1, filters=32, kernel_size=3):
        super().__init__()
        self.horizon_outputs = horizon_outputs
        self.conv1 = nn.Conv1d(channels, filters, kernel_size)
        self.conv2 = nn.Conv1d(filters, filters, kernel_size)
        length = conv1d_output_length(conv1d_output_length(frame_size, kernel_size), kernel_size)
        self.fc = nn.Linear(filters * length, horizon_outputs)

    def forward(self, x):
        x = x.float().permute(0, 2, 1)   # (N, m, C) -> (N, C, m)
        x = F.relu(self.conv1(x))        # (N, filters, m - 2)
        x = F.relu(self.conv2(x))        # (N, filters, m - 4)
        x = self.fc(torch.flatten(x, 1))
        return x.squeeze(-1) if self.horizon_outputs == 1 else x


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    model = model.to(device)
    X_tr, y_tr = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in train)
    X_va, y_va = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in val)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    log = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(X_tr), device=device)
        running = 0.0
        for start in range(0, len(X_tr), batch_size):
            batch = order[start:start + batch_size]
            loss = F.mse_loss(model(X_tr[batch]), y_tr[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            val_loss = F.mse_loss(model(X_va), y_va).item() if len(X_va) else float("nan")
        log.append({"epoch": epoch + 1, "train_loss": running / len(X_tr), "val_loss": val_loss})
    return log
