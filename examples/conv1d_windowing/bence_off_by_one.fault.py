"""make_windows forgets the +1 in b = floor((T - m) / s) + 1 and drops the last window; expected to
lose the windowing tests (public 1.5, hidden 2 + 2 for the long series) and the make_targets cases
whose last window goes missing.
"""


def make_windows(series, frame_size: int, shift: int) -> torch.Tensor:
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
    b = (x.shape[0] - frame_size) // shift  # number of windows
    return x.unfold(0, frame_size, shift)[:b].transpose(1, 2)  # (b, m, C)
