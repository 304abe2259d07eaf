"""Trusted-side data and measurements for the ae_bottleneck tests (no student code runs here).

The hidden tests grade on images a submission cannot rebuild: the digits (or MNIST images) are
picked and individually distorted (a random affine map plus a smooth elastic field and a contrast
change per image) with randomness drawn from the course key, which never reaches a worker. The
public originals sit inside the sandbox (scikit-learn ships the digits; a student can ship MNIST),
so without the key a look-up of the nearest public image misses every distorted pixel.
"""
from __future__ import annotations

import numpy as np
import torch

from grader.authoring import expect_array, load_digits, load_mnist


def prepare(images: np.ndarray, max_value: float) -> np.ndarray:
    return (images.reshape(len(images), -1).astype(np.float32) / np.float32(max_value)).clip(0, 1)


def bce(x: np.ndarray, recon: np.ndarray) -> float:
    """Mean binary cross-entropy per pixel, computed here, on the trusted side."""
    r = np.clip(recon.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-(x * np.log(r) + (1 - x) * np.log(1 - r)).mean())


def mse(x: np.ndarray, recon: np.ndarray) -> float:
    """Mean squared error per pixel, computed here: what a log that reports MSE instead of BCE shows."""
    return float(((x.astype(np.float64) - recon.astype(np.float64)) ** 2).mean())


def distort(images: np.ndarray, rng: np.random.Generator, *, rotate_deg: float = 12.0, scale: float = 0.1,
            shear: float = 0.15, shift: float = 0.06, elastic: float = 0.05, smooth: float = 0.18,
            contrast: float = 0.15) -> np.ndarray:
    """Each image (N, H, W) in [0, 1] through its own random affine map and elastic field.

    Lengths are fractions of the side, so 8x8 digits and 28x28 MNIST are bent alike: shifts up to
    `shift`, an elastic displacement of RMS `elastic` smoothed over `smooth` of the side. The
    digits stay readable (an autoencoder learns them as well as the originals), but no two images
    share a distortion, so the test images cannot be derived from the public ones without the key.
    """
    from scipy.ndimage import gaussian_filter, map_coordinates  # here: only the preparation needs scipy

    n, h, w = images.shape
    side = float(max(h, w))
    theta = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, n))
    s = rng.uniform(1 - scale, 1 + scale, n)
    sh = rng.uniform(-shear, shear, n)
    t = rng.uniform(-shift, shift, (n, 2)) * side
    cos, sin = np.cos(theta) / s, np.sin(theta) / s
    a = np.stack([np.stack([cos, -sin + sh * cos], -1), np.stack([sin, cos + sh * sin], -1)], -2)  # (N, 2, 2)
    rr, cc = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    src = np.einsum("nij,jhw->nihw", a, np.stack([rr, cc])) + t[:, :, None, None]  # where each output pixel samples
    field = gaussian_filter(rng.uniform(-1, 1, (n, 2, h, w)), sigma=(0, 0, smooth * side, smooth * side))
    src += field * (elastic * side / (field.std(axis=(1, 2, 3), keepdims=True) + 1e-12))
    index = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None], (n, h, w))
    out = map_coordinates(images.astype(np.float64), [index, src[:, 0] + (h - 1) / 2, src[:, 1] + (w - 1) / 2],
                          order=1, mode="constant", cval=0.0)
    out *= rng.uniform(1 - contrast, 1 + contrast, n)[:, None, None]
    return np.clip(out, 0, 1).astype(np.float32)


def load_ae_data(mode: str, settings: dict, data_dir, course_key) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) float32 arrays (N, input_dim) in [0, 1]: a keyed pick of images, each distorted
    with keyed randomness (see the module docstring). Train and test are bent the same way, so an
    honest model learns the distribution it is tested on."""
    rng = course_key.rng("ae_bottleneck", mode, "data")
    if mode == "embedded":
        x = load_digits()["images"] / 16.0                                   # (1797, 8, 8)
        perm = rng.permutation(len(x))
        n_train = settings.get("train_size", 1500)
        x = prepare(distort(x[perm], rng), 1.0)
        return x[:n_train], x[n_train:]
    d = load_mnist(data_dir)
    train = d["train_images"][rng.permutation(len(d["train_images"]))[: settings["train_size"]]] / 255.0
    test = d["test_images"][rng.permutation(len(d["test_images"]))[: settings["test_size"]]] / 255.0
    return prepare(distort(train, rng), 1.0), prepare(distort(test, rng), 1.0)


def noisy_codes(codes: np.ndarray, relative: float, rng: np.random.Generator) -> np.ndarray:
    """Codes plus Gaussian noise of `relative` times each code dimension's spread over the batch.

    A real code survives this (the reference loses at most 0.002 BCE at 10 %); numbers packed into the
    codes' low bits, or an exact index into a memorised table, do not."""
    spread = codes.astype(np.float64).std(axis=0, keepdims=True)
    return (codes + rng.normal(0.0, 1.0, codes.shape) * relative * spread).astype(np.float32)


def _batched(fn, x: np.ndarray, shape_of, name: str, batch: int = 2048) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        out.append(expect_array(fn(torch.from_numpy(xb)), name=name, shape=shape_of(len(xb))).astype(np.float32))
    return np.concatenate(out)


def reconstruct(model, x: np.ndarray) -> np.ndarray:
    """model(x) computed in a worker, batch by batch, checked for shape and finiteness."""
    return _batched(model, x, lambda n: (n, x.shape[1]), "Autoencoder.forward(x)")


def encode_all(model, x: np.ndarray, k: int) -> np.ndarray:
    """model.encode(x) in a worker, batch by batch, checked: (N, k) finite."""
    return _batched(model.encode, x, lambda n: (n, k), "Autoencoder.encode(x)")


def decode_all(model, codes: np.ndarray, input_dim: int) -> np.ndarray:
    """model.decode(z) in a worker, batch by batch, checked: (N, input_dim) finite."""
    return _batched(model.decode, codes, lambda n: (n, input_dim), "Autoencoder.decode(z)")
