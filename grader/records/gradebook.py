"""The gradebook: `OUT/gradebook.sqlite`, the memory of every `grade` run into one folder.

One row per submission, written in one transaction when the submission finishes, so a run
that is interrupted in any way (Ctrl-C, `kill -9`, a power cut) keeps every row it committed
and a re-run grades only what is missing or changed. SQLite in WAL mode with full sync: a
committed row survives the process, a half-written one never appears. The CSV and HTML
outputs are all regenerated from here, so they include the rows of earlier runs.

Only one `grade` run may write to a gradebook at a time (the first one holds a lock). The same file
holds the reviewers' decisions and review state (grader.records.decisions), which other processes (the
review app, `dlgrade adjust`) write beside a running `grade`, each in its own transaction.

Schema versions: 1 had `submissions`, `roster` and `meta`; 2 adds `decisions` and `reviews`. An older
file is migrated in place, in one transaction, when it is opened (`connect`); its rows stay as they are.
A row's tests are stored as `GradebookTest.to_json()` (grader.core.gradebook_tests) and decoded and
checked when the row is read; tests written before that contract (no version) still read as they are.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from grader.core.contracts import ContractError
from grader.core.errors import ToolkitError
from grader.core.gradebook_tests import GradebookTest
from grader.core.results import SubmissionResult

GRADEBOOK_FILE = "gradebook.sqlite"
SCHEMA_VERSION = 2
TIMING_FIELDS = ("duration", "graded_at", "test_durations")   # differ between two runs of the same grading


@dataclass
class GradebookRow:
    """One submission's verdict as the gradebook keeps it."""
    submission: str            # the submission id (the key)
    status: str                # "graded", "rejected", "timeout" or "error"
    score: float
    max_score: float
    reason: str                # one line when something went wrong
    tests: list[GradebookTest] = field(default_factory=list)   # stored as their to_json(), decoded on reading
    test_durations: dict = field(default_factory=dict)   # nodeid -> seconds
    duration: float = 0.0      # seconds for the whole submission
    graded_at: str = ""        # ISO 8601, UTC
    grader_version: str = ""   # grader.records.freshness.grader_version: toolkit version + assignment hash
    content_hash: str = ""     # grader.records.freshness.submission_hash of what was graded
    mode: str = ""             # the data mode it was graded in
    name: str = ""             # the student's name where the input says it (a Moodle folder name)
    participant: str = ""      # Moodle's participant number, where known
    source: str = ""           # the submission's path as given to `grade`
    isolation: str = ""        # the sandbox rung it was graded on (grader.boundary.sandbox.LEVELS)
    late: dict = field(default_factory=dict)   # grader.core.lateness.Lateness.to_json(); {} = no deadline

    def without_timing(self) -> dict:
        """The row minus the fields that differ between two gradings of the same thing."""
        return {k: v for k, v in asdict(self).items() if k not in TIMING_FIELDS}


@dataclass
class RosterRow:
    """One student of the course roster (see grader.records.roster)."""
    id: str
    name: str = ""
    email: str = ""
    extension_days: float = 0.0   # days added to the spec's deadline for this student
    deadline: str = ""            # this student's own deadline (ISO 8601 with zone), instead of the spec's


def row_from_result(result: SubmissionResult, *, grader_version: str, content_hash: str, name: str = "",
                    participant: str = "", source: str = "") -> GradebookRow:
    return GradebookRow(
        submission=result.submission, status=result.status, score=result.score, max_score=result.max_score,
        reason=result.reason.replace("\n", " "), tests=[GradebookTest.from_result(t) for t in result.tests],
        test_durations={t.nodeid: round(t.duration, 3) for t in result.tests}, duration=round(result.duration, 3),
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), grader_version=grader_version,
        content_hash=content_hash, mode=result.mode, name=name, participant=participant, source=source,
        isolation=result.isolation, late=result.late)


_JSON_FIELDS = ("tests", "test_durations", "late")
_COLUMNS = [f.name for f in fields(GradebookRow)]
_TYPES = {"score": "REAL", "max_score": "REAL", "duration": "REAL"}


class Gradebook:
    """The SQLite gradebook of one output folder. Use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an advisory lock the kernel drops with the process, however it ends
        self._lock = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise ToolkitError(f"{self.path}: another `grade` run is writing to this gradebook; "
                               "wait for it or grade into another folder") from None
        self.db: sqlite3.Connection | None = None
        try:
            self.db = connect(self.path)
        except BaseException:
            os.close(self._lock)
            raise

    def _transaction(self):
        return _Transaction(self.db)

    def record(self, row: GradebookRow) -> None:
        """Insert or replace one submission's row, in one transaction."""
        values = [json.dumps(_stored(row, c), ensure_ascii=False) if c in _JSON_FIELDS else getattr(row, c)
                  for c in _COLUMNS]
        with self._transaction():
            self.db.execute(f"INSERT OR REPLACE INTO submissions ({', '.join(_COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)

    def get(self, submission: str) -> GradebookRow | None:
        return row_in(self.db, submission)

    def rows(self) -> list[GradebookRow]:
        """Every row, sorted by submission id."""
        return rows_in(self.db)

    def set_roster(self, roster: list[RosterRow]) -> None:
        """Replace the stored roster (a later run without --roster uses this one)."""
        with self._transaction():
            self.db.execute("DELETE FROM roster")
            self.db.executemany("INSERT INTO roster (id, name, email, position, extension_days, deadline) "
                                "VALUES (?, ?, ?, ?, ?, ?)",
                                [(r.id, r.name, r.email, i, r.extension_days, r.deadline)
                                 for i, r in enumerate(roster)])

    def roster(self) -> list[RosterRow]:
        return roster_in(self.db)

    def set_meta(self, key: str, value: str) -> None:
        """Remember `value` under `key` (e.g. "assignment": the spec folder `grade` graded with)."""
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.db.close()
        os.close(self._lock)

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(path: Path) -> sqlite3.Connection:
    """An open connection to the gradebook at `path` (created if missing), migrated to SCHEMA_VERSION.

    Takes no lock: `Gradebook` adds the one-`grade`-at-a-time lock, grader.records.decisions needs none
    (every write is one BEGIN IMMEDIATE transaction, which SQLite serialises across processes)."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        columns = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" + (" PRIMARY KEY" if c == "submission" else "")
                            for c in _COLUMNS)
        with _Transaction(db):
            db.execute(f"CREATE TABLE IF NOT EXISTS submissions ({columns})")
            have = {r[1] for r in db.execute("PRAGMA table_info(submissions)")}
            for c in _COLUMNS:  # columns added since the gradebook was made (they start empty)
                if c not in have:
                    db.execute(f"ALTER TABLE submissions ADD COLUMN {c} {_TYPES.get(c, 'TEXT')} DEFAULT ''")
            db.execute("CREATE TABLE IF NOT EXISTS roster (id TEXT PRIMARY KEY, name TEXT, email TEXT, position INTEGER)")
            have = {r[1] for r in db.execute("PRAGMA table_info(roster)")}
            for column, kind in (("extension_days", "REAL DEFAULT 0"), ("deadline", "TEXT DEFAULT ''")):
                if column not in have:  # per-student deadlines (grader.intake.deadlines), added in place
                    db.execute(f"ALTER TABLE roster ADD COLUMN {column} {kind}")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = int(found[0]) if found and found[0].isdigit() else (None if found is None else -1)
            if version is not None and not 1 <= version <= SCHEMA_VERSION:
                raise ToolkitError(f"{path}: gradebook schema {found[0]}, this toolkit reads 1 to {SCHEMA_VERSION}; "
                                   "use the toolkit that wrote it, or grade into a new output folder")
            _migrate_to_2(db)  # idempotent: a new file and a version-1 file both end at 2
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    except BaseException as e:
        db.close()
        if isinstance(e, sqlite3.DatabaseError):
            raise ToolkitError(f"{path}: not a usable gradebook ({e})") from None
        raise
    return db


def rows_in(db: sqlite3.Connection) -> list[GradebookRow]:
    """Every submission row of an open gradebook (see `connect`), sorted by submission id."""
    cur = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM submissions ORDER BY submission")
    return [_row(db, r) for r in cur.fetchall()]


def row_in(db: sqlite3.Connection, submission: str) -> GradebookRow | None:
    """One submission's row of an open gradebook, or None."""
    cur = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM submissions WHERE submission = ?", (submission,))
    found = cur.fetchone()
    return _row(db, found) if found else None


def roster_in(db: sqlite3.Connection) -> list[RosterRow]:
    """The stored roster of an open gradebook, in its order."""
    cur = db.execute("SELECT id, name, email, extension_days, deadline FROM roster ORDER BY position")
    return [RosterRow(*r) for r in cur.fetchall()]


def meta_in(db: sqlite3.Connection, key: str) -> str | None:
    found = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return found[0] if found else None


def _migrate_to_2(db: sqlite3.Connection) -> None:
    """Version 2: reviewers' decisions (every one kept, the latest per submission, kind and target
    counts) and which submissions a reviewer has finished. See grader.records.decisions."""
    db.execute("CREATE TABLE IF NOT EXISTS decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, submission TEXT NOT NULL, "
               "kind TEXT NOT NULL, target TEXT NOT NULL, points REAL, verdict TEXT, student_text TEXT NOT NULL, "
               "private_note TEXT NOT NULL, who TEXT NOT NULL, decided_at TEXT NOT NULL, basis TEXT, "
               "needs_rereview INTEGER NOT NULL DEFAULT 0)")
    db.execute("CREATE INDEX IF NOT EXISTS decisions_by_key ON decisions (submission, kind, target, id)")
    db.execute("CREATE TABLE IF NOT EXISTS reviews (submission TEXT PRIMARY KEY, who TEXT NOT NULL, "
               "reviewed_at TEXT NOT NULL)")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (Ctrl-C included)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                self._rollback()
                full = _disk_full(e)
                if full is None:
                    raise
                raise full from e
            return
        self._rollback()
        if isinstance(exc, sqlite3.OperationalError) and (full := _disk_full(exc)):
            raise full from exc

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.OperationalError:  # no transaction left to roll back (SQLite ended it)
            pass


def _disk_full(e: sqlite3.OperationalError) -> OSError | None:
    """SQLite's "database or disk is full" as the OSError (ENOSPC) every other write raises, so the CLI
    says "no space left" and keeps what is committed, whichever write met the full disk first."""
    if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(e):
        return OSError(errno.ENOSPC, "no space left on device", "gradebook.sqlite")
    return None


def _stored(row: GradebookRow, column: str):
    """A JSON column's value as plain JSON values."""
    value = getattr(row, column)
    return [t.to_json() for t in value] if column == "tests" else value


def _row(db: sqlite3.Connection, values) -> GradebookRow:
    """A stored row, its tests decoded and checked; a row spoiled on disk (by hand, by another program)
    is a ToolkitError naming the file, the submission and the field, never a KeyError in a report."""
    data = dict(zip(_COLUMNS, values))
    try:
        for c in _JSON_FIELDS:
            data[c] = json.loads(data[c]) if data[c] else ([] if c == "tests" else {})
        if not isinstance(data["tests"], list):
            raise ContractError(f"tests: expected a list, got {type(data['tests']).__name__}")
        data["tests"] = [GradebookTest.from_stored(t, where=f"tests[{i}]") for i, t in enumerate(data["tests"])]
    except (ValueError, ContractError) as e:   # json.JSONDecodeError is a ValueError
        path = db.execute("PRAGMA database_list").fetchone()[2] or "the gradebook"
        raise ToolkitError(f"{path}: the row of submission {data['submission']!r} is unreadable ({e}); it was changed "
                           "outside the toolkit: restore the file from a backup or grade into a new output folder") from None
    return GradebookRow(**data)
