"""`artifacts`: the submission's non-code files, read on the trusted side as capped data (never run)."""
from __future__ import annotations

import fnmatch
from pathlib import Path


class Artifacts:
    """Non-code files of the submission, read on the trusted side as capped data (never run)."""

    def __init__(self, root: Path | None):
        self.root = root

    def names(self) -> list[str]:
        if self.root is None or not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() and not p.is_symlink())

    def find(self, *patterns: str) -> str | None:
        """The first file whose name matches one of the globs (tried in order), or None."""
        names = self.names()
        for pattern in patterns:
            for name in names:
                if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(Path(name).name, pattern):
                    return name
        return None

    def read_bytes(self, name: str, *, max_bytes: int = 50 * 2 ** 20) -> bytes:
        # no submission folder at all (a plain pytest run): nothing is a file of it
        if self.root is None:
            raise AssertionError(f"{name}: not a file of your submission")
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents or path.is_symlink():
            raise AssertionError(f"{name}: not a file of your submission")
        if path.stat().st_size > max_bytes:
            raise AssertionError(f"{name} is {path.stat().st_size // 2**20} MB; at most {max_bytes // 2**20} MB is read")
        return path.read_bytes()

    def read_text(self, name: str, *, max_bytes: int = 10 * 2 ** 20) -> str:
        return self.read_bytes(name, max_bytes=max_bytes).decode("utf-8", "replace")
