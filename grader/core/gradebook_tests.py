"""One test of a submission as the gradebook keeps it (`GradebookRow.tests`), a typed value checked on arrival.

The gradebook stores each row's tests as JSON; they are decoded into `GradebookTest` values once, where
the row is read (grader.records.gradebook), so every report, the spreadsheets and the review app read
attributes, never a dict's keys. Like the contracts between processes (grader.core.contracts), a stored
test is checked when it is read: a row spoiled on disk ends as a clear error naming the field, not as a
KeyError in a report or a wrong score.

Rows written before this contract (gradebook schemas 1 and 2, toolkits before it) hold the same
fields without a `version`, and the oldest may lack `kind`, `visibility` or `message`: `from_stored`
reads them as version 1 with those fields' defaults.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass

from grader.core.contracts import Contract
from grader.core.results import TestResult, TestStatus
from grader.core.vocabulary import TestKind, Visibility

MESSAGE_CHARS = 300   # the gradebook keeps a message's first line, this long at most: the feedback files keep the rest


@dataclass(frozen=True)
class GradebookTest(Contract):
    """A test's outcome in the gradebook: what the spreadsheets, summaries and reviews need, no detail."""
    nodeid: str
    name: str
    points: float                # what the test is worth
    score: float                 # what the submission earned, before any reviewer's adjustment
    status: TestStatus
    kind: TestKind = TestKind.NONE
    visibility: Visibility = Visibility.VISIBLE
    message: str = ""            # the first line of why it scored what it did

    VERSION: typing.ClassVar[int] = 1
    WHAT: typing.ClassVar[str] = "a gradebook test"

    @classmethod
    def from_result(cls, t: TestResult) -> GradebookTest:
        """The gradebook's record of one graded test."""
        first_line = (t.message.strip().splitlines() or [""])[0][:MESSAGE_CHARS]
        return cls(nodeid=t.nodeid, name=t.name, points=float(t.points), score=float(t.score),
                   status=TestStatus(t.status), kind=TestKind(t.kind), visibility=Visibility(t.visibility),
                   message=first_line)

    @classmethod
    def from_stored(cls, data, *, where: str) -> GradebookTest:
        """A test as the gradebook holds it, a row written before this contract (no version) included;
        raises ContractError naming `where` and the field for anything else that does not fit."""
        if isinstance(data, dict) and "version" not in data:
            data = {**data, "version": 1}   # the pre-contract form: the same fields, unversioned
        return cls.from_json(data, where=where)
