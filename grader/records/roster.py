"""The course roster (`--roster roster.csv`) and matching submissions to its students.

The CSV needs a header with at least an id column (`id`, `neptun`, `neptun code`, `student id` or
`identifier`); `name` (or `full name`) and `email` (or `email address`) are used where present.
Neptun codes are ids. A submission matches a student, in this order, by
1. its id equal to the student's id (case-insensitive), or the student's id appearing as a word
   in the submission id (`ABC123_hw2` matches `ABC123`);
2. the same name (case, accents and word order ignored), as Moodle exports give it;
3. the same email (a submission id that is an email address).
Each student is matched at most once.

Per-student deadlines: an `extension_days` (or `extension`) column adds days (fractions allowed) to
the spec's deadline; a `deadline` column gives the student's own (ISO 8601 with its zone), and wins. Students without a submission become `missing` rows; a
submission that matches nobody is still graded and carries a warning.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.errors import SpecError, ToolkitError
from grader.core.spec import parse_time
from grader.records.gradebook import RosterRow

ID_COLUMNS = ("id", "neptun", "neptun code", "neptun kód", "student id", "identifier")
NAME_COLUMNS = ("name", "full name", "teljes név", "név")
EMAIL_COLUMNS = ("email", "email address", "e-mail")
EXTENSION_COLUMNS = ("extension_days", "extension days", "extension")
DEADLINE_COLUMNS = ("deadline", "due", "due date")


@dataclass
class RosterMatch:
    """Which student each submission belongs to."""
    student: dict = field(default_factory=dict)    # submission id -> RosterRow
    warnings: dict = field(default_factory=dict)   # submission id -> why it matched nobody (or twice)
    missing: list = field(default_factory=list)    # RosterRows with no submission


def read_roster(path: Path) -> list[RosterRow]:
    """The roster's rows; ToolkitError naming the file when it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ToolkitError(f"{path}: the roster could not be read ({e})") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text.strip() else ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    header = [h.strip().casefold() for h in next(reader, [])]

    def column(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    i_id, i_name, i_email = column(ID_COLUMNS), column(NAME_COLUMNS), column(EMAIL_COLUMNS)
    i_extension, i_deadline = column(EXTENSION_COLUMNS), column(DEADLINE_COLUMNS)
    if i_id is None:
        raise ToolkitError(f"{path}: the roster needs an id column (one of: {', '.join(ID_COLUMNS)}); "
                           f"its header is {', '.join(header) or 'empty'}")
    rows, seen = [], set()
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        get = lambda i: cells[i].strip() if i is not None and i < len(cells) else ""  # noqa: E731
        row = RosterRow(get(i_id), get(i_name), get(i_email), _extension(get(i_extension), f"{path}, line {number}"),
                        get(i_deadline))
        if not row.id:
            raise ToolkitError(f"{path}, line {number}: empty id")
        if row.deadline:
            try:
                parse_time(row.deadline, f"{path}, line {number}, deadline")
            except SpecError as e:
                raise ToolkitError(str(e)) from None
        if row.id.casefold() in seen:
            raise ToolkitError(f"{path}, line {number}: the id {row.id!r} appears twice")
        seen.add(row.id.casefold())
        rows.append(row)
    return rows


def _extension(text: str, where: str) -> float:
    """Days of extension ('' = none; '2', '1.5' or '1,5')."""
    try:
        days = float(text.replace(",", ".")) if text else 0.0
    except ValueError:
        raise ToolkitError(f"{where}: extension {text!r} is not a number of days") from None
    if not 0 <= days < 3650:
        raise ToolkitError(f"{where}: extension {text!r} must be a number of days, 0 or more")
    return days


def _name_key(name: str) -> str:
    """`Kovács Áron` and `aron  KOVACS` give the same key."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(sorted(re.split(r"[\s_]+", plain.casefold().strip())))


def match_roster(roster: list[RosterRow], submissions: list[tuple[str, str]]) -> RosterMatch:
    """Match (submission id, student name or "") pairs against the roster."""
    match = RosterMatch()
    by_id = {r.id.casefold(): r for r in roster}
    by_name = {}
    for r in roster:
        if r.name:
            by_name.setdefault(_name_key(r.name), r)
    by_email = {r.email.casefold(): r for r in roster if r.email}
    taken: dict[str, str] = {}       # roster id -> submission id
    for sid, name in submissions:
        words = re.split(r"[^0-9A-Za-z]+", sid.casefold())
        student = (by_id.get(sid.casefold())
                   or next((by_id[w] for w in words if w in by_id), None)
                   or (by_name.get(_name_key(name)) if name else None)
                   or by_name.get(_name_key(sid.replace("_", " ")))
                   or by_email.get(sid.casefold()))
        if student is None:
            match.warnings[sid] = "matches no student of the roster"
        elif student.id in taken:
            match.warnings[sid] = f"matches roster student {student.id}, who is already matched by {taken[student.id]}"
        else:
            taken[student.id] = sid
            match.student[sid] = student
    match.missing = [r for r in roster if r.id not in taken]
    return match
