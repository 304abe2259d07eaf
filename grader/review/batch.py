"""The batch as the review list shows it: one entry per submission with its score after review, status,
flags, late days and review state; the filters and sort orders the page offers, and the order that
"next" and "previous" follow on a submission's page."""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.records.decisions import Decision, FinalScore
from grader.records.gradebook import GradebookRow
from grader.review.folder import FlaggedPair

FILTERS = {"all": "all", "needs-review": "needs review", "flagged": "flagged", "late": "late", "error": "error"}
SORTS = {"id": "submission", "score": "score (lowest first)", "status": "status", "similarity": "most similar pair"}


@dataclass
class Entry:
    row: GradebookRow
    final: FinalScore
    reviewed: bool
    pairs: list[FlaggedPair] = field(default_factory=list)     # flagged pairs it belongs to
    verdicts: dict[str, str] = field(default_factory=dict)     # pair key -> "confirmed" / "cleared"

    @property
    def id(self) -> str:
        return self.row.submission

    @property
    def late_days(self) -> int:
        late = getattr(self.row, "late", None) or {}
        return int(late.get("late_days", 0) or 0) if isinstance(late, dict) else 0

    @property
    def late_verdict(self) -> str:
        late = getattr(self.row, "late", None) or {}
        return str(late.get("verdict", "")) if isinstance(late, dict) else ""

    @property
    def is_error(self) -> bool:
        return self.row.status != "graded"

    @property
    def open_pairs(self) -> list[FlaggedPair]:
        """Flagged pairs nobody has confirmed or cleared yet."""
        return [p for p in self.pairs if p.key not in self.verdicts]

    @property
    def needs_review(self) -> bool:
        return (not self.reviewed or bool(self.final.needs_rereview) or bool(self.final.awaiting_review)
                or bool(self.open_pairs))

    def matches(self, name: str) -> bool:
        return {"all": True, "needs-review": self.needs_review, "flagged": bool(self.pairs),
                "late": self.late_days > 0, "error": self.is_error}.get(name, True)


def pair_verdicts(pair: FlaggedPair, decisions: list[Decision]) -> str | None:
    """The current verdict on `pair` (decisions are stored once per pair of ids, whatever its kind)."""
    first, second = sorted((pair.a, pair.b))
    found = [d for d in decisions if d.kind == "integrity" and d.submission == first and d.target == second]
    return found[-1].verdict if found else None


def entries(rows: list[GradebookRow], finals: dict[str, FinalScore], reviewed: set[str], pairs: list[FlaggedPair],
            decisions: list[Decision]) -> list[Entry]:
    out = {r.submission: Entry(r, finals[r.submission], r.submission in reviewed) for r in rows}
    for p in pairs:
        verdict = pair_verdicts(p, decisions)
        for sid in (p.a, p.b):
            if sid in out:
                out[sid].pairs.append(p)
                if verdict:
                    out[sid].verdicts[p.key] = verdict
    return list(out.values())


def chosen(all_entries: list[Entry], *, filter_name: str, sort: str) -> list[Entry]:
    """The entries the filter keeps, in the sort order (unknown names: all, by id)."""
    kept = [e for e in all_entries if e.matches(filter_name)]
    keys = {"score": lambda e: (e.final.score, e.id), "status": lambda e: (e.row.status, e.id),
            "similarity": lambda e: (-max((p.similarity for p in e.pairs), default=0.0), e.id)}
    return sorted(kept, key=keys.get(sort, lambda e: e.id))
