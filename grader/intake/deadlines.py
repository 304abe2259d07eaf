"""When each student's work was due, and how late what they handed in was.

A student's deadline is the spec's `deadline`, moved by the roster's `extension_days` or replaced
by the roster's own `deadline` for that student. A hand-in time is judged against it with the
spec's `late_policy`: within `grace_minutes` is on time; after that every started day (counted
from the deadline) is one late day; past `last_day` the work is not accepted. The verdict is a
grader.core.lateness.Lateness, which also applies the penalty.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from grader.core.lateness import LATE, NOT_ACCEPTED, ON_TIME, UNKNOWN, Lateness
from grader.core.spec import LatePolicy, Spec, parse_time

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Due:
    """One student's deadline under the spec's late policy."""
    at: datetime
    policy: LatePolicy
    extension_days: float = 0.0

    @property
    def on_time_until(self) -> datetime:
        """The last moment that counts as on time (the deadline plus the grace period)."""
        return self.at + timedelta(minutes=self.policy.grace_minutes)

    @property
    def accepted_until(self) -> datetime | None:
        """The last moment late work is accepted; None when the policy has no last day."""
        if self.policy.last_day < 0:
            return None
        return max(self.on_time_until, self.at + self.policy.last_day * DAY)


def due_for(spec: Spec, *, extension_days: float = 0.0, own_deadline: str = "") -> Due | None:
    """The student's deadline: `own_deadline` (the roster's, ISO 8601 with zone) if given, else the
    spec's plus `extension_days`; None when the spec has no deadline and the roster gives none."""
    if own_deadline:
        return Due(parse_time(own_deadline, "the roster's deadline"), spec.late_policy)
    if not spec.deadline:
        return None
    at = parse_time(spec.deadline, f"{spec.path}: deadline") + timedelta(days=extension_days)
    return Due(at, spec.late_policy, extension_days)


def late_days(due: Due, handed_in: datetime) -> int:
    """Started days after the deadline; 0 within the grace period."""
    if handed_in <= due.on_time_until:
        return 0
    return max(1, math.ceil((handed_in - due.at) / DAY))


def judge(due: Due, handed_in: datetime | None, *, source: str, **found) -> Lateness:
    """The verdict on work handed in at `handed_in` (None: not known, so nothing is taken).
    `found` carries what the intake learnt on the way (commit, not_graded, flags)."""
    policy = due.policy
    common = dict(deadline=due.at.isoformat(), source=source, penalty_per_day=policy.penalty_per_started_day,
                  penalty_unit=policy.penalty_unit, extension_days=due.extension_days, **found)
    if handed_in is None:
        return Lateness(verdict=UNKNOWN, **common)
    days = late_days(due, handed_in)
    if days == 0:
        verdict = ON_TIME
    elif 0 <= policy.last_day < days:
        verdict = NOT_ACCEPTED
    else:
        verdict = LATE
    return Lateness(handed_in=handed_in.isoformat(), late_days=days, verdict=verdict, **common)
