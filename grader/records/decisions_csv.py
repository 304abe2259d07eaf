"""Decisions as CSV (`dlgrade decisions --export/--apply`): the columns, the file's text, reading it
back line by line. Cells that a spreadsheet would take for a formula are kept inert both ways."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.records.decision_record import Decision, DecisionError, check_shape, now

CSV_COLUMNS = ["submission", "kind", "target", "points", "verdict", "student_text", "private_note", "who", "when",
               "basis", "needs_rereview"]


def decisions_csv_text(decisions: list[Decision]) -> str:
    """`decisions` as CSV (CSV_COLUMNS), the text `read_decisions_csv` reads back."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for d in decisions:
        writer.writerow([_inert(c) for c in (
            d.submission, d.kind, d.target, "" if d.points is None else f"{d.points:g}", d.verdict or "",
            d.student_text, d.private_note, d.who, d.when, d.basis or "", "yes" if d.needs_rereview else "")])
    return buf.getvalue()


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
