"""The integrity report of a `grade` run: every submission's code file, logs and write-ups read
exactly as grading reads them (zips unpacked safely, notebooks converted, the same code-file globs),
compared pair by pair (`grader.integrity.similarity`: code as fingerprints of a normalised syntax tree,
logs as records with tolerances, write-ups as five-word shingles); grader.reports.integrity_csv
writes it to `OUT/integrity.csv`. The template students started from is the base whose code does not count; the
assignment's README and the template's text are the base whose prose does not count."""
from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

from grader.core.assignments import template_dir
from grader.intake.discovery import SubmissionInput
from grader.intake.notebooks import NotebookError, decode_text, notebook_to_source, read_notebook
from grader.integrity.log_records import MAX_ARTIFACT_BYTES
from grader.integrity.prose import MAX_PROSE_BYTES, PROSE_SUFFIXES
from grader.integrity.similarity import ARTIFACT_SUFFIXES, IntegrityReport, compare_submissions
from grader.core.spec import Spec
from grader.intake.workspace import prepare_workspace


def code_text(path: Path) -> str | None:
    """A notebook's code cells or a script's text; None when it cannot be read."""
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".ipynb":
            return notebook_to_source(read_notebook(raw)).source
        return decode_text(raw)[0]
    except (OSError, NotebookError, ValueError):
        return None


def markdown_text(path: Path) -> str:
    """A notebook's markdown cells (a student's write-up inside the notebook); '' when there are none."""
    try:
        cells = read_notebook(path.read_bytes()).cells
    except (OSError, NotebookError, ValueError):
        return ""
    texts = [c.get("source", "") for c in cells if isinstance(c, dict) and c.get("cell_type") == "markdown"]
    return "\n\n".join(t if isinstance(t, str) else "".join(map(str, t)) for t in texts)[:MAX_PROSE_BYTES]


def _template_sources(spec: Spec) -> list[str]:
    folder = template_dir(spec)
    if not folder.is_dir():
        return []
    return [t for p in sorted(folder.iterdir()) if p.suffix in (".py", ".ipynb") and (t := code_text(p))]


def _task_text(spec: Spec) -> list[str]:
    """The text every student is given: the assignment's README, the template's files (code, markdown)."""
    texts = []
    readme = spec.path.parent / "README.md"
    if readme.is_file():
        texts.append(decode_text(readme.read_bytes()[:MAX_PROSE_BYTES])[0])
    folder = template_dir(spec)
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p.suffix.lower() == ".ipynb":
            texts.append(markdown_text(p))
        if p.suffix.lower() in (".py", ".ipynb", *PROSE_SUFFIXES) and p.is_file():
            texts.append(code_text(p) or "")
    return texts


def _read_files(root: Path, spec: Spec, suffixes: tuple[str, ...], limit: int) -> dict[str, bytes]:
    """The submission's files with these suffixes that the spec's artifact globs name, `limit` bytes each."""
    files = {}
    for p in sorted(root.rglob("*")):
        if (p.is_file() and not p.is_symlink() and p.suffix.lower() in suffixes
                and any(fnmatch.fnmatch(p.name, g) for g in spec.submission.artifacts)):
            with open(p, "rb") as f:
                files[p.relative_to(root).as_posix()] = f.read(limit)
    return files


def integrity_report(spec: Spec, submissions: list[SubmissionInput], *, threshold: float) -> IntegrityReport:
    """Compare the code, logs and write-ups of every pair of `submissions`."""
    code, names, artifacts, prose, unreadable = {}, {}, {}, {}, []
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
            code[s.id], names[s.id] = text, ws.code_file
            artifacts[s.id] = _read_files(ws.original, spec, ARTIFACT_SUFFIXES, MAX_ARTIFACT_BYTES)
            writing = {name: decode_text(data)[0]
                       for name, data in _read_files(ws.original, spec, PROSE_SUFFIXES, MAX_PROSE_BYTES).items()}
            if ws.code_file.lower().endswith(".ipynb") and (cells := markdown_text(ws.original / ws.code_file)):
                writing[f"{ws.code_file} (markdown cells)"] = cells
            prose[s.id] = writing
    report = compare_submissions(code=code, artifacts=artifacts, prose=prose, base=_template_sources(spec),
                                 prose_base=_task_text(spec), code_names=names, threshold=threshold)
    report.not_compared = sorted(unreadable + report.not_compared)
    return report
