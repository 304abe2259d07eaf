"""A batch's failures grouped by reason, for summary.html: what most submissions share, and whether
the grader itself is the suspect (many failing identically through the grader's own failure)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from grader.core.results import NOT_FULL, SubmissionStatus, TestStatus
from grader.records.gradebook import GradebookRow
from grader.reports.markdown import common_cause, scrub_paths

SUSPECT_SHARE = 0.5   # this share of a batch (at least SUSPECT_MIN) failing identically: suspect the grader
SUSPECT_MIN = 3
GRADERS_FAULT = (SubmissionStatus.ERROR, "grader-error")  # the failures that may make the grader suspect
NO_TEST_RAN, EVERY_TEST = "(no test ran)", "(every test)"   # a group's "tests" when it is a whole submission


@dataclass(frozen=True)
class Suspect:
    """Many submissions failed the same way through the grader's own failure."""
    count: int
    total: int
    kind: str
    reason: str


def failure_reason(message: str) -> str:
    """A message with its particulars (numbers, quoted values, file names, paths) blanked, for
    grouping; what names the cause stays ("No module named 'keras'")."""
    text = scrub_paths(message.strip().splitlines()[0] if message.strip() else "")
    kept: list[str] = []

    def keep(m: re.Match) -> str:
        kept.append(m.group(0))
        return chr(0xE000 + len(kept) - 1)   # a private-use character: no later rule touches it

    text = re.sub(r"No module named '[\w.]+'|cannot import name '[\w.]+'", keep, text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\b[\w.-]+\.(py|ipynb|zip)\b", "<file>", text)
    text = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)
    return re.sub("[\ue000-\uf8ff]", lambda m: kept[ord(m.group(0)) - 0xE000], text)[:160]


def failure_groups(rows: list[GradebookRow]) -> dict[tuple, dict]:
    """(kind, reason) -> {"subs": submissions, "tests": test names}. A submission counts once per
    reason: one that was rejected, or whose every test failed for one reason (it could not be
    loaded), counts once, not once per test."""
    groups: dict[tuple, dict] = {}

    def add(kind: str, reason: str, test: str, submission: str) -> None:
        g = groups.setdefault((kind, reason), {"subs": {}, "tests": {}})
        g["subs"].setdefault(submission, None)
        g["tests"].setdefault(test, None)

    for r in rows:
        cause = common_cause(r.tests) if r.status == SubmissionStatus.GRADED else ""
        if r.status != SubmissionStatus.GRADED:
            add(r.status, failure_reason(r.reason), NO_TEST_RAN, r.submission)
        elif cause:
            kind = next(t.kind for t in r.tests if t.status == TestStatus.FAILED)
            add(kind or "failed", failure_reason(cause), EVERY_TEST, r.submission)
        else:
            for t in r.tests:
                if t.status in NOT_FULL:
                    add(t.kind or t.status, failure_reason(t.message), t.name, r.submission)
    return {k: {"subs": list(g["subs"]), "tests": list(g["tests"])} for k, g in groups.items()}


def suspect_grader(rows: list[GradebookRow], groups: dict[tuple, dict]) -> Suspect | None:
    """The warning's facts when many submissions failed in exactly the same way through the grader's
    own failure (status `error`, tests of kind `grader-error`): a missing package, data, a broken test.
    Students' own failures, however alike (a class that did not define the API, a file that does not
    load), never count: they say nothing about the grader."""
    whole = {k: g["subs"] for k, g in groups.items()
             if g["tests"] in ([NO_TEST_RAN], [EVERY_TEST]) and k[0] in GRADERS_FAULT}
    if not whole or len(rows) < SUSPECT_MIN:
        return None
    (kind, reason), subs = max(whole.items(), key=lambda kv: len(kv[1]))
    if len(subs) < max(SUSPECT_MIN, SUSPECT_SHARE * len(rows)):
        return None
    return Suspect(len(subs), len(rows), str(kind), reason)
