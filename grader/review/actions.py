"""What the review app's pages read and its forms change, for one grading folder and one reviewer: the
rows with the current decisions and every submission's score after review, and a decision checked,
recorded (grader.records.decisions: one SQLite transaction each) and published (grader.reports.reviewed
rewrites the files of the submissions it concerns), with a flashed line saying how it went."""
from __future__ import annotations

import threading

from flask import abort, flash, redirect
from werkzeug.wrappers import Response

from grader.core.errors import ToolkitError
from grader.records.decisions import Decision, DecisionError, Decisions, FinalScore, checked, final_score
from grader.records.gradebook import GradebookRow
from grader.reports.reviewed import republish
from grader.review.batch import Entry, chosen, entries
from grader.review.folder import FlaggedPair, GradingFolder


class Review:
    """The review of `folder` by `who`, shared by every request (Werkzeug serves each in its own thread)."""

    def __init__(self, folder: GradingFolder, who: str):
        self.folder, self.who = folder, who
        # one rewrite of the folder's files at a time: two tabs saving at once each rewrite grades.csv from
        # the gradebook, and the later rewrite must not be one that read it before the other's decision
        self.publishing = threading.Lock()

    def state(self) -> tuple[list[GradebookRow], list[Decision], set[str], dict[str, FinalScore], list]:
        """Rows, the current decisions, the review state and every submission's score after review."""
        rows = self.folder.rows()
        spec = self.folder.spec()
        manual = list(spec.manual) if spec is not None else []
        with Decisions(self.folder.gradebook_path) as book:
            decisions, reviewed = book.all(), book.reviewed()
        finals = {r.submission: final_score(r, [d for d in decisions if r.submission in (d.submission, d.target)],
                                            manual) for r in rows}
        return rows, decisions, reviewed, finals, manual

    def listing(self, filter_name: str, sort: str) -> tuple[list[Entry], list[Entry], list[FlaggedPair], list[Decision]]:
        """Every entry, the ones the filter and sort show, the flagged pairs and the current decisions."""
        rows, decisions, reviewed, finals, _ = self.state()
        pairs = self.folder.flagged_pairs()
        every = entries(rows, finals, reviewed, pairs, decisions)
        return every, chosen(every, filter_name=filter_name, sort=sort), pairs, decisions

    def flagged_pair(self, kind: str, a: str, b: str) -> FlaggedPair:
        """The pair integrity.csv flags with these names (404 for any other: names come from the URL)."""
        found = next((p for p in self.folder.flagged_pairs() if (p.kind, p.a, p.b) == (kind, a, b)), None)
        if found is None:
            abort(404)
        return found

    def record(self, decision: Decision, back: str) -> Response:
        """Check and record `decision`, rewrite what it changes, and go back to the page `back`."""
        rows, _, _, _, manual = self.state()
        try:
            decision = checked(decision, {r.submission: r for r in rows}, manual)
            with Decisions(self.folder.gradebook_path) as book:
                decision = book.record(decision)
        except DecisionError as e:
            flash(str(e), "error")
            return redirect(back)
        flash(f"saved: {said(decision)}", "ok")
        self.publish([decision.submission] + ([decision.target] if decision.kind == "integrity" else []))
        return redirect(back)

    def publish(self, submissions: list[str]) -> None:
        """Rewrite the submissions' feedback, results.json and the tables with the decision just saved.
        The decision is in the gradebook whatever happens here; the next `grade` rewrites them too."""
        spec = self.folder.spec()
        if spec is None:
            flash(f"the folder's files were not rewritten: {self.folder.spec_problem}; the next `grade` will", "error")
            return
        try:
            with self.publishing:
                republish(spec, self.folder.out, submissions)
        except (OSError, ValueError, ToolkitError) as e:
            flash(f"saved in the gradebook, but the folder's files were not rewritten ({e}); "
                  "the next `grade` will", "error")


def said(d: Decision) -> str:
    """A recorded decision in a few words, for the line flashed after saving it."""
    what = {"adjust": f"{d.target} set to {d.points:g}" if d.points is not None else f"{d.target}: adjustment withdrawn",
            "rubric": f"rubric item {d.target}: {d.points:g}" if d.points is not None else
                      f"rubric item {d.target} awaits review again",
            "comment": "comment to the student", "integrity": f"pair {d.submission} / {d.target} {d.verdict}"}
    return what.get(d.kind, d.kind)
