"""The course key's file: drawn by a command, stored beside the gradebook, never sent to a worker.

What the key is for, and the `CourseKey` that tests derive their data from, are in
grader.authoring.course_key; this is the trusted side's part: a new key, and the one kept in a file.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

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
