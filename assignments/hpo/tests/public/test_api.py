"""Public checks: the search space, the model family and train_and_evaluate's contract, on tiny
inputs. The hidden tests re-run your logged trainings with the same functions."""
import numpy as np
import pytest
import torch

from grader.authoring import RemoteObject, as_numpy, expect_array, load_digits
from hpo_support import finite
from hpo_checks import param_count_from_shapes

SEARCHED = ("width", "depth", "lr", "batch_size", "dropout", "weight_decay")
SMALL = {"width": 8, "depth": 2, "lr": 3e-3, "batch_size": 32, "dropout": 0.1, "weight_decay": 1e-4}


@pytest.mark.points(0.5)
def test_search_space(student):
    """search_space() describes width, depth, lr, batch_size, dropout and weight_decay"""
    space = student.search_space("cpu")
    assert isinstance(space, dict), f"search_space() should return a dict, got {type(space).__name__}"
    missing = [k for k in SEARCHED if k not in space]
    assert not missing, f"search_space() has no entry for {', '.join(missing)}"
    for name, entry in space.items():
        assert isinstance(entry, dict) and entry.get("type") in ("int", "float", "categorical"), (
            f"search_space()[{name!r}] should be a dict with 'type' int, float or categorical, got {entry!r}"[:300])
        if entry["type"] == "categorical":
            assert isinstance(entry.get("choices"), list) and entry["choices"], \
                f"search_space()[{name!r}] is categorical but has no list of 'choices'"
        else:
            lo, hi = entry.get("low"), entry.get("high")
            assert finite(lo) and finite(hi) and lo <= hi, \
                f"search_space()[{name!r}] needs numbers 'low' <= 'high', got {lo!r}, {hi!r}"


@pytest.mark.points(1)
def test_build_model_shapes(student):
    """build_model(config, input_shape, num_classes) maps images to logits; width and depth set its size"""
    sizes = {}
    for shape in ((1, 8, 8), (3, 32, 32)):
        for width, depth in ((8, 1), (8, 3), (16, 3)):
            config = {**SMALL, "width": width, "depth": depth}
            model = student.build_model(config, input_shape=shape, num_classes=10)
            model.eval()
            expect_array(model(torch.randn(4, *shape)), name=f"build_model(width={width}, depth={depth}, "
                         f"input_shape={shape})(x)", shape=(4, 10))
            state = model.state_dict()
            assert isinstance(state, dict), "build_model(...).state_dict() should return the weights"
            sizes[shape, width, depth] = param_count_from_shapes(
                {k: list(as_numpy(v, f"state_dict()[{k!r}]").shape) for k, v in state.items()})
    for shape in ((1, 8, 8), (3, 32, 32)):
        assert sizes[shape, 16, 3] > sizes[shape, 8, 3] and sizes[shape, 8, 3] > sizes[shape, 8, 1], (
            f"for input {shape}, a wider or deeper config should have more parameters; got "
            + ", ".join(f"width={w}, depth={d}: {sizes[shape, w, d]}" for w, d in ((8, 1), (8, 3), (16, 3))))


def tiny_digits() -> dict:
    d = load_digits()
    x = (d["images"][:, None].astype(np.float32) / 16.0 - 0.3) / 0.4
    y = d["labels"].astype(np.int64)
    return {"x_train": x[:256], "y_train": y[:256], "x_val": x[256:384], "y_val": y[256:384]}


@pytest.mark.points(1.5)
@pytest.mark.timeout(180)
def test_train_and_evaluate_contract(student, worker):
    """train_and_evaluate: result fields, parameter count, determinism per seed, return_model"""
    data = worker.keep(tiny_digits(), "a small digits data set")
    runs = []
    for _ in range(2):
        with worker.timeout(120):
            runs.append(student.train_and_evaluate(SMALL, data, seed=7, device="cpu", max_epochs=2))
    r = runs[0]
    assert isinstance(r, dict), f"train_and_evaluate should return a dict, got {type(r).__name__}"
    for key in ("val_accuracy", "params", "epochs", "train_seconds"):
        assert key in r, f"train_and_evaluate's result has no {key!r} (it has {sorted(map(str, r))[:8]})"
        assert finite(r[key]), f"train_and_evaluate's {key!r} should be a number, got {r[key]!r}"[:200]
    assert 0.0 <= r["val_accuracy"] <= 1.0, f"val_accuracy should be a fraction in [0, 1], got {r['val_accuracy']}"
    model = student.build_model(SMALL, input_shape=(1, 8, 8), num_classes=10)
    counted = param_count_from_shapes({k: list(as_numpy(v, "state_dict()").shape) for k, v in model.state_dict().items()})
    assert r["params"] == counted, (f"train_and_evaluate reports params = {r['params']}, but the model "
                                    f"build_model makes for this config has {counted} parameters")
    assert runs[1]["val_accuracy"] == r["val_accuracy"], (
        f"two calls with the same config, data and seed gave val_accuracy {r['val_accuracy']} and "
        f"{runs[1]['val_accuracy']}: seed the model, dropout and the data order from `seed` (the grader "
        "re-runs logged trainings and expects the logged accuracy)")
    with worker.timeout(120):
        out = student.train_and_evaluate(SMALL, data, seed=7, device="cpu", max_epochs=1, return_model=True)
    assert isinstance(out, dict) and out.get("model") is not None and isinstance(out["model"], RemoteObject), \
        "train_and_evaluate(..., return_model=True) should return the trained model under 'model'"
    m = out["model"]
    m.eval()
    expect_array(m(torch.randn(5, 1, 8, 8)), name="train_and_evaluate(..., return_model=True)['model'](x)",
                 shape=(5, 10))
