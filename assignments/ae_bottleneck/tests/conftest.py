"""Fixtures shared by the public and hidden tests: the grader's data and the trained models.

The data stays on this (trusted) side until a call needs it; the test split is sent only when
the trained models are evaluated. Each bottleneck is trained once per run and shared by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from grader.datasets import load_digits, load_mnist
from grader.errors import StudentError
from ae_metrics import bce, prepare, reconstruct


@pytest.fixture(scope="session")
def ae_data(mode, settings, data_dir, seed):
    """(train, test) float32 arrays (N, input_dim) in [0, 1] for the run's data mode."""
    if mode == "embedded":
        x = prepare(load_digits()["images"], 16)
        perm = np.random.default_rng(seed).permutation(len(x))
        return x[perm[:1500]], x[perm[1500:]]
    d = load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    train = d["train_images"][rng.permutation(len(d["train_images"]))[: settings["train_size"]]]
    test = d["test_images"][: settings["test_size"]]
    return prepare(train, 255), prepare(test, 255)


@dataclass
class Trained:
    """One bottleneck's training outcome; `error` keeps a failure to re-raise in each test that needs it."""
    k: int
    model: object = None
    log: object = None
    test_bce: float = float("nan")
    recon: np.ndarray | None = None
    error: BaseException | None = None

    def get(self):
        if self.error is not None:
            raise self.error
        return self


@pytest.fixture(scope="session")
def trained(student, worker, ae_data, settings, device, seed) -> dict[int, Trained]:
    """Train one autoencoder per bottleneck in the worker, then evaluate it on the test split."""
    train_x, test_x = ae_data
    n_val = max(1, len(train_x) // 10)
    train_h = worker.keep(torch.from_numpy(train_x[n_val:]), "the training images")
    val_h = worker.keep(torch.from_numpy(train_x[:n_val]), "the validation images")
    results = {}
    for k in settings["bottlenecks"]:
        t = Trained(k)
        try:
            worker.seed(seed)
            model = student.Autoencoder(input_dim=train_x.shape[1], bottleneck_dim=k)
            with worker.timeout(settings["train_timeout_s"]):
                t.log = student.train_autoencoder(model, train_h, val_h, epochs=settings["epochs"],
                                                  batch_size=settings["batch_size"], lr=settings["lr"], device=device)
            model.eval()
            t.model = model
            t.recon = reconstruct(model, test_x)  # the worker sees the test images only now
            t.test_bce = bce(test_x, t.recon)
        except (StudentError, AssertionError) as e:
            t.error = e
        results[k] = t
    return results
