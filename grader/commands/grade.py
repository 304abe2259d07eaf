"""`grade`: the instructor's run over many submissions, public and hidden tests.

Writes, per submission, `OUT/<id>/results.json` (Gradescope format), `OUT/<id>/feedback.md`
(with `images/`) and `OUT/<id>/result.json` (everything, for tools); and `OUT/grades.csv`,
rewritten atomically after every submission so an interrupted run keeps what finished.
"""
from __future__ import annotations

import csv
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.assignments import find_assignment
from grader.errors import ToolkitError
from grader.feedback import feedback_markdown
from grader.results import SubmissionResult, write_atomic, write_json
from grader.runner import RunOptions, grade_submission
from grader.sandbox import require_isolation
from grader.workspace import submission_id

CODE_SUFFIXES = (".py", ".ipynb", ".zip")
CSV_COLUMNS = ["submission", "score", "max_score", "status", "reason"]


@dataclass
class GradeReport:
    out: Path
    results: list[SubmissionResult] = field(default_factory=list)
    isolation_warning: str | None = None

    @property
    def failed(self) -> list[SubmissionResult]:
        return [r for r in self.results if r.status != "graded"]


def collect_submissions(paths: list[Path]) -> list[Path]:
    """Files are submissions; a folder is a collection holding one file or folder per student."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if not p.exists() and not p.is_symlink():
            raise ToolkitError(f"{p}: no such file or folder")
        if p.is_dir() and not p.is_symlink():
            found += [c for c in sorted(p.iterdir()) if not c.name.startswith((".", "__MACOSX"))]
        else:
            found.append(p)
    ids = [submission_id(p) for p in found]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ToolkitError(f"two submissions share the id {sorted(dupes)[0]!r}; rename one of them")
    return found


def grade_submissions(*, assignment: str | Path, submissions: list[Path], out: Path, jobs: int = 1,
                      mode: str | None = None, data_dir: Path | None = None, sandbox: str = "auto",
                      gpus: list[str] | None = None,
                      on_start: Callable[[int], None] | None = None,
                      on_result: Callable[[SubmissionResult], None] | None = None) -> GradeReport:
    """Grade every submission with public and hidden tests and write the outputs under `out`.

    Raises ToolkitError before any work if the assignment, mode, paths or sandbox are unusable."""
    spec = find_assignment(assignment)
    spec.mode(mode)
    if jobs < 1:
        raise ToolkitError("-j must be at least 1")
    iso = require_isolation(sandbox)
    paths = collect_submissions(submissions)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = GradeReport(out, isolation_warning=iso.warning if sandbox != "off" else "sandbox is off")
    if on_start:
        on_start(len(paths))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    lock = threading.Lock()
    gpu_pool = list(gpus or [])

    def one(path: Path) -> SubmissionResult:
        sid = submission_id(path)
        gpu = None
        if gpu_pool:
            with lock:
                gpu = gpu_pool.pop(0)
        try:
            options = RunOptions(mode=mode, data_dir=data_dir, include_hidden=True, sandbox=sandbox,
                                 gpu=gpu, threads=threads, keep=out / sid)
            try:
                result = grade_submission(spec, path, options)
            except Exception as e:  # noqa: BLE001 - one broken submission must not stop the batch
                result = SubmissionResult(sid, spec.name, mode or spec.default_mode, status="error",
                                          reason=f"internal grading error: {type(e).__name__}: {e}",
                                          total_points=spec.points)
            write_outputs(result, out / sid, title=spec.title)
            with lock:
                report.results.append(result)
                write_gradebook(out / "grades.csv", report.results)
            if on_result:
                on_result(result)
            return result
        finally:
            if gpu is not None:
                with lock:
                    gpu_pool.append(gpu)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, paths))
    report.results.sort(key=lambda r: r.submission)
    write_gradebook(out / "grades.csv", report.results)
    return report


def write_outputs(result: SubmissionResult, folder: Path, *, title: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "results.json", result.to_gradescope())
    write_json(folder / "result.json", result.to_json())
    write_atomic(folder / "feedback.md", feedback_markdown(result, title=title))


def write_gradebook(path: Path, results: list[SubmissionResult]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in sorted(results, key=lambda r: r.submission):
        writer.writerow([r.submission, f"{r.score:g}", f"{r.max_score:g}", r.status, r.reason.replace("\n", " ")])
    write_atomic(path, buf.getvalue())
