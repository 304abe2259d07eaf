"""Reading a CSV file an instructor exported from another system (Moodle's grading worksheet, a
hosting service's push log): the text as that system writes it, and its header row.

Separate so that every such reader opens the file, reports what cannot be read and normalises
the header one way; what the columns mean stays with each reader (grader.intake.submission_times,
grader.intake.git_history).
"""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from grader.core.errors import ToolkitError


def read_csv_export(path: Path, what: str) -> tuple[list[str], Iterator[list[str]]]:
    """(the header's column names, stripped and casefolded; the rows after it, from line 2 on).
    `what` names the file in the ToolkitError raised when it cannot be read ("the push log").
    A byte-order mark, as spreadsheet programs write one, is not part of the first column's name."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ToolkitError(f"{path}: {what} could not be read ({e})") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().casefold() for h in next(reader, [])]
    return header, reader
