"""Late work: when a submission was handed in against its deadline, and what the late policy takes.

`Lateness` is plain data (it travels in `result.json`, the gradebook row and every table) and
carries the policy's numbers, so `apply_late_policy` needs nothing else: it is the one place a
penalty is applied, after the automatic score and after any reviewer's adjustments. How the time
and the deadline are found (commits, push logs, Moodle's worksheet, extensions) is
grader.intake.deadlines; this module only judges.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

ON_TIME, LATE, NOT_ACCEPTED, UNKNOWN = "on time", "late", "not accepted", "unknown"


@dataclass(frozen=True)
class Lateness:
    """One submission against its deadline. Times are ISO 8601 with their zone."""
    deadline: str                  # the student's own deadline (an extension included)
    handed_in: str = ""            # when the graded work was handed in; "" = not known
    source: str = ""               # where `handed_in` comes from: "commit date", "push log", "Moodle worksheet"
    late_days: int = 0             # started days after the deadline (0 within the grace period)
    verdict: str = UNKNOWN         # ON_TIME, LATE, NOT_ACCEPTED or UNKNOWN (no time: nothing is taken)
    penalty_per_day: float = 0.0   # the policy's penalty per started day ...
    penalty_unit: str = "fraction"  # ... as a fraction of the scale, or in points
    extension_days: float = 0.0    # the roster's extension for this student, already in `deadline`
    commit: str = ""               # the graded commit's short hash, for a git repository
    commit_time: str = ""          # its date as the student's git wrote it
    not_graded: list = field(default_factory=list)   # later commits: "abc1234 <date> <subject>"
    flags: list = field(default_factory=list)        # dates to doubt, for the instructor (not the student)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> Lateness | None:
        """The inverse of `to_json`; None for an empty record (a gradebook row from before deadlines)."""
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def penalty_points(self, scale: float) -> float:
        """The points a late submission loses on `scale` (before clipping at zero)."""
        if self.verdict != LATE:
            return 0.0
        per_day = self.penalty_per_day * scale if self.penalty_unit == "fraction" else self.penalty_per_day
        return round(self.late_days * per_day, 4)

    def describe(self) -> str:
        """One sentence for the student: when it was handed in against the deadline."""
        when = f"handed in {self.handed_in} ({self.source})" if self.handed_in else "hand-in time not known"
        if self.verdict == UNKNOWN:
            return f"Deadline {self.deadline}; {when}: no late penalty applied."
        if self.verdict == ON_TIME:
            return f"Deadline {self.deadline}; {when}: on time."
        days = f"{self.late_days} started day{'s' if self.late_days != 1 else ''} late"
        if self.verdict == NOT_ACCEPTED:
            return f"Deadline {self.deadline}; {when}: {days}, after the last day late work is accepted."
        return f"Deadline {self.deadline}; {when}: {days}."


def apply_late_policy(score: float, scale: float, late: Lateness | None) -> tuple[float, str]:
    """The score after the late policy, and a note saying what it took ("" when nothing).

    `score` is the score so far (automatic, plus any reviewer's adjustments), `scale` the
    assignment's maximum. Work handed in after the policy's last day scores 0; late work loses
    its penalty, never going below 0; an unknown hand-in time costs nothing."""
    if late is None or late.verdict in (ON_TIME, UNKNOWN):
        return score, ""
    if late.verdict == NOT_ACCEPTED:
        return 0.0, f"not accepted: {late.late_days} started days late, after the policy's last day (score 0)"
    penalty = late.penalty_points(scale)
    final = round(max(0.0, score - penalty), 4)
    if penalty == 0:
        return final, f"{late.late_days} started day(s) late: no penalty in the policy"
    return final, f"{late.late_days} started day(s) late: -{score - final:g} points"
