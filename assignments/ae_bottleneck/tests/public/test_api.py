"""Public checks: the API's shapes and ranges, and the training log's format. Run them with
`dlgrade check ae_bottleneck your_notebook.ipynb`."""
import numpy as np
import pytest
import torch

from grader.authoring import expect_array, expect_log


@pytest.mark.points(0.5)
@pytest.mark.parametrize("input_dim,k", [(64, 8), (64, 32), (784, 16), (784, 32)])
def test_shapes(student, input_dim, k):
    """encode gives (N, bottleneck_dim); decode and forward give (N, input_dim)"""
    model = student.Autoencoder(input_dim=input_dim, bottleneck_dim=k)
    x = torch.rand(5, input_dim)
    z = expect_array(model.encode(x), name=f"Autoencoder({input_dim}, {k}).encode(x)", shape=(5, k))
    expect_array(model.decode(torch.from_numpy(z)), name=f"Autoencoder({input_dim}, {k}).decode(z)", shape=(5, input_dim))
    expect_array(model.forward(x), name=f"Autoencoder({input_dim}, {k}).forward(x)", shape=(5, input_dim))


@pytest.mark.points(1)
def test_outputs_are_pixel_intensities(student, worker):
    """decode's outputs lie in [0, 1], even for extreme codes"""
    worker.seed(0)  # the same model and codes on every run: a regrade's message names the same value
    model = student.Autoencoder(input_dim=64, bottleneck_dim=8)
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0)) * 50
    expect_array(model.decode(z), name="Autoencoder.decode(z)", shape=(16, 64), low=0.0, high=1.0)


@pytest.mark.points(1)
def test_forward_is_decode_of_encode(student):
    """forward(x) equals decode(encode(x))"""
    model = student.Autoencoder(input_dim=64, bottleneck_dim=16)
    model.eval()
    x = torch.rand(8, 64)
    via_code = expect_array(model.decode(model.encode(x)), name="decode(encode(x))", shape=(8, 64))
    direct = expect_array(model.forward(x), name="forward(x)", shape=(8, 64))
    assert np.allclose(direct, via_code, atol=1e-5), \
        "forward(x) differs from decode(encode(x)); forward must go through the bottleneck"


@pytest.mark.points(2)
@pytest.mark.timeout(120)
def test_training_log_format(student, worker, device):
    """train_autoencoder returns one record per epoch with finite epoch/train_loss/val_loss"""
    worker.seed(0)
    x = torch.rand(200, 64)
    model = student.Autoencoder(input_dim=64, bottleneck_dim=8)
    log = student.train_autoencoder(model, x[:160], x[160:], epochs=3, batch_size=32, lr=1e-3, device=device)
    expect_log(log, name="train_autoencoder(...)", keys=("epoch", "train_loss", "val_loss"), length=3)
    assert [r["epoch"] for r in log] == [1, 2, 3], f"epochs should be numbered 1, 2, 3; got {[r['epoch'] for r in log]}"
