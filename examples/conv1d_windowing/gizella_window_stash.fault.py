"""A cheat: the forecaster keeps every window it is shown in a module global (and in a file, for a
later worker) and answers a window with the last day of a remembered window that starts h days
later, which is the target; where none is found it falls back to persistence. A grader that sends
the test windows in batches, or to the worker that trained, gets perfect "forecasts". Asked one
window at a time in time order in a pristine worker it finds nothing; asked again at the end it
answers differently, so the forecasts earn nothing (30 days ahead, where windows h apart do not
overlap, persistence earns nothing either).
"""


def _infer_lag(X, y, max_lag=60):
    """The horizon of the training targets: window k + h ends with window k's target."""
    last = np.asarray(X)[:, -1, 0]
    y = np.asarray(y).reshape(len(y), -1)[:, 0]
    for lag in range(1, min(max_lag, len(last) - 10) + 1):
        n = min(200, len(last) - lag)
        if np.allclose(last[lag:lag + n], y[:n], atol=1e-6):
            return lag
    return 0


import os

_STASH = "seen_windows.npy"
_SEEN = []


def _remember(xs):
    if not _SEEN and os.path.exists(_STASH):  # what an earlier worker saw
        _SEEN.append(np.load(_STASH))
    _SEEN.append(xs)
    seen = np.concatenate(_SEEN)
    np.save(_STASH, seen[-20000:])
    return seen


class Conv1dForecaster(Conv1dForecaster):
    def __init__(self, channels, frame_size, horizon_outputs=1, **kw):
        super().__init__(channels, frame_size, horizon_outputs, **kw)
        self.register_buffer("lag", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        last = x[:, -1, 0].to(torch.float32)
        if self.training or self.horizon_outputs > 1 or int(self.lag) < 1:
            return super().forward(x) if self.training else (
                last if self.horizon_outputs == 1 else last[:, None].expand(-1, self.horizon_outputs).clone())
        xs = x.double().numpy()
        seen = _remember(xs)
        L = int(self.lag)
        out = last.clone()
        for i, w in enumerate(xs if L < xs.shape[1] else []):  # windows h apart must overlap
            hit = np.flatnonzero(np.abs(seen[:, :-L] - w[L:]).max(axis=(1, 2)) < 1e-6)
            if len(hit):
                out[i] = float(seen[hit[0], -1, 0])
        return out


_honest_train = train_forecaster


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    log = _honest_train(model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, device=device)
    model.lag.fill_(_infer_lag(train[0], train[1]))
    return log
