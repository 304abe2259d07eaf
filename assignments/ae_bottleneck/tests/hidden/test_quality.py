"""Hidden checks: quality after training on the grader's data, the bottleneck's reality, the log."""
import hashlib

import numpy as np
import pytest
import torch
from ae_metrics import bce

from grader.images import grid, line_plot
from grader.testing import as_numpy, expect_array, expect_log


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.parametrize("k", [32, 16, 8])
def test_reconstruction_loss(trained, thresholds, credit, feedback, ae_data, k):
    """test-set reconstruction BCE after training (decoded from the codes alone)"""
    t = trained[k].get()
    th = thresholds["test_bce"][k]
    credit.linear(t.test_bce, full=th["full"], zero=th["zero"], what=f"test BCE (bottleneck {k})")
    if k == 8:  # one picture for all three: originals, then each bottleneck's reconstructions
        test_x = ae_data[1]
        side = int(round(test_x.shape[1] ** 0.5))
        rows = [test_x[:10]] + [trained[j].recon[:10] for j in sorted(trained, reverse=True) if trained[j].error is None]
        feedback.image("test images (top row) and reconstructions with bottlenecks "
                       + ", ".join(str(j) for j in sorted(trained, reverse=True) if trained[j].error is None),
                       grid(np.concatenate(rows).reshape(-1, side, side), columns=10, scale=3))


@pytest.mark.points(2)
def test_smaller_bottleneck_loses_more(trained, thresholds):
    """the test loss grows as the bottleneck shrinks: loss(8) > loss(16) > loss(32)"""
    losses = {k: trained[k].get().test_bce for k in (32, 16, 8)}
    tol = thresholds["ordering_tolerance"]
    assert losses[8] > losses[16] - tol and losses[16] > losses[32] - tol, (
        "expected loss(8) > loss(16) > loss(32), got " + ", ".join(f"loss({k}) = {v:.4f}" for k, v in losses.items()))


def weights_digest(state: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        arr = np.ascontiguousarray(as_numpy(state[name], f"state_dict()[{name!r}]"))
        h.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()


@pytest.mark.points(3)
@pytest.mark.timeout(300)
def test_bottleneck_is_real(trained, fresh_worker, ae_data, thresholds, seed):
    """codes decoded in a fresh process holding only the trained weights reconstruct as well"""
    test_x = ae_data[1][:256]
    rng = np.random.default_rng(seed)
    with fresh_worker() as other:
        for k in (8, 16, 32):
            t = trained[k].get()
            state = t.state
            codes = expect_array(t.model.encode(torch.from_numpy(test_x)), name="Autoencoder.encode(x)",
                                 shape=(len(test_x), k))
            # noise far below the codes' spread, far above the last bits of a float32 mantissa
            noisy = codes + rng.normal(0, 1e-3, codes.shape).astype(np.float32) * (codes.std() + 1e-6)
            copy = other.module.Autoencoder(input_dim=test_x.shape[1], bottleneck_dim=k)
            copy.load_state_dict(state)
            copy.eval()
            if weights_digest(copy.state_dict()) != weights_digest(state):
                raise AssertionError(f"bottleneck {k}: a fresh Autoencoder did not hold the trained weights "
                                     "after load_state_dict (are parameters created outside __init__?)")
            recon = expect_array(copy.decode(torch.from_numpy(noisy)), name="Autoencoder.decode(z)",
                                 shape=test_x.shape)
            direct = bce(test_x, t.recon[:len(test_x)])
            via_code = bce(test_x, recon)
            assert via_code <= direct + thresholds["bottleneck_tolerance"], (
                f"bottleneck {k}: reconstructions from the {k} code numbers alone (in a fresh process) have BCE "
                f"{via_code:.4f}, but forward(x) reached {direct:.4f}. The output must be computed from the code "
                "only: no inputs kept in globals, attributes or caches, nothing hidden in the code's low bits.")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_training_log(trained, settings, feedback):
    """the training log has one finite record per epoch and the training loss falls"""
    for k in (32, 16, 8):
        log = expect_log(trained[k].get().log, name=f"train_autoencoder (bottleneck {k})",
                         keys=("epoch", "train_loss", "val_loss"), length=settings["epochs"])
        first, last = log[0]["train_loss"], log[-1]["train_loss"]
        assert last < first, f"bottleneck {k}: the training loss did not fall ({first:.4f} -> {last:.4f})"
    feedback.image("training loss per epoch (blue: 32, orange: 16, green: 8)",
                   line_plot({k: [r["train_loss"] for r in trained[k].log] for k in (32, 16, 8)}))


@pytest.mark.points(1)
def test_other_sizes(student):
    """the model works for other input sizes, small bottlenecks and a batch of one"""
    for input_dim, k, n in [(100, 5, 1), (30, 2, 7)]:
        model = student.Autoencoder(input_dim=input_dim, bottleneck_dim=k)
        model.eval()
        x = torch.rand(n, input_dim)
        expect_array(model.encode(x), name=f"Autoencoder({input_dim}, {k}).encode(x)", shape=(n, k))
        expect_array(model.forward(x), name=f"Autoencoder({input_dim}, {k}).forward(x)", shape=(n, input_dim),
                     low=0.0, high=1.0)
