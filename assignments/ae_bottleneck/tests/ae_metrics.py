"""Trusted-side measurements for the ae_bottleneck tests (no student code runs here)."""
from __future__ import annotations

import numpy as np
import torch

from grader.datasets import load_digits, load_mnist
from grader.testing import as_numpy


def prepare(images: np.ndarray, max_value: float) -> np.ndarray:
    return (images.reshape(len(images), -1).astype(np.float32) / np.float32(max_value)).clip(0, 1)


def bce(x: np.ndarray, recon: np.ndarray) -> float:
    """Mean binary cross-entropy per pixel, computed here, on the trusted side."""
    r = np.clip(recon.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-(x * np.log(r) + (1 - x) * np.log(1 - r)).mean())


def reconstruct(model, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    """model(x) computed in the worker, batch by batch, checked for shape and finiteness."""
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch])
        r = as_numpy(model(xb), "Autoencoder.forward(x)")
        if r.shape != xb.shape:
            raise AssertionError(f"Autoencoder.forward(x) returned shape {r.shape}, expected {tuple(xb.shape)}")
        out.append(r)
    return np.concatenate(out)


def load_ae_data(mode: str, settings: dict, data_dir, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) float32 arrays (N, input_dim) in [0, 1]: digits split by the seed, or MNIST."""
    if mode == "embedded":
        x = prepare(load_digits()["images"], 16)
        perm = np.random.default_rng(seed).permutation(len(x))
        return x[perm[:1500]], x[perm[1500:]]
    d = load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    train = d["train_images"][rng.permutation(len(d["train_images"]))[: settings["train_size"]]]
    test = d["test_images"][: settings["test_size"]]
    return prepare(train, 255), prepare(test, 255)


def encode_all(model, x: np.ndarray, k: int, batch: int = 2048) -> np.ndarray:
    """model.encode(x) in the worker, batch by batch, checked: (N, k) finite."""
    out = []
    for i in range(0, len(x), batch):
        z = as_numpy(model.encode(torch.from_numpy(x[i:i + batch])), "Autoencoder.encode(x)")
        if z.shape != (len(x[i:i + batch]), k):
            raise AssertionError(f"Autoencoder.encode(x) returned shape {z.shape}, expected {(len(x[i:i + batch]), k)}")
        out.append(z.astype(np.float32))
    return np.concatenate(out)


def decode_all(model, codes: np.ndarray, input_dim: int, batch: int = 2048) -> np.ndarray:
    out = []
    for i in range(0, len(codes), batch):
        r = as_numpy(model.decode(torch.from_numpy(codes[i:i + batch])), "Autoencoder.decode(z)")
        if r.shape != (len(codes[i:i + batch]), input_dim):
            raise AssertionError(f"Autoencoder.decode(z) returned shape {r.shape}, expected {(len(codes[i:i + batch]), input_dim)}")
        out.append(r)
    return np.concatenate(out)
