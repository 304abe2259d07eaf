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
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from grader.core.atomic_files import write_atomic
from grader.core.errors import ToolkitError
from grader.core.lateness import Lateness, apply_late_policy
from grader.core.spec import ManualItem
from grader.records.gradebook import GradebookRow, RosterRow, _Transaction, connect, meta_in, roster_in, rows_in

KINDS = ("adjust", "rubric", "comment", "integrity")
VERDICTS = ("confirmed", "cleared")
CSV_COLUMNS = ["submission", "kind", "target", "points", "verdict", "student_text", "private_note", "who", "when",
               "basis", "needs_rereview"]
MAX_TEXT = 4000   # characters of a comment or note: a reviewer's paragraph, not a file pasted by mistake


class DecisionError(ToolkitError):
    """A decision that cannot be recorded: an unknown submission, test or item, points out of range."""


@dataclass(frozen=True)
class Decision:
    """One reviewer's decision about one submission (see the module's docstring for each kind)."""
    id: int | None
    submission: str          # the gradebook's submission key
    kind: str                # "adjust" | "rubric" | "comment" | "integrity"
    target: str              # adjust: test node id; rubric: manual item id; comment: ""; integrity: the other submission
    points: float | None     # adjust: the test's new points; rubric: the points given; else None (None withdraws)
    verdict: str | None      # integrity: "confirmed" | "cleared"; else None
    student_text: str        # what the student sees (the reason or comment in the feedback)
    private_note: str        # the reviewer's note, never shown to the student
    who: str
    when: str                # ISO 8601 UTC
    basis: str | None = None         # adjust: result_basis() of the automatic result it was made against
    needs_rereview: bool = False     # set by a regrade when the automatic result under an adjustment changed

    @property
    def key(self) -> tuple[str, str, str]:
        return self.submission, self.kind, self.target


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def result_basis(row: GradebookRow, nodeid: str) -> str | None:
    """A digest of test `nodeid`'s automatic result in `row` (points, score, status, message), or None
    when the row has no such test: what an adjustment was made against."""
    test = next((t for t in row.tests if t["nodeid"] == nodeid), None)
    if test is None:
        return None
    data = [test["points"], test["score"], test["status"], test.get("message", "")]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:16]


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
            cur = self.db.execute(
                "INSERT INTO decisions (submission, kind, target, points, verdict, student_text, private_note, who, "
                "decided_at, basis, needs_rereview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.submission, decision.kind, decision.target, decision.points, decision.verdict,
                 decision.student_text, decision.private_note, decision.who, decision.when, decision.basis,
                 int(decision.needs_rereview)))
        return replace(decision, id=cur.lastrowid)

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
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        for d in self.all():
            writer.writerow([_inert(c) for c in (
                d.submission, d.kind, d.target, "" if d.points is None else f"{d.points:g}", d.verdict or "",
                d.student_text, d.private_note, d.who, d.when, d.basis or "", "yes" if d.needs_rereview else "")])
        write_atomic(Path(path), buf.getvalue())

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
        recorded = []
        with _Transaction(self.db):
            for d in new:
                d = _normalised(d)
                cur = self.db.execute(
                    "INSERT INTO decisions (submission, kind, target, points, verdict, student_text, private_note, "
                    "who, decided_at, basis, needs_rereview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.submission, d.kind, d.target, d.points, d.verdict, d.student_text, d.private_note, d.who,
                     d.when, d.basis, int(d.needs_rereview)))
                recorded.append(replace(d, id=cur.lastrowid))
        return recorded


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


def check_shape(d: Decision) -> None:
    """What any decision must look like, whatever the gradebook holds; raises DecisionError."""
    if d.kind not in KINDS:
        raise DecisionError(f"unknown decision kind {d.kind!r}; one of {', '.join(KINDS)}")
    if not d.submission:
        raise DecisionError("a decision needs a submission")
    if not d.who.strip():
        raise DecisionError("a decision needs who made it")
    if len(d.student_text) > MAX_TEXT or len(d.private_note) > MAX_TEXT:
        raise DecisionError(f"a comment or note is at most {MAX_TEXT} characters")
    if d.kind in ("adjust", "rubric"):
        if not d.target:
            raise DecisionError(f"a {d.kind} decision needs its {'test' if d.kind == 'adjust' else 'rubric item'}")
        if d.points is not None and not (d.points >= 0 and d.points < float("inf")):
            raise DecisionError(f"points must be a number of 0 or more (got {d.points!r})")
        if d.verdict is not None:
            raise DecisionError(f"a {d.kind} decision has no verdict")
    if d.kind == "adjust" and d.points is not None and not d.student_text.strip():
        raise DecisionError("an adjustment needs a reason the student sees (--reason)")
    if d.kind == "comment" and (d.target or d.points is not None or d.verdict is not None):
        raise DecisionError("a comment has only its text")
    if d.kind == "integrity":
        if d.verdict not in VERDICTS:
            raise DecisionError(f"an integrity decision is {' or '.join(VERDICTS)} (got {d.verdict!r})")
        if not d.target or d.target == d.submission:
            raise DecisionError("an integrity decision names the two submissions of the pair")
        if d.points is not None:
            raise DecisionError("an integrity decision has no points")


def checked(d: Decision, rows: dict[str, GradebookRow], manual_items: list[ManualItem], *, where: str = "") -> Decision:
    """`d` checked against the gradebook (`rows` by submission) and the spec's manual items; an
    adjustment without a basis gets the current one. Raises DecisionError naming what is unknown."""
    prefix = f"{where}: " if where else ""
    try:
        check_shape(d)
    except DecisionError as e:
        raise DecisionError(prefix + str(e)) from None
    row = rows.get(d.submission)
    if row is None:
        raise DecisionError(f"{prefix}no submission {d.submission!r} in the gradebook ({_some(rows)})")
    if d.kind == "adjust":
        test = next((t for t in row.tests if t["nodeid"] == d.target), None)
        if test is None:
            raise DecisionError(f"{prefix}{d.submission} has no test {d.target!r} "
                                f"({_some({t['nodeid']: None for t in row.tests})})")
        if d.points is not None and d.points > test["points"]:
            raise DecisionError(f"{prefix}{d.target} is worth {test['points']:g} points; cannot give {d.points:g}")
        if not d.basis:
            d = replace(d, basis=result_basis(row, d.target))
    elif d.kind == "rubric":
        item = next((i for i in manual_items if i.id == d.target), None)
        if item is None:
            raise DecisionError(f"{prefix}no rubric item {d.target!r} in the spec's manual: "
                                f"({', '.join(i.id for i in manual_items) or 'it has none'})")
        if d.points is not None and d.points > item.points:
            raise DecisionError(f"{prefix}rubric item {item.id} is worth {item.points:g} points; cannot give {d.points:g}")
    elif d.kind == "integrity" and d.target not in rows:
        raise DecisionError(f"{prefix}no submission {d.target!r} in the gradebook ({_some(rows)})")
    return d


def _some(names) -> str:
    names = sorted(names)
    if not names:
        return "it is empty"
    return "known: " + ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def make_adjustment(row: GradebookRow, nodeid: str, points: float | None, *, reason: str, note: str = "",
                    who: str) -> Decision:
    """An adjustment of test `nodeid` of `row` to `points`, made against its current automatic result."""
    d = Decision(None, row.submission, "adjust", nodeid, points, None, reason, note, who, now(), None)
    return checked(d, {row.submission: row}, [])


def read_decisions_csv(path: Path, *, who: str) -> list[tuple[int, Decision]]:
    """(line number, decision) for every data line of a decisions CSV; raises DecisionError naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DecisionError(f"{path}: cannot read it ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("submission", "kind") if c not in (reader.fieldnames or [])]
    if missing:
        raise DecisionError(f"{path}: no {missing[0]!r} column; the columns are {', '.join(CSV_COLUMNS)}")
    out = []
    for line in reader:
        n = reader.line_num
        cell = {k: _unsafe((v or "").strip()) for k, v in line.items() if k}
        try:
            points = float(cell["points"]) if cell.get("points") else None
        except ValueError:
            raise DecisionError(f"{path}, line {n}: points {cell['points']!r} is not a number") from None
        d = Decision(None, cell["submission"], cell["kind"], cell.get("target", ""), points, cell.get("verdict") or None,
                     cell.get("student_text", ""), cell.get("private_note", ""), cell.get("who") or who,
                     cell.get("when") or now(), cell.get("basis") or None, cell.get("needs_rereview", "") == "yes")
        try:
            check_shape(d)
        except DecisionError as e:
            raise DecisionError(f"{path}, line {n}: {e}") from None
        out.append((n, d))
    return out


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text: submission ids and comments come from students and reviewers,
    and `=HYPERLINK(...)` must not become a formula when the export is opened (undone by `_unsafe`)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def _unsafe(cell: str) -> str:
    """A cell as exported, without the quote that kept a formula-like text inert in a spreadsheet."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@") else cell


# --- the final score: what every output shows ------------------------------------------------------

@dataclass
class TestScore:
    """One test as the student's outputs show it after review."""
    nodeid: str
    name: str
    points: float
    automatic: float               # what the automatic grading gave
    score: float                   # what counts: the adjustment where one applies, else `automatic`
    status: str
    visibility: str
    reason: str = ""               # the adjustment's reason for the student
    adjusted: bool = False
    needs_rereview: bool = False   # an adjustment exists but the automatic result changed under it


@dataclass
class RubricScore:
    """One manual rubric item: None points while it awaits review."""
    id: str
    description: str
    points: float
    given: float | None = None
    comment: str = ""

    @property
    def awaiting_review(self) -> bool:
        return self.given is None


@dataclass
class FinalScore:
    """A submission's score after review, with every part a report shows."""
    submission: str
    automatic: float
    score: float
    max_score: float
    tests: list[TestScore] = field(default_factory=list)
    rubric: list[RubricScore] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)           # to the student
    integrity: list[Decision] = field(default_factory=list)     # confirmed or cleared pairs (instructors' eyes only)
    capped: bool = False                                         # the sum exceeded the scale
    late_note: str = ""            # what the late policy took (grader.core.lateness), "" when nothing
    before_late: float = 0.0       # the score before the late policy

    @property
    def awaiting_review(self) -> list[str]:
        return [r.id for r in self.rubric if r.awaiting_review]

    @property
    def needs_rereview(self) -> list[str]:
        return [t.nodeid for t in self.tests if t.needs_rereview]

    @property
    def adjusted(self) -> list[TestScore]:
        return [t for t in self.tests if t.adjusted]

    @property
    def reviewed_parts(self) -> bool:
        """Anything a person decided that changes what the student sees."""
        return bool(self.adjusted or any(not r.awaiting_review for r in self.rubric) or self.comments)

    def to_json(self) -> dict:
        """For results.json/result.json: no private note, no integrity decision."""
        return {"automatic_score": self.automatic, "score": self.score, "max_score": self.max_score,
                "adjustments": [{"nodeid": t.nodeid, "name": t.name, "automatic": t.automatic, "score": t.score,
                                 "reason": t.reason} for t in self.adjusted],
                "rubric": [{"id": r.id, "description": r.description, "points": r.points, "given": r.given,
                            "comment": r.comment, "awaiting_review": r.awaiting_review} for r in self.rubric],
                "comments": list(self.comments),
                "awaiting_rereview": [t.name for t in self.tests if t.needs_rereview], "late_note": self.late_note}


def final_score(row: GradebookRow, decisions: list[Decision], manual_items: list[ManualItem]) -> FinalScore:
    """The automatic result of `row` with the current `decisions` about it applied: each adjustment
    whose basis still matches (else the automatic score stands and the test needs re-review), each
    rubric item's points (none while it awaits review), capped at the scale: the row's (the tests')
    plus the manual items'."""
    current = {d.key: d for d in decisions if d.submission == row.submission or d.kind == "integrity"}
    tests = []
    for t in row.tests:
        adj = current.get((row.submission, "adjust", t["nodeid"]))
        score = TestScore(t["nodeid"], t["name"], t["points"], t["score"], t["score"], t["status"],
                          t.get("visibility", "visible"))
        if adj is not None and adj.points is not None:
            if adj.needs_rereview or result_basis(row, t["nodeid"]) != adj.basis:
                score.needs_rereview = True
            else:
                score.score, score.reason, score.adjusted = min(adj.points, t["points"]), adj.student_text, True
        tests.append(score)
    rubric = []
    for item in manual_items:
        given = current.get((row.submission, "rubric", item.id))
        points = None if given is None or given.points is None else min(given.points, item.points)
        rubric.append(RubricScore(item.id, item.description, item.points, points,
                                  given.student_text if given is not None and points is not None else ""))
    comment = current.get((row.submission, "comment", ""))
    total = sum(t.score for t in tests) + sum(r.given or 0.0 for r in rubric)
    # the row's scale is the tests' (spec.automatic_points): the manual items are on top of it
    scale = (row.max_score or sum(t["points"] for t in row.tests)) + sum(i.points for i in manual_items)
    before_late = round(min(total, scale), 4)
    late_score, late_note = _late(row, before_late, scale)
    return FinalScore(
        submission=row.submission, automatic=row.score, score=late_score, max_score=scale, late_note=late_note,
        before_late=before_late,
        tests=tests, rubric=rubric, comments=[comment.student_text] if comment and comment.student_text.strip() else [],
        integrity=[d for d in decisions if d.kind == "integrity" and row.submission in (d.submission, d.target)],
        capped=total > scale + 1e-9)


def _late(row: GradebookRow, score: float, scale: float) -> tuple[float, str]:
    """The late policy, last: after the automatic score, the adjustments and the rubric points."""
    return apply_late_policy(score, scale, Lateness.from_json(row.late))
