"""Brownlee's univariate CNN forecaster, ported from Keras to PyTorch.

Design: J. Brownlee, "How to Develop Convolutional Neural Network Models for Time Series
Forecasting" (machinelearningmastery.com, 2018), the univariate / multivariate CNN model:
Conv1D(filters=64, kernel_size=2, activation='relu') -> MaxPooling1D(pool_size=2) -> Flatten ->
Dense(50, activation='relu') -> Dense(1), optimizer 'adam', loss 'mse'. Keras' Conv1D takes
(batch, timesteps, features), so the port permutes to PyTorch's (batch, channels, time).
The windowing functions follow the tutorial's split_sequence: a loop over the window starts.
"""

import numpy as np
import torch
import torch.nn as nn


def to_2d_array(series):
    """numpy (T, C) float array from a list / numpy array / torch tensor (T,) or (T, C)."""
    if torch.is_tensor(series):
        series = series.detach().cpu().numpy()
    arr = np.asarray(series)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"expected a (T,) or (T, C) series, got shape {arr.shape}")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float32)


# split a univariate sequence into samples (Brownlee's split_sequence, with a shift)
def split_sequence(sequence, n_steps, shift=1):
    X = list()
    for i in range(0, len(sequence) - n_steps + 1, shift):
        X.append(sequence[i:i + n_steps])
    return np.array(X)


def make_windows(series, frame_size, shift):
    if frame_size <= 0 or shift <= 0:
        raise ValueError(f"frame_size ({frame_size}) and shift ({shift}) must be positive")
    data = to_2d_array(series)
    if len(data) < frame_size:
        raise ValueError(f"a series of {len(data)} samples holds no window of {frame_size}")
    return torch.from_numpy(split_sequence(data, frame_size, shift))   # (b, m, C)


def make_targets(series, frame_size, shift, horizon, kind="value"):
    if horizon <= 0:
        raise ValueError("horizon must be positive")
    if kind != "value" and kind != "mean":
        raise ValueError(f"unknown kind {kind!r}")
    data = to_2d_array(series)
    if len(data) < frame_size + horizon:
        raise ValueError("the series is too short for one window and its target")
    X, y = [], []
    for i in range(0, len(data) - frame_size - horizon + 1, shift):
        X.append(data[i:i + frame_size])
        future = data[i + frame_size:i + frame_size + horizon]
        y.append(future[-1] if kind == "value" else future.mean(axis=0))
    X, y = torch.from_numpy(np.array(X)), torch.from_numpy(np.array(y))
    univariate = (series.dim() if torch.is_tensor(series) else np.ndim(series)) == 1
    return X, (y[:, 0] if univariate else y)


def conv1d_output_length(length, kernel_size, stride=1, padding=0, dilation=1):
    # L_out = floor((L_in + 2p - d(k - 1) - 1) / s + 1), the formula of the PyTorch docs
    for name, value, low in (("length", length, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)):
        if value < low:
            raise ValueError(f"{name} = {value} is not allowed")
    span = dilation * (kernel_size - 1) + 1
    if length + 2 * padding < span:
        raise ValueError("kernel longer than the padded input")
    return (length + 2 * padding - span) // stride + 1


def chronological_split(X, y, train=0.7, val=0.15, *, frame_size=None, shift=1, horizon=1, gap=None):
    if len(X) != len(y):
        raise ValueError(f"{len(X)} windows but {len(y)} targets")
    if train <= 0 or val < 0 or train + val >= 1:
        raise ValueError("need train > 0, val >= 0 and train + val < 1")
    if gap is None:
        # windows whose m + horizon samples reach into the next block are dropped
        span = (frame_size if frame_size is not None else X.shape[1]) + horizon
        gap = -(-span // shift) - 1
    a = int(len(X) * train)
    b = a + int(len(X) * val)
    train_part = (X[:max(a - gap, 0)], y[:max(a - gap, 0)])
    val_part = (X[a:max(b - gap, a)], y[a:max(b - gap, a)])
    test_part = (X[b:], y[b:])
    if len(train_part[0]) == 0 or (val > 0 and len(val_part[0]) == 0):
        raise ValueError("after purging the borders a block is empty")
    return train_part, val_part, test_part


class Conv1dForecaster(nn.Module):
    def __init__(self, channels, frame_size, horizon_outputs=1):
        super().__init__()
        self.horizon_outputs = horizon_outputs
        self.conv = nn.Conv1d(channels, 64, kernel_size=2)       # Conv1D(64, 2, relu)
        self.pool = nn.MaxPool1d(2)                              # MaxPooling1D(2)
        length = conv1d_output_length(frame_size, 2) // 2
        self.dense = nn.Linear(64 * length, 50)                  # Dense(50, relu)
        self.out = nn.Linear(50, horizon_outputs)                # Dense(1)

    def forward(self, x):
        x = x.float().permute(0, 2, 1)  # Keras (batch, steps, features) -> (batch, features, steps)
        x = self.pool(torch.relu(self.conv(x)))
        x = torch.relu(self.dense(x.flatten(1)))
        x = self.out(x)
        return x.squeeze(-1) if self.horizon_outputs == 1 else x


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    # model.compile(optimizer='adam', loss='mse'); model.fit(X, y, epochs=..., batch_size=...)
    model.to(device)
    trainX = torch.tensor(np.asarray(train[0]), dtype=torch.float32, device=device)
    trainy = torch.tensor(np.asarray(train[1]), dtype=torch.float32, device=device)
    valX = torch.tensor(np.asarray(val[0]), dtype=torch.float32, device=device)
    valy = torch.tensor(np.asarray(val[1]), dtype=torch.float32, device=device)
    adam = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        model.train()
        losses = []
        for batch in torch.split(torch.randperm(trainX.shape[0]), batch_size):
            adam.zero_grad()
            mse = torch.mean((model(trainX[batch]) - trainy[batch]) ** 2)
            mse.backward()
            adam.step()
            losses.append(mse.item() * len(batch))
        model.eval()
        with torch.no_grad():
            history["val_loss"].append(torch.mean((model(valX) - valy) ** 2).item() if len(valX) else float("nan"))
        history["loss"].append(sum(losses) / trainX.shape[0])
    return [{"epoch": e + 1, "train_loss": tl, "val_loss": vl}
            for e, (tl, vl) in enumerate(zip(history["loss"], history["val_loss"]))]
