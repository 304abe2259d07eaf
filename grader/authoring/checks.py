"""Helpers for instructors' tests: checks that fail with a message a student understands.

Every helper raises `AssertionError` (a failed check, the student's to fix) rather than letting a
wrong type from the submission blow up the trusted test with an `AttributeError`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def as_numpy(value, name: str) -> np.ndarray:
    """A tensor or array returned by the submission, as a numpy array (or a clear failure)."""
    if hasattr(value, "detach") and hasattr(value, "numpy") and type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise AssertionError(f"{name} should return a tensor, but returned {_kind(value)}")


def _kind(value) -> str:
    if hasattr(value, "type_name"):
        return f"an object of type {value.type_name}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}" if value is not None else "None"


def expect_array(value, *, name: str, shape: tuple | None = None, finite: bool = True,
                 low: float | None = None, high: float | None = None, floating: bool | None = None) -> np.ndarray:
    """Check a returned tensor's shape, finiteness and range; return it as numpy."""
    arr = as_numpy(value, name)
    if shape is not None:
        want = tuple(shape)
        if tuple(arr.shape) != want:
            raise AssertionError(f"{name} returned shape {tuple(arr.shape)}, expected {want}")
    if floating is True and arr.dtype.kind != "f":
        raise AssertionError(f"{name} returned dtype {arr.dtype}, expected a floating-point tensor")
    if finite and arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise AssertionError(f"{name} returned {bad} NaN or infinite value(s)")
    if low is not None and arr.size and float(np.min(arr)) < low - 1e-6:
        raise AssertionError(f"{name} returned values below {low} (min {float(np.min(arr)):.4g}); expected [{low}, {high}]")
    if high is not None and arr.size and float(np.max(arr)) > high + 1e-6:
        raise AssertionError(f"{name} returned values above {high} (max {float(np.max(arr)):.4g}); expected [{low}, {high}]")
    return arr


def expect_log(value, *, name: str, keys: tuple[str, ...], length: int | None = None) -> list[dict]:
    """A training log: a list of dicts with the given numeric, finite keys."""
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise AssertionError(f"{name} should return a list of dicts (one per epoch), but returned {_kind(value)}")
    if length is not None and len(value) != length:
        raise AssertionError(f"{name} returned {len(value)} records, expected one per epoch ({length})")
    for i, record in enumerate(value):
        for key in keys:
            if key not in record:
                raise AssertionError(f"{name}: record {i} has no {key!r} (it has {sorted(map(str, record))[:8]})")
            v = record[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise AssertionError(f"{name}: record {i} {key!r} should be a number, got {_kind(v)}")
            if not math.isfinite(v):
                raise AssertionError(f"{name}: record {i} {key!r} is {v}")
    return value


@dataclass
class Credit:
    """Partial credit for one test. `linear` sets the fraction of the test's points earned."""
    fraction: float | None = None
    message: str = ""
    metrics: dict = field(default_factory=dict)

    def linear(self, value: float, *, full: float, zero: float, what: str) -> float:
        """Full marks at `full`, none at `zero`, linear between; works for either direction
        (lower-is-better when full < zero). NaN earns nothing."""
        if full == zero:
            raise ValueError("full and zero must differ")
        if value is None or not math.isfinite(value):
            frac = 0.0
        else:
            frac = min(1.0, max(0.0, (value - zero) / (full - zero)))
        self.fraction = frac if self.fraction is None else min(self.fraction, frac)
        better = "≤" if full < zero else "≥"
        self.metrics[what] = value
        self.message += (f"{what} = {value:.4g}: {frac:.0%} of the points "
                         f"(full marks at {better} {full:g}, none at {zero:g})\n")
        return frac
