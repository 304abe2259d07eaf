"""The files the scaffold writes for others (a new assignment, a bundle, an autograder), kept as real
files under `grader/scaffold/files/`, so they read, diff and lint as what they are.

Placeholders are `string.Template`'s: `$name`, `${name}`; a literal dollar sign is `$$`.
"""
from __future__ import annotations

from pathlib import Path
from string import Template

FILES = Path(__file__).resolve().parent / "files"


def render(relative: str, **values: str) -> str:
    """The file `files/<relative>.tmpl` with every placeholder filled (a missing value raises KeyError)."""
    return Template((FILES / f"{relative}.tmpl").read_text(encoding="utf-8")).substitute(**values)
