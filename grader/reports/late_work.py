"""What every report says about the deadline: the student's feedback, the CSV tables, the terminal.

Plain sentences (each report escapes them its own way). The student reads the deadline, when the
work was handed in, the graded commit and the later ones not graded, the late days and the
penalty; the dates to doubt (grader.intake.git_history.suspicious_dates) are for the instructor's
tables only, like the integrity report.
"""
from __future__ import annotations

from grader.core.lateness import LATE, NOT_ACCEPTED, Lateness

DEADLINE_HEADING = "Deadline"
NOT_GRADED_SHOWN = 10   # later commits listed by name; the rest are counted


def deadline_lines(late_json: dict, *, note: str) -> list[str]:
    """The feedback's deadline section; `note`: what the policy took (apply_late_policy's note)."""
    late = Lateness.from_json(late_json)
    if late is None:
        return []
    lines = [late.describe()]
    if late.commit:
        lines.append(f"Graded commit: {late.commit}, dated {late.commit_time} by your git.")
    for commit in late.not_graded[:NOT_GRADED_SHOWN]:
        lines.append(f"Not graded (after the graded commit): {commit}")
    if len(late.not_graded) > NOT_GRADED_SHOWN:
        lines.append(f"... and {len(late.not_graded) - NOT_GRADED_SHOWN} more later commit(s), not graded.")
    if note:
        lines.append(f"Late policy: {note}.")
    return lines


def late_columns(late_json: dict, *, before: float, after: float) -> dict[str, str]:
    """The grades.csv cells: late_days, late_penalty (points taken), handed_in, graded_commit, late_flags."""
    late = Lateness.from_json(late_json)
    if late is None:
        return dict.fromkeys(LATE_COLUMNS, "")
    penalty = "not accepted" if late.verdict == NOT_ACCEPTED else f"{round(before - after, 4):g}"
    return {"late_days": str(late.late_days), "late_penalty": penalty, "handed_in": late.handed_in or "unknown",
            "graded_commit": late.commit, "late_flags": "; ".join(late.flags)}


def late_summary(late_json: dict) -> str:
    """A few words for a table cell or a one-line comment: "2 days late", "not accepted", ""."""
    late = Lateness.from_json(late_json)
    if late is None or late.verdict not in (LATE, NOT_ACCEPTED):
        return ""
    days = f"{late.late_days} day{'s' if late.late_days != 1 else ''} late"
    return f"{days}, not accepted" if late.verdict == NOT_ACCEPTED else days


LATE_COLUMNS = ("late_days", "late_penalty", "handed_in", "graded_commit", "late_flags")
