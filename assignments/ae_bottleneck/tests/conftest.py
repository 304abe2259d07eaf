"""Fixtures for the hidden tests: the grader's data and the trained models' measurements.

Each bottleneck is trained once per run in the main worker, which never sees a test image: its
weights are taken (`handoff.take`) right after training. The test images then go only to pristine
workers that hold nothing but those weights: one encodes them (and computes forward(x) for
comparison), a second one, which has never seen an image, decodes the codes after the grader has
added noise to them. The graded loss therefore depends on the k code numbers alone.
A third pristine worker decodes the same noisy codes with the trained weights and with keyed
perturbations of them (grader.authoring.weights_dependence): reconstructions that do not change
with the decoder's weights (a stored mean image plus a fixed matrix) earn no quality points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from grader.authoring import Dependence, StudentError, asking_each, prepared, weights_dependence
from ae_metrics import bce, decode_all, encode_all, load_ae_data, mse, noisy_codes, reconstruct


@prepared
def ae_data(mode, settings, data_dir, course_key):
    """(train, test) float32 arrays (N, input_dim) in [0, 1], derived from the course key; built
    once per command, before grading starts (grader.authoring.prepared)."""
    return load_ae_data(mode, settings, data_dir, course_key)


@dataclass
class Trained:
    """One bottleneck's outcome; `error` keeps a failure to re-raise in each test that needs it."""
    k: int
    log: object = None
    weights: object = None                  # grader.authoring.Weights, taken right after training
    direct: np.ndarray | None = None        # forward(x) on the test images, in a pristine worker
    recon: np.ndarray | None = None         # decode(noisy code) in another pristine worker
    test_bce: float = float("nan")          # BCE of `recon`: the graded loss
    direct_bce: float = float("nan")        # BCE of `direct`
    train_bce: float = float("nan")         # forward's BCE on (up to 1,024) training images: checks the log
    train_mse: float = float("nan")         # their MSE: tells a log that reports MSE from one that is wrong
    dependence: Dependence | None = None    # do the reconstructions change with the weights?
    error: BaseException | None = None

    def get(self):
        if self.error is not None:
            raise self.error
        return self


def _load_each(handoff, items: list[Trained], use) -> None:
    """Run `use(trained, model)` for each item, all models in one pristine worker; if the handover
    itself fails, retry one model per worker so that only the bottleneck at fault loses points."""
    try:
        with handoff.load(*(t.weights for t in items)) as models:
            for t, m in zip(items, models):
                _guarded(t, use, m)
        return
    except (StudentError, AssertionError) as e:
        if len(items) == 1:
            items[0].error = e
            return
    for t in items:
        if t.error is None:
            try:
                with handoff.load(t.weights) as [m]:
                    _guarded(t, use, m)
            except (StudentError, AssertionError) as e:
                t.error = e


def _guarded(t: Trained, use, model) -> None:
    try:
        use(t, model)
    except (StudentError, AssertionError) as e:
        t.error = e


@pytest.fixture(scope="session")
def trained(student, worker, handoff, ae_data, settings, course_key, device, seed) -> dict[int, Trained]:
    train_x, test_x = ae_data
    dim = train_x.shape[1]
    n_val = max(1, len(train_x) // 10)
    train_h = worker.keep(torch.from_numpy(train_x[n_val:]), "the training images")
    val_h = worker.keep(torch.from_numpy(train_x[:n_val]), "the validation images")
    results = {}
    for k in settings["bottlenecks"]:
        t = results[k] = Trained(k)
        try:
            worker.seed(seed)
            model = student.Autoencoder(input_dim=dim, bottleneck_dim=k)
            with worker.timeout(settings["train_timeout_s"]):
                t.log = student.train_autoencoder(model, train_h, val_h, epochs=settings["epochs"],
                                                  batch_size=settings["batch_size"], lr=settings["lr"], device=device)
            t.weights = handoff.take(model, "Autoencoder", input_dim=dim, bottleneck_dim=k)
        except (StudentError, AssertionError) as e:
            t.error = e
    ready = [t for t in results.values() if t.error is None]
    codes, seen = {}, train_x[n_val:][:1024]

    def encode(t, m):  # the first worker to see the test images: encodes them, and forward for comparison
        codes[t.k] = encode_all(m, test_x, t.k)
        t.direct = reconstruct(m, test_x)
        t.direct_bce = bce(test_x, t.direct)
        seen_recon = reconstruct(m, seen)
        t.train_bce, t.train_mse = bce(seen, seen_recon), mse(seen, seen_recon)

    def decode(t, m):  # has seen no image: only the noisy codes
        t.recon = decode_all(m, noisy[t.k], dim)
        t.test_bce = bce(test_x, t.recon)

    _load_each(handoff, ready, encode)
    ready = [t for t in ready if t.error is None]
    noisy = {t.k: noisy_codes(codes[t.k], settings["code_noise"], course_key.rng("ae_bottleneck", "code noise", t.k))
             for t in ready}
    _load_each(handoff, ready, decode)
    for t in ready:
        if t.error is None:
            try:
                t.dependence = _dependence(handoff, t, noisy[t.k], dim, course_key)
            except (StudentError, AssertionError) as e:  # the same handover passed above: a failure is the model's
                t.error = e
    return results


def _dependence(handoff, t: Trained, codes: np.ndarray, dim: int, course_key) -> Dependence:
    """The graded decode asked again of the trained weights and of keyed variants, in a fresh worker."""
    return weights_dependence(handoff, t.weights, asking_each(lambda m: decode_all(m, codes, dim)), graded=t.recon,
                              rng=course_key.rng("ae_bottleneck", "weights dependence", t.k),
                              what=f"bottleneck {t.k}: the reconstructions decoded from your codes")
