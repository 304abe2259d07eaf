"""The course key: a secret that makes hidden evaluation data impossible to rebuild in the sandbox.

The embedded data sets are public (scikit-learn's digits ship inside the Python the worker runs,
and the grader's generators ship in the release bundle), so a split or a series drawn from a
published seed can be recomputed by the submission and looked up. Instead, hidden tests derive
their randomness (which images, which distortions, which generated series) from this key:

- `grade` creates it once, as `course.key` beside the gradebook (`--key FILE` names another), so
  re-runs and resumed batches see the same data; it never goes into a release bundle;
- `validate` draws a new key on every run, so the reference must earn full marks for any key;
- `check` (students, public tests only) draws an ephemeral key: public tests use public data.

The key lives in the trusted run file, which no worker can read; a worker never receives it. Tests
get it as the `course_key` fixture; this module is what they call on it (the key's file, and
drawing a new one, are the trusted side's: grader.trusted.course_key).
"""
from __future__ import annotations

import hashlib
import hmac

import numpy as np


class CourseKey:
    """Seeds and random generators derived from the key; the same purpose always gives the same numbers."""

    def __init__(self, key: bytes):
        self._key = bytes(key)

    def seed(self, *purpose) -> int:
        """A 63-bit seed for `purpose` (any printable parts, e.g. the assignment and the data set)."""
        msg = "\x1f".join(str(p) for p in purpose).encode()
        return int.from_bytes(hmac.new(self._key, msg, hashlib.sha256).digest()[:8], "big") >> 1

    def rng(self, *purpose) -> np.random.Generator:
        return np.random.default_rng(self.seed(*purpose))

    def __repr__(self) -> str:  # never print the key itself
        return "<CourseKey>"
