"""Trusted formulas for the GAN losses (float64 numpy; no student code, no reference solution)."""
from __future__ import annotations

import numpy as np

from grader.authoring import as_numpy


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), stable for any x."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def d_loss(real: np.ndarray, fake: np.ndarray, real_label: float = 1.0) -> float:
    """mean BCE(real, real_label) + mean BCE(fake, 0) on logits."""
    return float((real_label * softplus(-real) + (1 - real_label) * softplus(real)).mean() + softplus(fake).mean())


def g_loss_minimax(fake: np.ndarray) -> float:
    return float(-softplus(fake).mean())   # mean log(1 - sigmoid(l))


def g_loss_nonsaturating(fake: np.ndarray) -> float:
    return float(softplus(-fake).mean())   # mean -log sigmoid(l)


def critic(real: np.ndarray, fake: np.ndarray) -> float:
    return float(np.asarray(fake, np.float64).mean() - np.asarray(real, np.float64).mean())


def scalar(value, name: str) -> float:
    """A returned loss as a float: a tensor with exactly one element (a scalar)."""
    arr = as_numpy(value, name)
    if arr.size != 1:
        raise AssertionError(f"{name} should return a scalar (the batch mean), but returned shape {tuple(arr.shape)}")
    v = float(arr.reshape(()))
    if not np.isfinite(v):
        raise AssertionError(f"{name} returned {v}: not numerically stable (compute log-sigmoid with softplus / "
                             "binary_cross_entropy_with_logits, never log(sigmoid(l)))")
    return v


def close(got: float, want: float, name: str, *, rtol: float = 1e-4, atol: float = 1e-4) -> None:
    if not abs(got - want) <= atol + rtol * abs(want):
        raise AssertionError(f"{name} = {got:.6g}, expected {want:.6g}")
