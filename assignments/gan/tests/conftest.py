"""Fixtures shared by the public and hidden tests: the grader's images of one class, the grader's
feature classifier (cached on disk, outside the repository) and the trained GAN.

Data reaches the worker only when a call needs it: the training images of the class for
`train_gan`; the held-out images never. The samples come back as arrays and every metric is
computed here, on the trusted side.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.errors import StudentError
from grader.testing import expect_array
from gan_metrics import features, load_metric_data, load_or_train_classifier

METRIC_DATA = {"embedded": "digits", "mnist": "mnist", "cifar10": "cifar10"}
LATENT_DIM = 100


def cache_dir() -> Path:
    """Where the grader's classifiers are cached: $DLGRADE_CACHE/gan or ~/.cache/dlgrade/gan."""
    root = os.environ.get("DLGRADE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dlgrade")
    return Path(root) / "gan"


@dataclass
class GanData:
    train: np.ndarray          # (N, C, H, W) float32 in [-1, 1], the class's training images
    test: np.ndarray           # held-out real images of the class (never sent to the worker)
    classifier: object         # the grader's FeatureClassifier
    test_features: np.ndarray


@pytest.fixture(scope="session")
def gan_data(mode, settings, data_dir) -> GanData:
    d = load_metric_data(METRIC_DATA[mode], data_dir)
    c = settings["class_index"]
    clf = load_or_train_classifier(METRIC_DATA[mode], d["train_images"], d["train_labels"], cache_dir())
    train = np.ascontiguousarray(d["train_images"][d["train_labels"] == c])
    test = np.ascontiguousarray(d["test_images"][d["test_labels"] == c])
    return GanData(train, test, clf, features(clf, test))


def fixed_latents(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 12345).standard_normal((n, LATENT_DIM)).astype(np.float32)


def get_samples(student, generator, z: np.ndarray, shape: tuple) -> np.ndarray:
    """sample(G, z) in the worker, checked: (N, C, H, W), finite, in [-1, 1]."""
    out = expect_array(student.sample(generator, torch.from_numpy(z)), name="sample(generator, z)",
                       shape=(len(z),) + tuple(shape), low=-1.0, high=1.0)
    return out.astype(np.float32)


@dataclass
class Run:
    """One training run's outcome; `error` keeps a failure to re-raise in each test that needs it."""
    generator: object = None
    discriminator: object = None
    log: object = None
    samples: np.ndarray | None = None
    error: BaseException | None = None
    extra: dict = field(default_factory=dict)

    def get(self):
        if self.error is not None:
            raise self.error
        return self


def train(student, worker, images_h, shape, settings, device, seed, *, loss="nonsaturating", steps=None,
          lr=None, real_label=None, norm="batch", log_every=None) -> tuple:
    """Build G and D in the worker and run the student's train_gan; (G, D, log)."""
    channels, size = shape[0], shape[1]
    worker.seed(seed)
    G = student.Generator(LATENT_DIM, channels, size, width=settings["width"])
    D = student.Discriminator(channels, size, width=settings["width"], norm=norm)
    with worker.timeout(settings["train_timeout_s"]):
        log = student.train_gan(G, D, images_h, steps=steps or settings["steps"], batch_size=settings["batch_size"],
                                lr=lr or settings["lr"], device=device, loss=loss,
                                log_every=log_every or settings["log_every"],
                                real_label=settings["real_label"] if real_label is None else real_label)
    return G, D, log


@pytest.fixture(scope="session")
def images_handle(worker, gan_data):
    return worker.keep(torch.from_numpy(gan_data.train), "the training images")


@pytest.fixture(scope="session")
def trained(student, worker, images_handle, gan_data, settings, device, seed) -> Run:
    """The graded run: non-saturating loss with one-sided label smoothing, then fixed latents sampled."""
    run = Run()
    try:
        run.generator, run.discriminator, run.log = train(student, worker, images_handle, gan_data.train.shape[1:],
                                                          settings, device, seed)
        z = fixed_latents(settings["n_samples"], seed)
        run.samples = get_samples(student, run.generator, z, gan_data.train.shape[1:])
    except (StudentError, AssertionError) as e:
        run.error = e
    return run
