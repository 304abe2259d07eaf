"""`OUT/integrity.csv`: one row per compared pair of the integrity report (grader.integrity.report)."""
from __future__ import annotations

from pathlib import Path

from grader.core.atomic_files import write_atomic
from grader.integrity.similarity import IntegrityReport
from grader.reports.spreadsheets import csv_text

INTEGRITY_COLUMNS = ["kind", "submission_a", "submission_b", "similarity", "shared", "flagged", "detail"]


def write_integrity_csv(path: Path, report: IntegrityReport) -> None:
    """One row per pair; cells through grader.reports.spreadsheets.csv_text (submission ids are students' file names)."""
    rows = [INTEGRITY_COLUMNS] + [[p.kind, p.a, p.b, f"{p.similarity:.3f}", p.shared,
                                   "yes" if p.similarity >= report.threshold else "", p.detail] for p in report.pairs]
    write_atomic(path, csv_text(rows))
