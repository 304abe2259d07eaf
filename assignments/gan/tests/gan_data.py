"""The grader's real images for the GAN tests, derived from the course key.

Every image the data sets hold is public: scikit-learn's digits ship inside the worker's Python,
and MNIST or CIFAR-10 files fit in a submission folder. So the grader never computes a grade on a
fixed, published subset. For each run:

- the class's images (`pool`) are split by the course key into the images the GAN is trained on
  and the held-out images its samples are compared with (the same sizes as the data sets' usual
  splits), so which real images a grade is computed on changes with the key;
- every one of them, training and held-out alike, is moved by a keyed sub-pixel translation
  (|dx|, |dy| <= 0.25 px, bilinear), so no array the grader uses equals a public image and the
  held-out set cannot be rebuilt from public data even by someone who knows the split's sizes;
- `public` keeps every public original of the class: the copy check (`gan_metrics.memorisation_ratio`)
  compares samples with all of them and with the training images the worker received, so returning
  real images, held-out ones included, is copying.

Nothing here imports or runs student code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MAX_JITTER_PX = 0.25


@dataclass
class ClassData:
    train: np.ndarray         # (N, C, H, W) float32 in [-1, 1], jittered: what train_gan receives
    test: np.ndarray          # held-out, jittered: the images the samples are measured against
    public: np.ndarray        # every public original of the class(es), for the copy check
    test_sources: np.ndarray  # index into `public` of each held-out image's original


def _scaled(images: np.ndarray, kind: str) -> np.ndarray:
    if kind == "digits":
        return images[:, None].astype(np.float32) / 8.0 - 1.0
    if kind == "mnist":
        return images[:, None].astype(np.float32) / 127.5 - 1.0
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0  # cifar10: (N, H, W, 3) -> NCHW


def public_sets(name: str, data_dir=None, *, mnist_train_subset: int = 10_000) -> dict:
    """All public images of a data set in [-1, 1] and labels, plus which of them form the pool the
    grader draws its training and held-out images from and how many are held out per class.

    digits: the pool is all 1,797 images, 20 % held out (the usual index % 5 split's share);
    mnist: the pool is the first `mnist_train_subset` training images and the test set, as many
    held out as the test set has; the public set adds the rest of the training set; cifar10: the
    pool is the subset in the data directory, as many held out as its test split has.
    Returns images, labels, in_pool (bool mask), test_share (dict class -> held-out count).
    """
    from grader.authoring import load_cifar10, load_digits, load_mnist

    if name == "digits":
        d = load_digits()
        images, labels = _scaled(d["images"], "digits"), np.asarray(d["labels"], np.int64)
        in_pool = np.ones(len(labels), bool)
        n_test = {int(c): int((np.arange(len(labels))[labels == c] % 5 == 0).sum()) for c in np.unique(labels)}
        return {"images": images, "labels": labels, "in_pool": in_pool, "n_test": n_test}
    if name in ("mnist", "cifar10"):
        d = load_mnist(data_dir) if name == "mnist" else load_cifar10(data_dir)
        images = np.concatenate([_scaled(d["train_images"], name), _scaled(d["test_images"], name)])
        labels = np.concatenate([d["train_labels"], d["test_labels"]]).astype(np.int64)
        n_train = len(d["train_labels"])
        in_pool = np.ones(len(labels), bool)
        if name == "mnist":
            in_pool[mnist_train_subset:n_train] = False
        test_labels = labels[n_train:]
        n_test = {int(c): int((test_labels == c).sum()) for c in np.unique(labels)}
        return {"images": images, "labels": labels, "in_pool": in_pool, "n_test": n_test}
    raise ValueError(f"unknown data set {name!r}; expected 'digits', 'mnist' or 'cifar10'")


def jitter(images: np.ndarray, rng: np.random.Generator, max_px: float = MAX_JITTER_PX) -> np.ndarray:
    """Each image translated by its own (dx, dy) ~ U[-max_px, max_px]^2 pixels, bilinear, edges repeated."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    n, _, h, w = x.shape
    shift = torch.from_numpy(rng.uniform(-max_px, max_px, (n, 2))).float()
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2], theta[:, 1, 2] = shift[:, 0] * 2 / w, shift[:, 1] * 2 / h  # grid units: 2 per image side
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return np.ascontiguousarray(out.clamp(-1, 1).numpy())


def warped(images: np.ndarray, rng: np.random.Generator, *, degrees: float, scale: float, shift_px: float,
           mirrored: bool = False) -> np.ndarray:
    """Each image rotated, scaled and moved by its own random amounts within the bounds (bilinear, edges
    repeated): real images as a lookup hides them, to measure the copy check on (calibrate.py,
    tests/test_gan_attacks.py). Not used in grading."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    n, size = len(x), x.shape[-1]
    a = torch.from_numpy(np.deg2rad(rng.uniform(-degrees, degrees, n))).float()
    s = torch.from_numpy(1 + rng.uniform(-scale, scale, n)).float()
    t = torch.from_numpy(rng.uniform(-shift_px, shift_px, (n, 2)) * 2 / size).float()
    flip = -1.0 if mirrored else 1.0
    theta = torch.stack([torch.stack([flip * a.cos() / s, -a.sin() / s, t[:, 0]], 1),
                         torch.stack([flip * a.sin() / s, a.cos() / s, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False).numpy()


def keyed_split(sets: dict, classes, rng: np.random.Generator) -> ClassData:
    """Split the pool's images of `classes` (an int or a list) into training and held-out images by
    `rng` (drawn from the course key), jitter both, and keep the class's public originals."""
    classes = [classes] if np.isscalar(classes) else list(classes)
    labels = sets["labels"]
    public_idx = np.flatnonzero(np.isin(labels, classes))
    test_idx, train_idx = [], []
    for c in classes:
        pool = np.flatnonzero((labels == c) & sets["in_pool"])
        perm = rng.permutation(pool)
        k = sets["n_test"][c]
        test_idx.append(perm[:k])
        train_idx.append(perm[k:])
    test_idx, train_idx = np.sort(np.concatenate(test_idx)), np.sort(np.concatenate(train_idx))
    images = sets["images"]
    position = {int(i): p for p, i in enumerate(public_idx)}
    return ClassData(train=jitter(images[train_idx], rng), test=jitter(images[test_idx], rng),
                     public=np.ascontiguousarray(images[public_idx]),
                     test_sources=np.array([position[int(i)] for i in test_idx], np.int64))
