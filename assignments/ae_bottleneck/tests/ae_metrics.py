"""Trusted-side measurements for the ae_bottleneck tests (no student code runs here)."""
from __future__ import annotations

import numpy as np
import torch

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
