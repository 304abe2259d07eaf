"""The integrity report of a `grade` run: every submission's code file and logs read exactly as
grading reads them (zips unpacked safely, notebooks converted, the same code-file globs), compared
pair by pair (`grader.reports.similarity`: code as token fingerprints, logs as parsed records, so that a
log re-serialised in another format or order is still recognised), and written to
`OUT/integrity.csv`. The template students started from is the base whose code does not count."""
from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

from grader.core.assignments import template_dir
from grader.intake.discovery import SubmissionInput
from grader.reports.spreadsheets import csv_text
from grader.intake.notebooks import NotebookError, decode_text, notebook_to_source, read_notebook
from grader.core.atomic_files import write_atomic
from grader.reports.similarity import ARTIFACT_SUFFIXES, MAX_ARTIFACT_BYTES, IntegrityReport, compare_submissions
from grader.core.spec import Spec
from grader.intake.workspace import prepare_workspace

INTEGRITY_COLUMNS = ["kind", "submission_a", "submission_b", "similarity", "shared", "flagged", "detail"]


def code_text(path: Path) -> str | None:
    """A notebook's code cells or a script's text; None when it cannot be read."""
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".ipynb":
            return notebook_to_source(read_notebook(raw)).source
        return decode_text(raw)[0]
    except (OSError, NotebookError, ValueError):
        return None


def _template_sources(spec: Spec) -> list[str]:
    folder = template_dir(spec)
    if not folder.is_dir():
        return []
    return [t for p in sorted(folder.iterdir()) if p.suffix in (".py", ".ipynb") and (t := code_text(p))]


def integrity_report(spec: Spec, submissions: list[SubmissionInput], *, threshold: float) -> IntegrityReport:
    """Compare the code and logs of every pair of `submissions`."""
    code, artifacts, unreadable = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="dlgrade-integrity-") as tmp:
        for i, s in enumerate(submissions):
            ws = prepare_workspace(s.path, spec, Path(tmp) / str(i))
            if ws.error or not ws.code_file:
                unreadable.append(f"{s.id}: {ws.error or 'no code file'}")
                continue
            text = code_text(ws.original / ws.code_file)
            if text is None:
                unreadable.append(f"{s.id}: the code file could not be read")
                continue
            code[s.id] = text
            files = {}
            for p in sorted(ws.original.rglob("*")):
                rel = p.relative_to(ws.original).as_posix()
                if (p.is_file() and not p.is_symlink() and p.suffix.lower() in ARTIFACT_SUFFIXES
                        and any(fnmatch.fnmatch(p.name, g) for g in spec.submission.artifacts)):
                    with open(p, "rb") as f:
                        files[rel] = f.read(MAX_ARTIFACT_BYTES)
            artifacts[s.id] = files
    report = compare_submissions(code=code, artifacts=artifacts, base=_template_sources(spec), threshold=threshold)
    report.not_compared = sorted(unreadable + report.not_compared)
    return report


def write_integrity_csv(path: Path, report: IntegrityReport) -> None:
    """One row per pair; cells through grader.reports.spreadsheets.csv_text (submission ids are students' file names)."""
    rows = [INTEGRITY_COLUMNS] + [[p.kind, p.a, p.b, f"{p.similarity:.3f}", p.shared,
                                   "yes" if p.similarity >= report.threshold else "", p.detail] for p in report.pairs]
    write_atomic(path, csv_text(rows))
