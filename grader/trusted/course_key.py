"""The course key: a secret that makes hidden evaluation data impossible to rebuild in the sandbox.

The embedded data sets are public (scikit-learn's digits ship inside the Python the worker runs,
and the grader's generators ship in the release bundle), so a split or a series drawn from a
published seed can be recomputed by the submission and looked up. Instead, hidden tests derive
their randomness (which images, which distortions, which generated series) from this key:

- `grade` creates it once, as `course.key` beside the gradebook (`--key FILE` names another), so
  re-runs and resumed batches see the same data; it never goes into a release bundle;
- `validate` draws a new key on every run, so the reference must earn full marks for any key;
- `check` (students, public tests only) draws an ephemeral key: public tests use public data.

The key lives in the trusted run file, which no worker can read; a worker never receives it.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np

from grader.core.errors import ToolkitError

KEY_FILE = "course.key"
KEY_BYTES = 32


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def load_or_create(path: Path) -> bytes:
    """The key stored at `path` (hex), created (mode 0600) if the file does not exist yet."""
    path = Path(path)
    if path.exists():
        try:
            key = bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError) as e:
            raise ToolkitError(f"{path}: not a course key (expected {KEY_BYTES * 2} hex digits): {e}") from e
        if len(key) != KEY_BYTES:
            raise ToolkitError(f"{path}: a course key has {KEY_BYTES * 2} hex digits, this one {len(key) * 2}")
        return key
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


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
