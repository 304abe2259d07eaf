"""Fixtures shared by the public and hidden tests: the grader's data and the trained models.

The data stays on this (trusted) side until a call needs it; the test split is sent only when
the trained models are evaluated. Each bottleneck is trained once per run and shared by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from grader.errors import StudentError
from ae_metrics import bce, decode_all, encode_all, load_ae_data, reconstruct


@pytest.fixture(scope="session")
def ae_data(mode, settings, data_dir, seed):
    """(train, test) float32 arrays (N, input_dim) in [0, 1] for the run's data mode."""
    return load_ae_data(mode, settings, data_dir, seed)


@dataclass
class Trained:
    """One bottleneck's training outcome; `error` keeps a failure to re-raise in each test that needs it."""
    k: int
    model: object = None
    log: object = None
    state: dict | None = None
    recon: np.ndarray | None = None         # forward(x) in the training worker
    test_bce: float = float("nan")          # measured on decode(code) in a fresh worker (see below)
    error: BaseException | None = None

    def get(self):
        if self.error is not None:
            raise self.error
        return self


@pytest.fixture(scope="session")
def trained(student, worker, fresh_worker, ae_data, settings, device, seed) -> dict[int, Trained]:
    """Train one autoencoder per bottleneck in the worker, then evaluate it on the test split.

    The graded loss is measured on reconstructions made from the codes alone: a fresh worker that
    holds only the trained weights decodes the codes. Whatever a submission carries around the
    bottleneck (globals, caches) does not reach that worker, so it cannot improve the score.
    """
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
            t.state = model.state_dict()
            if not isinstance(t.state, dict):
                raise AssertionError("Autoencoder.state_dict() did not return the model's weights")
        except (StudentError, AssertionError) as e:
            t.error = e
        results[k] = t
    with fresh_worker() as decoder_side:
        for k, t in results.items():
            if t.error is not None:
                continue
            try:
                codes = encode_all(t.model, test_x, k)
                copy = decoder_side.module.Autoencoder(input_dim=test_x.shape[1], bottleneck_dim=k)
                copy.load_state_dict(t.state)
                copy.eval()
                t.test_bce = bce(test_x, decode_all(copy, codes, test_x.shape[1]))
            except (StudentError, AssertionError) as e:
                t.error = e
    return results
