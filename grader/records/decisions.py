"""Reviewers' decisions: the instructor's last word over the automatic result, kept in the gradebook.

Contract (the review app, `dlgrade adjust/decide/rubric/comment/decisions` and `grade` all use it):

- `Decision` is one row of the gradebook's `decisions` table. Every kind carries who, when (ISO 8601
  UTC) and why (`student_text`: what the student sees; `private_note`: the reviewer's, never shown
  to a student). Kinds and their `target`:
    adjust     a test's node id; `points` is the test's new score (0..the test's points), `basis` is
               `result_basis(row, nodeid)`: a digest of the automatic result it was made against
    rubric     a manual item's id (the spec's `manual:`); `points` is what the reviewer gave it
    comment    ""; `student_text` is a comment to the student
    integrity  the other submission of a flagged pair; `verdict` is "confirmed" or "cleared"
  `points=None` on an adjust or rubric decision withdraws it (the automatic result stands again; the
  rubric item awaits review again).
- `Decisions(gradebook_path)` reads and writes them. Every write is one SQLite transaction, so two
  writers at once (two browser tabs, the app beside `dlgrade adjust` or a running `grade`) lose
  nothing. Nothing is ever overwritten: `record` appends, and the latest decision of each
  (submission, kind, target) is the current one (`for_submission`, `all`); `history` has every one.
  An integrity decision is about a pair: it is stored once, under the pair's first id in sorted
  order, and `for_submission` returns it for both.
- `make_adjustment`, `make_rubric` and friends build checked decisions (the test exists, the points
  fit) and raise DecisionError, a ToolkitError whose message is for the reviewer.
- A regrade calls `flag_changed_results(row)`: an adjustment whose basis no longer matches the new
  automatic result gets `needs_rereview`. `final_score` never applies such an adjustment (it
  compares the basis itself too): the automatic result stands and the output says a decision
  awaits re-review. A new adjustment of the same test is the re-review.
- `final_score(row, decisions, manual_items)` is what every output shows: the automatic score, the
  adjustments, the rubric points, test by test, capped at the scale. A gradebook row's `max_score` is
  the tests' scale (`Spec.automatic_points`); the final scale adds the manual items (`Spec.max_points`).
  A late penalty (the deadline's) applies after this, to `FinalScore.score`.

This module is the store; the decision and its checks are in grader.records.decision_record, the CSV
form in grader.records.decisions_csv, the final score in grader.records.final_score. Their public
names are importable from here too, as every caller has always imported them.
"""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from grader.core.atomic_files import write_atomic
from grader.core.spec import ManualItem
from grader.records.decision_record import (KINDS, MAX_TEXT, VERDICTS, Decision, DecisionError, check_shape, checked,
                                            make_adjustment, now, result_basis)
from grader.records.decisions_csv import CSV_COLUMNS, decisions_csv_text, read_decisions_csv
from grader.records.final_score import FinalScore, RubricScore, TestScore, final_score
from grader.records.gradebook import GradebookRow, RosterRow, _Transaction, connect, meta_in, roster_in, rows_in

__all__ = ["CSV_COLUMNS", "KINDS", "MAX_TEXT", "VERDICTS", "Decision", "DecisionError", "Decisions", "FinalScore",
           "RubricScore", "TestScore", "check_shape", "checked", "final_score", "make_adjustment", "now",
           "read_decisions_csv", "result_basis"]


class Decisions:
    """The decisions and review state in the gradebook at `gradebook_path` (migrated if it is older).
    Safe beside a running `grade` and other writers: no lock of its own, one transaction per write."""

    def __init__(self, gradebook_path: Path):
        self.path = Path(gradebook_path)
        if not self.path.is_file():
            raise DecisionError(f"{self.path}: no gradebook here; run `dlgrade grade ... --out {self.path.parent}` first")
        self.db = connect(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Decisions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def rows(self) -> dict[str, GradebookRow]:
        """The gradebook's rows by submission (read without the `grade` lock: a snapshot)."""
        return {r.submission: r for r in rows_in(self.db)}

    def roster(self) -> list[RosterRow]:
        return roster_in(self.db)

    def assignment(self) -> str | None:
        """The assignment folder the last `grade` into this gradebook used (None before schema 2)."""
        return meta_in(self.db, "assignment")

    def record(self, decision: Decision) -> Decision:
        """Append `decision` (checked for shape, see `check_shape`); it becomes the current one for its
        (submission, kind, target). Returns it with its id (and `when` filled in if it was empty)."""
        decision = _normalised(decision)
        check_shape(decision)
        with _Transaction(self.db):
            return self._insert(decision)

    def _insert(self, d: Decision) -> Decision:
        """Append `d` (normalised and checked) inside the caller's transaction; `d` with its id."""
        cur = self.db.execute(
            "INSERT INTO decisions (submission, kind, target, points, verdict, student_text, private_note, who, "
            "decided_at, basis, needs_rereview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (d.submission, d.kind, d.target, d.points, d.verdict, d.student_text, d.private_note, d.who, d.when,
             d.basis, int(d.needs_rereview)))
        return replace(d, id=cur.lastrowid)

    def for_submission(self, submission: str) -> list[Decision]:
        """The current decisions about `submission`, integrity decisions of pairs it belongs to included."""
        return self._current("WHERE submission = ? OR (kind = 'integrity' AND target = ?)", (submission, submission))

    def all(self) -> list[Decision]:
        """The current decisions about every submission, ordered by submission, kind, target."""
        return self._current("", ())

    def history(self) -> list[Decision]:
        """Every decision ever recorded, oldest first (withdrawn and superseded ones included)."""
        return [_decision(r) for r in self.db.execute(f"SELECT {_SELECT} FROM decisions ORDER BY id")]

    def _current(self, where: str, args: tuple) -> list[Decision]:
        rows = self.db.execute(
            f"SELECT {_SELECT} FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions {where} "
            "GROUP BY submission, kind, target) ORDER BY submission, kind, target", args)
        return [_decision(r) for r in rows]

    def flag_changed_results(self, row: GradebookRow) -> list[Decision]:
        """After `row` was graded again: flag each current adjustment of it whose automatic result
        changed (or clear the flag where it is back to the basis). Returns the flagged ones."""
        flagged, changes = [], []
        for d in self.for_submission(row.submission):
            if d.kind != "adjust" or d.submission != row.submission:
                continue
            stale = d.points is not None and result_basis(row, d.target) != d.basis
            if stale != d.needs_rereview:
                changes.append((int(stale), d.id))
            if stale:
                flagged.append(replace(d, needs_rereview=True))
        if changes:   # by id: a newer decision recorded meanwhile is a re-review, and this one no longer counts
            with _Transaction(self.db):
                self.db.executemany("UPDATE decisions SET needs_rereview = ? WHERE id = ?", changes)
        return flagged

    def mark_reviewed(self, submission: str, who: str) -> None:
        with _Transaction(self.db):
            self.db.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?)", (submission, who, now()))

    def mark_unreviewed(self, submission: str) -> None:
        with _Transaction(self.db):
            self.db.execute("DELETE FROM reviews WHERE submission = ?", (submission,))

    def reviewed(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT submission FROM reviews")}

    def export_csv(self, path: Path) -> None:
        """The current decisions as CSV (CSV_COLUMNS), written atomically; `apply_csv` reads it back."""
        write_atomic(Path(path), decisions_csv_text(self.all()))

    def apply_csv(self, path: Path, who: str, rows: dict[str, GradebookRow] | None = None,
                  manual_items: list[ManualItem] | None = None) -> list[Decision]:
        """Record every decision of the CSV at `path` (columns as `export_csv` writes; `who`, `when`,
        `basis` and `needs_rereview` may be left out). All or nothing: every line is checked first,
        against `rows` and `manual_items` where given, and a bad line names its number. A line equal to
        the current decision is skipped, so applying an export again records nothing."""
        decisions = read_decisions_csv(Path(path), who=who)
        if rows is not None:
            decisions = [(n, checked(d, rows, manual_items or [], where=f"{path}, line {n}")) for n, d in decisions]
        current = {d.key: d for d in self.all()}
        new = [d for _, d in decisions if not _same_decision(current.get(_normalised(d).key), _normalised(d))]
        with _Transaction(self.db):
            return [self._insert(_normalised(d)) for d in new]


_SELECT = ("id, submission, kind, target, points, verdict, student_text, private_note, who, decided_at, basis, "
           "needs_rereview")


def _decision(r: sqlite3.Row | tuple) -> Decision:
    return Decision(id=r[0], submission=r[1], kind=r[2], target=r[3], points=r[4], verdict=r[5], student_text=r[6],
                    private_note=r[7], who=r[8], when=r[9], basis=r[10], needs_rereview=bool(r[11]))


def _normalised(d: Decision) -> Decision:
    """`when` filled in; an integrity pair stored under its first id in sorted order."""
    if not d.when:
        d = replace(d, when=now())
    if d.kind == "integrity" and d.target < d.submission:
        d = replace(d, submission=d.target, target=d.submission)
    return d


def _same_decision(a: Decision | None, b: Decision) -> bool:
    keep = ("points", "verdict", "student_text", "private_note")
    return a is not None and all(getattr(a, k) == getattr(b, k) for k in keep)
