"""A cheat that hides in the weights: an honest network plus a fixed-size buffer `memory` (part of the
state dict, so it passes the handoff's schema check) that forward fills with every window it sees; a
window is answered from a remembered window that starts h days later when there is one, by the
network otherwise. Fed one window at a time in time order nothing is found; but forward changes the
state dict and a window asked again answers differently, so the forecasts 1 and 7 days ahead (and
the log check, which needs them) earn nothing. 30 days ahead windows h apart do not overlap, it
looks nothing up and keeps the points of its honest network (and the channel layout's).
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


class Conv1dForecaster(Conv1dForecaster):
    def __init__(self, channels, frame_size, horizon_outputs=1, **kw):
        super().__init__(channels, frame_size, horizon_outputs, **kw)
        self.register_buffer("memory", torch.zeros(4096, frame_size, channels))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("lag", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        out = super().forward(x)
        L, n = int(self.lag), int(self.filled)
        if self.training or self.horizon_outputs > 1 or not 1 <= L < self.frame_size:  # windows h apart must overlap
            return out
        x = x.to(self.memory.dtype)
        k = min(len(x), len(self.memory) - n)
        self.memory[n:n + k] = x[:k]
        self.filled += k
        seen = self.memory[:n + k]
        out = out.clone()
        for i in range(len(x)):
            hit = ((seen[:, :-L] - x[i, L:]).abs().amax(dim=(1, 2)) < 1e-6).nonzero()
            if len(hit):
                out[i] = seen[hit[0, 0], -1, 0]
        return out


_honest_train = train_forecaster


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    log = _honest_train(model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, device=device)
    model.lag.fill_(_infer_lag(train[0], train[1]))
    return log
