"""Content hashes that decide whether a gradebook row is still current.

A row is reused on the next run when both hashes match: `submission_hash` (what was graded: the
submission's bytes and file names, plus the glob that picked its code file) and `grader_version`
(what graded it: the toolkit's version and the assignment's spec and test files).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import grader
from grader.core.spec import SPEC_FILE, Spec

SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git")   # as the workspace skips them


def _update_with_file(h, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def _tree_entries(folder: Path):
    """(relative posix path, path) of everything under `folder`, sorted, links not followed."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED_PARTS for part in rel.parts) or path.name.endswith(".pyc"):
            continue
        yield rel.as_posix(), path


def submission_hash(path: Path, *, pick: str | None = None) -> str:
    """sha256 of a submission file or folder (names and bytes; a link counts as its target's name)."""
    h = hashlib.sha256(f"pick={pick or ''}\0".encode())
    path = Path(path)
    if path.is_symlink():
        h.update(b"link\0" + os.readlink(path).encode(errors="surrogateescape"))
    elif path.is_dir():
        for rel, p in _tree_entries(path):
            h.update(rel.encode(errors="surrogateescape") + b"\0")
            if p.is_symlink():
                h.update(b"link\0" + os.readlink(p).encode(errors="surrogateescape"))
            elif p.is_file():
                _update_with_file(h, p)
            h.update(b"\0")
    elif path.is_file():
        _update_with_file(h, path)
    return h.hexdigest()


def grader_version(spec: Spec) -> str:
    """`<toolkit version>+<12 hex digits of the assignment's spec and tests>`."""
    h = hashlib.sha256()
    files = [(SPEC_FILE, spec.path / SPEC_FILE)]
    tests = spec.path / "tests"
    if tests.is_dir():
        files += [("tests/" + rel, p) for rel, p in _tree_entries(tests) if p.is_file() and not p.is_symlink()]
    for rel, p in files:
        h.update(rel.encode() + b"\0")
        _update_with_file(h, p)
        h.update(b"\0")
    return f"{grader.__version__}+{h.hexdigest()[:12]}"
