"""Public checks: windows, targets, Conv1d lengths and the split on small examples, the forecaster's
shapes and the training log's format. Run them with `dlgrade check conv1d_windowing your_notebook.ipynb`."""
import numpy as np
import pytest
import torch
from windowing_metrics import expect_split, expect_targets, expect_value_error, expect_windows, index_windows

from grader.authoring import expect_array, expect_log

SERIES_2CH = np.stack([np.arange(20.0), 100 + np.arange(20.0)], axis=1)  # (20, 2): values name their sample
WINDOW_CASES = {  # label, series, frame_size m, shift s, input type
    "overlapping": ("arange(10)", np.arange(10, dtype=np.float32), 4, 3, "numpy"),      # s < m: 3 windows
    "two channels": ("a (20, 2) tensor", SERIES_2CH, 5, 5, "torch"),                   # s = m, torch input
    "gaps": ("arange(23)", np.arange(23, dtype=np.float64), 3, 7, "numpy"),            # s > m, tail dropped
}


@pytest.mark.points(0.5)
@pytest.mark.parametrize("case", ["overlapping", "two channels", "gaps"])
def test_make_windows_examples(student, case):
    """make_windows cuts (b, frame_size, C) windows, shift samples apart"""
    label, series, m, s, kind = WINDOW_CASES[case]
    x = torch.from_numpy(series) if kind == "torch" else series
    call = f"make_windows({label}, frame_size={m}, shift={s})"
    expect_windows(student.make_windows(x, m, s), series, m, s, call=call)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("kind", ["value", "mean"])
def test_make_targets_examples(student, kind):
    """make_targets pairs each window with the value (or mean) `horizon` steps ahead"""
    series = np.arange(12, dtype=np.float32)
    m, s, h = 4, 2, 3
    call = f"make_targets(arange(12), frame_size={m}, shift={s}, horizon={h}, kind={kind!r})"
    expect_targets(student.make_targets(series, m, s, h, kind=kind), series, m, s, h, kind, call=call)


@pytest.mark.points(0.5)
def test_make_windows_rejects_short_series(student):
    """make_windows raises ValueError when the series is shorter than one frame"""
    expect_value_error(lambda: student.make_windows(np.arange(5, dtype=np.float32), 8, 1),
                       "make_windows(series of 5 samples, frame_size=8, shift=1)")


@pytest.mark.points(1)
def test_conv1d_output_length_examples(student):
    """conv1d_output_length follows floor((L + 2p - d(k - 1) - 1) / stride) + 1"""
    for L, k, stride, p, d, want in [(30, 5, 1, 2, 1, 30), (30, 5, 2, 2, 1, 15), (100, 3, 1, 0, 2, 96), (10, 4, 3, 0, 1, 3)]:
        got = student.conv1d_output_length(L, k, stride=stride, padding=p, dilation=d)
        assert isinstance(got, int) and not isinstance(got, bool), \
            f"conv1d_output_length should return an int, got {type(got).__name__}"
        assert got == want, (f"conv1d_output_length(length={L}, kernel_size={k}, stride={stride}, padding={p}, "
                             f"dilation={d}) returned {got}, expected {want}")


@pytest.mark.points(1)
def test_chronological_split_examples(student):
    """chronological_split keeps time order and purges the borders (docstring example: m = 30, h = 30)"""
    # no purge (gap=0): the plain blocks int(0.7 N), int(0.15 N) and the rest
    X, y = index_windows(100, 5, 1, 1)
    expect_split(student.chronological_split(X, y, 0.7, 0.15, gap=0), T=100, m=5, s=1, h=1, kind="value",
                 train=0.7, val=0.15, gap=0, exact=True, call="chronological_split(X, y, 0.7, 0.15, gap=0)")
    # the purge gap of the docstring: 59 windows at each border
    X, y = index_windows(1000, 30, 1, 30)
    call = "chronological_split(X, y, 0.7, 0.15, frame_size=30, shift=1, horizon=30)"
    expect_split(student.chronological_split(X, y, 0.7, 0.15, frame_size=30, shift=1, horizon=30),
                 T=1000, m=30, s=1, h=30, kind="value", train=0.7, val=0.15, exact=True, call=call)


@pytest.mark.points(1)
def test_forecaster_shapes(student):
    """Conv1dForecaster maps (N, frame_size, channels) to (N,), or (N, horizon_outputs)"""
    model = student.Conv1dForecaster(3, 24)
    model.eval()
    expect_array(model(torch.randn(5, 24, 3)), name="Conv1dForecaster(3, 24)(x) for x of shape (5, 24, 3)",
                 shape=(5,), floating=True)
    model = student.Conv1dForecaster(3, 24, horizon_outputs=4)
    model.eval()
    expect_array(model(torch.randn(5, 24, 3)),
                 name="Conv1dForecaster(3, 24, horizon_outputs=4)(x) for x of shape (5, 24, 3)", shape=(5, 4),
                 floating=True)


@pytest.mark.points(2)
@pytest.mark.timeout(120)
def test_training_log_format(student, worker, device):
    """train_forecaster returns one record per epoch with finite epoch/train_loss/val_loss"""
    worker.seed(0)
    X, y = torch.randn(200, 16, 2), torch.randn(200)
    model = student.Conv1dForecaster(2, 16)
    log = student.train_forecaster(model, (X[:160], y[:160]), (X[160:], y[160:]), epochs=3, batch_size=32,
                                   lr=1e-3, device=device)
    expect_log(log, name="train_forecaster(...)", keys=("epoch", "train_loss", "val_loss"), length=3)
    assert [r["epoch"] for r in log] == [1, 2, 3], f"epochs should be numbered 1, 2, 3; got {[r['epoch'] for r in log]}"
