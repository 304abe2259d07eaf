"""What summary.html says, section by section, as plain values (tables of text cells and bars) for
`templates/summary.html.j2`: the tiles, the scores after review, pass rate per test, the failed
submissions, failures by reason, time per submission, the flagged pairs with their matching regions,
missing students."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.boundary.sandbox import LEVEL_TEXT, STRICT_LEVELS
from grader.core.results import SubmissionStatus, TestStatus
from grader.integrity.similarity import IntegrityReport, SimilarPair
from grader.records.gradebook import GradebookRow
from grader.records.roster import RosterMatch
from grader.reports.failure_groups import failure_groups, suspect_grader
from grader.reports.markdown import common_cause, scrub_paths
from grader.reports.score_histogram import histogram
from grader.reports.late_work import late_summary

if TYPE_CHECKING:   # batch_review builds on reviewed.py, which renders its pages with grader.reports.html
    from grader.reports.batch_review import BatchReview

SHORT_LEVEL = {"bwrap": "bubblewrap", "namespaces": "kernel namespaces", "uid": "a separate uid only", "none": "none"}
MAX_REASONS, MAX_SLOWEST = 20, 30


@dataclass(frozen=True)
class BarFill:
    percent: str
    color: str
    text: str


@dataclass(frozen=True)
class Cell:
    """A table cell: lines one under the other, each (text, small and muted?), or a bar."""
    lines: tuple[tuple[str, bool], ...] = ()
    cls: str = ""
    bar: BarFill | None = None


def text(value: object, cls: str = "", *, under: str = "") -> Cell:
    """A cell of one line, with `under` in small muted type below it when given."""
    return Cell(((str(value), False),) + (((under, True),) if under else ()), cls)


def bar(fraction: float, label: str, *, color: str = "#2563eb") -> Cell:
    return Cell(bar=BarFill(f"{100 * max(0.0, min(1.0, fraction)):.1f}", color, label))


@dataclass(frozen=True)
class Table:
    head: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _pass_color(fraction: float) -> str:
    return "#17803d" if fraction >= 0.8 else "#ca8a04" if fraction >= 0.4 else "#b91c1c"


def test_stats(rows: list[GradebookRow]) -> Table:
    """Pass rate and mean score per test, over the submissions that ran it."""
    stats: dict[str, dict] = {}
    for r in rows:
        for t in r.tests:
            s = stats.setdefault(t.nodeid, {"name": t.name, "points": t.points, "visibility": t.visibility,
                                            "ran": 0, "passed": 0, "score": 0.0})
            if t.status != TestStatus.SKIPPED:
                s["ran"] += 1
                s["passed"] += t.status == TestStatus.PASSED
                s["score"] += t.score
    table = Table(["test", "passed", "mean / points"])
    for nodeid, s in stats.items():
        rate = s["passed"] / s["ran"] if s["ran"] else 0.0
        table.rows.append([text(s["name"], under=f"{nodeid} · {s['visibility']}"),
                           bar(rate, f"{s['passed']}/{s['ran']} ({100 * rate:.0f} %)" if s["ran"] else "not run",
                               color=_pass_color(rate)),
                           text(f"{s['score'] / s['ran']:.2f} / {s['points']:g}" if s["ran"] else f"– / {s['points']:g}",
                                "num")])
    return table


def _names(items: list, k: int) -> str:
    return ", ".join(items[:k]) + (f" … (+{len(items) - k})" if len(items) > k else "")


def failures(groups: dict[tuple, dict]) -> tuple[Table, int]:
    """The reasons most submissions share (the first MAX_REASONS), and how many rarer ones grades.csv holds."""
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]["subs"]), kv[0]))
    table = Table(["count", "kind and reason", "tests", "who"],
                  [[text(len(g["subs"]), "num"), Cell(((str(kind), True), (reason, False))),
                    text(_names(g["tests"], 3)), text(_names(g["subs"], 8), "id")]
                   for (kind, reason), g in ordered[:MAX_REASONS]])
    return table, max(0, len(ordered) - MAX_REASONS)


def failed_submissions(rows: list[GradebookRow]) -> Table:
    """The submissions that were not graded or earned nothing: the ones to look at first."""
    bad = sorted((r for r in rows if r.status != SubmissionStatus.GRADED or r.score <= 0),
                 key=lambda r: (r.status, r.submission))
    return Table(["submission", "status", "score", "reason"],
                 [[text(r.submission, "id"), text(r.status, f"nw {r.status}"), text(f"{r.score:g} / {r.max_score:g}", "num"),
                   text(scrub_paths((common_cause(r.tests) or r.reason).strip().splitlines()[0] if r.reason else ""))]
                  for r in bad])


@dataclass(frozen=True)
class Times:
    figures: str   # "total 12 s · median 1.5 s · slowest 3.0 s"
    table: Table


def times(rows: list[GradebookRow]) -> Times | None:
    """Time per submission as bars, slowest first, with the batch's total and median."""
    if not rows:
        return None
    durations = [r.duration for r in rows]
    slow = sorted(rows, key=lambda r: -r.duration)[:MAX_SLOWEST]
    longest = slow[0].duration or 1.0
    table = Table(["submission", "time", "status"],
                  [[text(r.submission, "id"), bar(r.duration / longest, f"{r.duration:.1f} s", color="#64748b"),
                    text(r.status, f"nw {r.status}")] for r in slow])
    figures = (f"total {sum(durations):.0f} s · median {statistics.median(durations):.1f} s · slowest {longest:.1f} s"
               + (f" · the {MAX_SLOWEST} slowest shown" if len(rows) > MAX_SLOWEST else ""))
    return Times(figures, table)


@dataclass(frozen=True)
class Integrity:
    report: IntegrityReport
    threshold: str   # "80": the similarity, in %, at which a pair is flagged
    table: Table
    evidence: list[SimilarPair]   # the most similar pairs, with their matching regions side by side


def _verdict(p: SimilarPair, review: BatchReview) -> str:
    """The pair's integrity decision in a few words: "confirmed (by X)", "cleared (by X)" or "open"."""
    decision = review.verdict(p.a, p.b)
    return f"{decision.verdict} (by {decision.who})" if decision is not None else "open"


def integrity_section(report: IntegrityReport | None, review: BatchReview | None) -> Integrity | None:
    """The flagged pairs, with a person's verdict on each once the batch is under review."""
    if report is None:
        return None
    table = Table(["pair", "similarity", "detail"] + (["decision"] if review is not None else []),
                  [[Cell(((p.a, False), (p.b, False)), "id"),
                    text(f"{100 * p.similarity:.0f} %", "num", under=f"{p.kind}, {p.shared} shared"), text(p.detail)]
                   + ([text(_verdict(p, review), "nw")] if review is not None else []) for p in report.flagged])
    return Integrity(report, f"{100 * report.threshold:.0f}", table, [p for p in report.flagged if p.regions])  # similarity.MAX_EVIDENCE_PAIRS


@dataclass(frozen=True)
class AfterReview:
    done: int
    table: Table


def after_review(rows: list[GradebookRow], review: BatchReview | None) -> AfterReview | None:
    """Every submission's score after review beside the automatic one, its late days and review state."""
    if review is None or not rows:
        return None
    table = Table(["submission", "automatic", "after review", "late", "review"])
    for r in rows:
        final = review.finals[r.submission]
        late = final.late_note or late_summary(r.late)   # the note says the days and what they cost
        state, items = review.state(r.submission), review.open_items(r.submission)
        table.rows.append([text(r.submission, "id"), text(f"{final.automatic:g}", "num"),
                           text(f"{final.score:g} / {final.max_score:g}", "num"), text(late),
                           text(state, state.replace(" ", "-"),
                                under=f"rubric awaiting: {', '.join(items)}" if items else "")])
    return AfterReview(sum(review.is_reviewed(r.submission) for r in rows), table)


def roster_lines(roster: RosterMatch | None) -> list[str]:
    """The students the roster names who handed nothing in, and the roster's doubts."""
    if roster is None:
        return []
    return ([f"missing: {s.id} {s.name}".strip() for s in roster.missing]
            + [f"{sid}: {why}" for sid, why in sorted(roster.warnings.items())])


def isolation(rows: list[GradebookRow]) -> tuple[str, str]:
    """(the batch's isolation in words, a warning note when any submission ran below the strong rungs)."""
    levels = Counter(r.isolation or "not recorded" for r in rows)
    words = "; ".join(f"{LEVEL_TEXT.get(level, level)} ({n})" for level, n in sorted(levels.items())) or "–"
    weak = sum(n for level, n in levels.items() if level not in STRICT_LEVELS)
    return words, (f"{weak} submission(s) graded without filesystem isolation" if weak else "")


def _decided(report: IntegrityReport | None, review: BatchReview | None) -> str:
    """The flagged-pairs tile's note: how many a person confirmed or cleared."""
    if report is None or review is None:
        return "integrity.csv"
    verdicts = Counter(d.verdict for d in (review.verdict(p.a, p.b) for p in report.flagged) if d is not None)
    return f"{verdicts['confirmed']} confirmed, {verdicts['cleared']} cleared"


def tiles(rows: list[GradebookRow], scores: list[float], max_points: float, statuses: Counter, *,
          roster: RosterMatch | None, report: IntegrityReport | None, review: BatchReview | None,
          weak: str) -> list[tuple[str, object, str]]:
    """(label, figure, note) of each tile at the top of the page."""
    full = sum(1 for r in rows if max_points and r.score >= max_points)
    not_graded = sum(n for s, n in statuses.items() if s not in ("graded", "missing"))
    levels = Counter(r.isolation or "not recorded" for r in rows)
    out = [("submissions", len(rows), f"{full} with full marks"),
           ("mean score", f"{statistics.fmean(scores):.2f} / {max_points:g}" if scores else "–",
            f"median {statistics.median(scores):g}" if scores else ""),
           ("not graded", not_graded, ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())
                                                if k not in ("graded", "missing"))),
           ("missing students", len(roster.missing) if roster else "–", "" if roster else "no roster given"),
           ("flagged pairs", len(report.flagged) if report is not None else "–", _decided(report, review)),
           ("isolation", "strong" if not weak else "WEAK",
            ", ".join(f"{SHORT_LEVEL.get(level, level)} ({n})" for level, n in sorted(levels.items())))]
    if review is not None:
        still_open = Counter(review.state(r.submission) for r in rows if not review.is_reviewed(r.submission))
        out.insert(2, ("reviewed", f"{len(rows) - sum(still_open.values())} of {len(rows)}",
                       ", ".join(f"{n} {state}" for state, n in sorted(still_open.items()))))
        out[1] = ("mean score after review", *out[1][1:])
    return out


def summary_context(*, title: str, rows: list[GradebookRow], max_points: float, roster: RosterMatch | None,
                    integrity: IntegrityReport | None, review: BatchReview | None) -> dict[str, object]:
    """Every value summary.html.j2 shows (`title`: the assignment's, without its data set)."""
    if review is not None:   # what the students get: decisions, rubric points, late penalty
        scores = [review.finals[r.submission].score for r in rows]
        max_points = max((review.finals[r.submission].max_score for r in rows), default=max_points)
    else:
        scores = [r.score for r in rows]
        max_points = max((r.max_score for r in rows), default=max_points)   # without the tests this mode skips
    statuses = Counter(r.status for r in rows)
    if roster and roster.missing:
        statuses["missing"] = len(roster.missing)
    groups = failure_groups(rows)
    words, weak = isolation(rows)
    modes = Counter(r.mode for r in rows)
    reasons, rarer = failures(groups)
    return dict(
        title=title, count=len(rows), isolation=words, weak=weak, suspect=suspect_grader(rows, groups),
        modes=", ".join(f"{m}" + (f" ({n})" if len(modes) > 1 else "") for m, n in sorted(modes.items())) or "–",
        statuses=", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "nothing graded yet",
        tiles=tiles(rows, scores, max_points, statuses, roster=roster, report=integrity, review=review, weak=weak),
        histogram=histogram(scores, max_score=max_points), reviewed=review is not None,
        after_review=after_review(rows, review), test_stats=test_stats(rows), failed=failed_submissions(rows),
        failures=reasons, rarer=rarer, times=times(rows), integrity=integrity_section(integrity, review),
        roster=roster, roster_lines=roster_lines(roster))
