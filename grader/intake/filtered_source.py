"""What the definitions filter returns: the filtered source, and each skipped line with its reason.

Separate so that the filter's parts (grader.intake.definitions, grader.intake.creation_work) and its
readers (grader.intake.workspace) share these records without importing one another.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Skipped:
    line: int
    what: str          # "loop: for epoch in range(10):"
    reason: str = ""   # "reads `X`, which comes from a skipped statement (cell 2, line 1)"


@dataclass
class Filtered:
    source: str
    skipped: list[Skipped] = field(default_factory=list)
    stand_ins: list[tuple[int, str]] = field(default_factory=list)  # (line, "torchvision.transforms as T")
    warnings: list[str] = field(default_factory=list)                # graded code reading skipped names
