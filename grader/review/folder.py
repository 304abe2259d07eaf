"""A grading folder as the review app reads it: the gradebook's rows, each submission's result.json and
pictures, and the flagged pairs of integrity.csv.

Threats: every id, file name and message here was chosen by a student. A submission is looked up only
by an id the gradebook holds; a picture only by a name found by listing that submission's `images/`
folder (never by joining a path from the request), and only a regular file inside the folder is
served. The gradebook is read without `grade`'s file lock (grader.records.gradebook's lock-free read
functions, a snapshot per read): the pages answer while `grade` runs, and a `grade` started while a page
is being made is not refused.
"""
from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.core.assignments import find_assignment
from grader.core.errors import ToolkitError
from grader.core.spec import Spec
from grader.records.gradebook import GRADEBOOK_FILE, GradebookRow, connect, row_in, rows_in

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}   # no SVG: a picture must not be able to carry script
MAX_RESULT_BYTES = 16 * 2 ** 20       # a result.json larger than this was not written by `grade`


@dataclass(frozen=True)
class FlaggedPair:
    """One row of integrity.csv at or above the threshold."""
    kind: str            # "code", "artifact" (logs) or "prose"
    a: str
    b: str
    similarity: float    # 0..1
    shared: str          # what the comparison counted (fingerprints, records, shingles)
    detail: str

    @property
    def key(self) -> str:
        """The pair's name in URLs and decisions: kind, then both ids."""
        return f"{self.kind}:{self.a}:{self.b}"


class GradingFolder:
    """One `grade --out` folder. Raises ToolkitError when `out` holds no gradebook."""

    def __init__(self, out: Path, *, assignment: str | Path | None = None):
        self.out = Path(out).resolve()
        self.gradebook_path = self.out / GRADEBOOK_FILE
        if not self.gradebook_path.is_file():
            raise ToolkitError(f"{out} holds no {GRADEBOOK_FILE}: give the folder `grade --out` wrote")
        self._assignment = assignment
        self._spec: Spec | None = None
        self.spec_problem = ""

    @contextmanager
    def gradebook(self) -> Iterator[sqlite3.Connection]:
        """The gradebook opened for one short read, without the lock a running `grade` holds."""
        db = connect(self.gradebook_path)
        try:
            yield db
        finally:
            db.close()

    def rows(self) -> list[GradebookRow]:
        with self.gradebook() as db:
            return rows_in(db)

    def row(self, submission: str) -> GradebookRow | None:
        with self.gradebook() as db:
            return row_in(db, submission)

    def spec(self) -> Spec | None:
        """The assignment graded here: the one given to `review`, else the one result.json names."""
        if self._spec is not None or self.spec_problem:
            return self._spec
        name = self._assignment or next((r.get("assignment") for r in map(self._any_result, self._folders()) if r), None)
        try:
            if not name:
                raise ToolkitError("no result.json names the assignment")
            self._spec = find_assignment(name)
        except ToolkitError as e:
            self.spec_problem = (f"the assignment is not known here ({e}); start the review with "
                                 "--assignment PATH to see the code, the pairs' regions and the rubric items")
        return self._spec

    def _folders(self) -> list[Path]:
        return sorted(p for p in self.out.iterdir() if p.is_dir() and not p.is_symlink())

    def _any_result(self, folder: Path) -> dict:
        return _read_json(folder / "result.json")

    def folder_of(self, submission: str) -> Path | None:
        """OUT/<id>/ for an id the caller took from the gradebook; None for anything that is not a plain child."""
        folder = self.out / submission
        if "/" in submission or submission in ("", ".", "..") or folder.is_symlink() or not folder.is_dir():
            return None
        return folder

    def result(self, submission: str) -> dict:
        """The submission's result.json ({} when missing or unreadable)."""
        folder = self.folder_of(submission)
        return _read_json(folder / "result.json") if folder else {}

    def image(self, submission: str, name: str) -> tuple[Path, str] | None:
        """(path, media type) of the picture `name` among OUT/<id>/images/, or None (a path, a link, another type)."""
        folder = self.folder_of(submission)
        images = folder / "images" if folder else None
        if images is None or images.is_symlink() or not images.is_dir():
            return None
        for entry in images.iterdir():   # the name must be one listed here: no path is built from it
            if entry.name == name and not entry.is_symlink() and entry.is_file() and entry.suffix.lower() in IMAGE_TYPES:
                return entry, IMAGE_TYPES[entry.suffix.lower()]
        return None

    def flagged_pairs(self) -> list[FlaggedPair]:
        """The flagged rows of integrity.csv, most similar first (ids as the gradebook spells them)."""
        path = self.out / "integrity.csv"
        if not path.is_file():
            return []
        pairs = []
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.DictReader(f):
                if row.get("flagged") != "yes":
                    continue
                try:
                    similarity = float(row.get("similarity") or 0)
                except ValueError:
                    continue
                pairs.append(FlaggedPair(_cell(row.get("kind", "")), _cell(row.get("submission_a", "")),
                                         _cell(row.get("submission_b", "")), similarity, row.get("shared", ""),
                                         _cell(row.get("detail", ""))))
        return sorted(pairs, key=lambda p: (-p.similarity, p.kind, p.a, p.b))


def _cell(text: str) -> str:
    """A CSV cell as written before grader.reports.safe_text.csv_cell put an apostrophe before a formula."""
    return text[1:] if text[:2] in ("'=", "'+", "'-", "'@", "'\t", "'\r") else text


def _read_json(path: Path) -> dict:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
