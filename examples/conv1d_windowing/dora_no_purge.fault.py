"""chronological_split cuts the blocks without the purge gap (unless a gap is given), so the last
training windows' targets lie in the validation period; expected to lose the public split example
(1), the leakage test (4), the exact blocks (1) and the 'nothing left to train on' error (1).
"""


def chronological_split(X, y, train=0.7, val=0.15, *, frame_size=None, shift=1, horizon=1, gap=None):
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
