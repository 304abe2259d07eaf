"""What each submission of a batch handed in, and when: the step between discovery and grading
that applies the spec's deadline.

- A cloned repository (grader.intake.git_history) is replaced by the files of the commit it is graded
  at, written to a scratch folder; its hand-in time is that commit's date, or its first push where a
  push log is given.
- Any other submission takes its time from Moodle's grading worksheet where one is given
  (grader.intake.submission_times); otherwise its time is not known and nothing is taken.
Each gets a grader.core.lateness.Lateness against the student's own deadline (grader.intake.deadlines).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from grader.core.lateness import Lateness
from grader.core.spec import Spec
from grader.intake.deadlines import Due, due_for, judge
from grader.intake.discovery import SubmissionInput
from grader.intake.git_history import (Commit, GitError, clone_time, export_commit, is_repository, push_times,
                                       read_history, repo_key, suspicious_dates)
from grader.intake.submission_times import SubmissionTimes


@dataclass(frozen=True)
class StudentDeadline:
    """What the roster says about one submission's student (grader.records.roster)."""
    extension_days: float = 0.0
    deadline: str = ""
    email: str = ""


@dataclass
class HandIns:
    """The batch with repositories replaced by their graded commits, and each one's lateness."""
    submissions: list[SubmissionInput] = field(default_factory=list)
    late: dict[str, Lateness] = field(default_factory=dict)    # submission id -> verdict
    notes: dict[str, list[str]] = field(default_factory=dict)  # submission id -> what the student should read
    repositories: dict[str, Path] = field(default_factory=dict)  # submission id -> the repository it came from


def read_hand_ins(submissions: list[SubmissionInput], spec: Spec, *, scratch: Path,
                  students: dict[str, StudentDeadline] | None = None,
                  push_log: dict[str, list[tuple[str, datetime]]] | None = None,
                  worksheet: SubmissionTimes | None = None, cloned_at: datetime | None = None) -> HandIns:
    """Judge every submission against its student's deadline (none: the batch unchanged)."""
    students = students or {}
    found = HandIns()
    for s in submissions:
        student = students.get(s.id, StudentDeadline())
        due = due_for(spec, extension_days=student.extension_days, own_deadline=student.deadline)
        if due is None:
            found.submissions.append(s)
        elif is_repository(s.path):
            graded, late, notes = _repository(s, spec, due, scratch=scratch, push_log=push_log, cloned_at=cloned_at)
            found.submissions.append(graded)
            found.late[s.id], found.notes[s.id], found.repositories[s.id] = late, notes, s.path
        else:
            when = worksheet.time_for(participant=s.participant, name=s.name or s.id.replace("_", " "),
                                      email=student.email) if worksheet else None
            found.submissions.append(s)
            found.late[s.id] = judge(due, when, source="Moodle worksheet" if when else "")
    return found


def _repository(s: SubmissionInput, spec: Spec, due: Due, *, scratch: Path,
                push_log: dict[str, list[tuple[str, datetime]]] | None,
                cloned_at: datetime | None) -> tuple[SubmissionInput, Lateness, list[str]]:
    """The repository's graded commit exported to `scratch`, its verdict and notes. A repository git
    cannot read is graded as its folder stands, its time unknown and flagged: never a zero for the grader."""
    try:
        history = read_history(s.path)
        flags = suspicious_dates(history, cloned_at=cloned_at or clone_time(s.path))
        pushes = push_log.get(repo_key(s.path.name)) if push_log is not None else None
        source = "commit date"
        if pushes is not None:
            first_push = push_times(s.path, pushes)
            unpushed = [c for c in history if c.sha not in first_push]
            timed = [(first_push[c.sha], c) for c in history if c.sha in first_push]
            source = "push log"
            if unpushed:
                flags.append(f"{len(unpushed)} commit(s) in no push of the push log (not handed in): "
                             + ", ".join(c.short for c in unpushed[:10]))
        else:
            timed = [(c.committed_at, c) for c in history]
            if push_log is not None:
                flags.append(f"the push log has no rows for {s.path.name!r}: commit dates used")
        timed.sort(key=lambda tc: tc[0])   # stable: equal push times keep the commits' own order
        if not timed:
            raise GitError(f"{s.path.name}: no commit was handed in")
        when, commit = _graded_commit(timed, due)
        later = [c.line(t) for t, c in timed if t > when or (t == when and _after(timed, c, commit))]
        dest = scratch / "commits" / s.id
        notes = export_commit(s.path, commit.sha, dest, spec.submission)
    except GitError as e:
        late = judge(due, None, source="", flags=[f"{e}; the folder was graded as it stands"])
        return s, late, []
    late = judge(due, when, source=source, commit=commit.short, commit_time=commit.committed_at.isoformat(),
                 not_graded=later, flags=flags)
    notes = [f"graded at commit {commit.short} ({commit.committed_at.isoformat()}, {commit.subject[:80]!r})"
             + (f"; {len(later)} later commit(s) not graded" if later else "")] + notes
    return replace(s, path=dest), late, notes


def _graded_commit(timed: list[tuple[datetime, Commit]], due: Due) -> tuple[datetime, Commit]:
    """The last commit on time; else the last the late policy accepts; else the last one (not accepted)."""
    on_time = [tc for tc in timed if tc[0] <= due.on_time_until]
    if on_time:
        return on_time[-1]
    until = due.accepted_until
    accepted = [tc for tc in timed if until is None or tc[0] <= until]
    return (accepted or timed)[-1]


def _after(timed: list[tuple[datetime, Commit]], c: Commit, chosen: Commit) -> bool:
    order = [x.sha for _, x in timed]
    return order.index(c.sha) > order.index(chosen.sha)
