"""Similarity between submissions for the integrity report: code, logs and write-ups, each pair with
the regions that match.

- Code (grader.integrity.code_fingerprints): winnowed k-gram fingerprints of a normalised syntax tree,
  so no-op padding, dead code, renames and reordered independent statements change nothing. The
  starter code's fingerprints (the template every student gets) are removed first.

      similarity(a, b) = |F(a) ∩ F(b)| / min(|F(a)|, |F(b)|)

- Logs (grader.integrity.log_records): records matched with tolerances, configs within 2 %, results
  closer than seed noise; similarity = min(matched in a, matched in b) / min(|a|, |b|). Text that
  holds no records is compared by its identical non-trivial lines. Records or lines that most
  submissions have (the starter code's defaults, headers) are left out; identical files score 1.
- Write-ups (grader.integrity.prose): containment of five-word shingles, the assignment's README and
  template removed first.

A pair at or above the threshold carries its evidence (`MatchedRegion`s): code lines of both files
with the matched ones marked, the matched log records, the matched sentences.
"""
from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from grader.integrity.code_fingerprints import Fingerprint, code_fingerprints
from grader.integrity.log_records import MAX_ARTIFACT_BYTES, LogRecord, log_records, record_matches
from grader.integrity.prose import MIN_SHINGLES, WriteUp, matching_sentences, read_write_up, shingles

ARTIFACT_SUFFIXES = (".jsonl", ".csv", ".log", ".tsv", ".txt")
SIMILARITY_THRESHOLD = 0.7     # pairs at least this similar are flagged (grade --similarity-threshold)
MIN_FINGERPRINTS = 5          # fewer own fingerprints than this: too little code to compare
MIN_LINES = 5                 # fewer distinct log lines (or records) than this: too little to compare
MAX_EVIDENCE_PAIRS = 50       # flagged pairs, most similar first, given their matching regions
MAX_REGIONS = 8               # matching regions shown per flagged pair
MAX_REGION_LINES = 30         # lines of each side shown per region
CONTEXT_LINES = 1             # unmatched lines shown around a matched region


@dataclass
class MatchedRegion:
    """One region of a flagged pair, side by side: each side's place and lines, matched lines marked."""
    where_a: str                                   # "hpo.py lines 12-30", "hpo_log.jsonl line 5", "analysis.md"
    where_b: str
    lines_a: list[tuple[str, bool]]                # (text as written, part of the match)
    lines_b: list[tuple[str, bool]]


@dataclass
class SimilarPair:
    """Two submissions and how much of their code, logs or write-ups they share."""
    kind: str                  # "code", "artifact" (logs) or "prose"
    a: str                     # submission ids, a < b
    b: str
    similarity: float          # 0..1 (see the module docstring)
    shared: int                # shared fingerprints (code), records or lines (artifacts), shingles (prose)
    detail: str = ""           # e.g. the identical artifact files
    regions: list[MatchedRegion] = field(default_factory=list)   # for the most similar flagged pairs


@dataclass
class IntegrityReport:
    """Every compared pair with some overlap, most similar first, and what could not be compared."""
    pairs: list[SimilarPair] = field(default_factory=list)
    threshold: float = SIMILARITY_THRESHOLD
    k: int = 8
    w: int = 4
    not_compared: list[str] = field(default_factory=list)   # "<id>: why"

    @property
    def flagged(self) -> list[SimilarPair]:
        return [p for p in self.pairs if p.similarity >= self.threshold]


# --- evidence -------------------------------------------------------------------------------------

def _runs(lines: set[int], gap: int = 2, longest: int = MAX_REGION_LINES - 2 * CONTEXT_LINES) -> list[tuple[int, int]]:
    """Sorted line numbers as (first, last) runs, lines at most `gap` apart joined (padding between),
    none longer than `longest` lines (a region shows all of its run)."""
    out: list[list[int]] = []
    for n in sorted(lines):
        if out and n - out[-1][1] <= gap and n - out[-1][0] < longest:
            out[-1][1] = n
        else:
            out.append([n, n])
    return [(a, b) for a, b in out]


def _excerpt(source_lines: list[str], marked: set[int], first: int, last: int) -> list[tuple[str, bool]]:
    first, last = max(1, first - CONTEXT_LINES), min(len(source_lines), last + CONTEXT_LINES)
    last = min(last, first + MAX_REGION_LINES - 1)
    return [(source_lines[n - 1], n in marked) for n in range(first, last + 1)]


def code_regions(file_a: str, source_a: str, prints_a: dict[int, Fingerprint], file_b: str, source_b: str,
                 prints_b: dict[int, Fingerprint]) -> list[MatchedRegion]:
    """The largest runs of matched lines in a, each beside the lines of b its fingerprints came from."""
    shared = prints_a.keys() & prints_b.keys()
    lines_a = set().union(*(prints_a[h].lines for h in shared)) if shared else set()
    regions = []
    for first, last in sorted(_runs(lines_a), key=lambda r: (r[0] - r[1], r[0]))[:MAX_REGIONS]:
        hashes = [h for h in shared if prints_a[h].lines & set(range(first, last + 1))]
        in_b = set().union(*(prints_b[h].lines for h in hashes))
        # the copy's lines may be spread (reordered): show its largest run
        b_first, b_last = max(_runs(in_b), key=lambda r: (r[1] - r[0], -r[0]))
        regions.append(MatchedRegion(f"{file_a} lines {first}-{last}", f"{file_b} lines {b_first}-{b_last}",
                                     _excerpt(source_a.splitlines(), lines_a, first, last),
                                     _excerpt(source_b.splitlines(), in_b, b_first, b_last)))
    return sorted(regions, key=lambda r: int(r.where_a.rsplit(" ", 1)[-1].split("-")[0]))


def record_regions(pairs: list[tuple[LogRecord, LogRecord]]) -> list[MatchedRegion]:
    return [MatchedRegion(f"{ra.file} line {ra.line}", f"{rb.file} line {rb.line}", [(ra.text, True)],
                          [(rb.text, True)]) for ra, rb in pairs[:MAX_REGIONS]]


def prose_regions(a: WriteUp, b: WriteUp, shared: set[int]) -> list[MatchedRegion]:
    return [MatchedRegion(sa.file, sb.file, [(sa.text, True)], [(sb.text, True)])
            for sa, sb in matching_sentences(a, b, shared, MAX_REGIONS)]


# --- the comparisons ------------------------------------------------------------------------------

Evidence = Callable[[SimilarPair], list[MatchedRegion]]   # a compared pair's matching regions, found on demand


def _compare_code(report: IntegrityReport, code: dict[str, str], base: list[str], code_names: dict[str, str]) -> Evidence:
    k, w = report.k, report.w
    common = set().union(*(code_fingerprints(s, k=k, w=w).keys() for s in base))
    prints: dict[str, dict[int, Fingerprint]] = {}
    for sid, source in sorted(code.items()):
        fp = {h: f for h, f in code_fingerprints(source, k=k, w=w).items() if h not in common}
        if len(fp) < MIN_FINGERPRINTS:
            report.not_compared.append(f"{sid}: too little code of its own to compare")
        else:
            prints[sid] = fp
    for a, b in itertools.combinations(sorted(prints), 2):
        shared = len(prints[a].keys() & prints[b].keys())
        if not shared:
            continue
        report.pairs.append(SimilarPair("code", a, b, round(shared / min(len(prints[a]), len(prints[b])), 4), shared))
    return lambda p: code_regions(code_names.get(p.a, "code"), code[p.a], prints[p.a],
                                  code_names.get(p.b, "code"), code[p.b], prints[p.b])


def _artifact_lines(files: dict[str, bytes]) -> set[str]:
    lines = set()
    for data in files.values():
        for line in data[:MAX_ARTIFACT_BYTES].decode("utf-8", errors="replace").splitlines():
            line = " ".join(line.split())
            if len(line) >= 4:
                lines.add(line)
    return lines


def _compare_logs(report: IntegrityReport, artifacts: dict[str, dict[str, bytes]]) -> Evidence:
    lines = {sid: _artifact_lines(files) for sid, files in sorted(artifacts.items()) if files}
    records = {sid: log_records(files) for sid, files in sorted(artifacts.items()) if files}
    common_share = max(3, 0.6 * len(lines))   # lines or records more submissions have are boilerplate
    if len(lines) >= 5:
        counts: dict[str, int] = {}
        for ls in lines.values():
            for line in ls:
                counts[line] = counts.get(line, 0) + 1
        frequent = {line for line, c in counts.items() if c > common_share}
        lines = {sid: ls - frequent for sid, ls in lines.items()}
    matches = record_matches(records)
    kept = {sid: [i for i in range(len(recs)) if len(matches.get((sid, i), ())) + 1 <= common_share
                  or len(records) < 5] for sid, recs in records.items()}
    digests = {sid: {hashlib.sha256(d).hexdigest(): name for name, d in files.items() if d.strip()}
               for sid, files in artifacts.items()}
    for a, b in itertools.combinations(sorted(lines), 2):
        same = sorted(f"{digests[a][h]} = {digests[b][h]}" for h in set(digests[a]) & set(digests[b]))
        la, lb = lines[a], lines[b]
        shared = len(la & lb)
        line_sim = shared / min(len(la), len(lb)) if shared and min(len(la), len(lb)) >= MIN_LINES else 0.0
        ka, kb = kept[a], kept[b]
        in_b = sum(b in matches.get((a, i), {}) for i in ka)
        in_a = sum(a in matches.get((b, j), {}) for j in kb)
        both = min(in_a, in_b)
        record_sim = both / min(len(ka), len(kb)) if both and min(len(ka), len(kb)) >= MIN_LINES else 0.0
        if same:
            pair = SimilarPair("artifact", a, b, 1.0, max(shared, both), "identical: " + ", ".join(same))
        elif record_sim and record_sim >= line_sim:
            pair = SimilarPair("artifact", a, b, round(record_sim, 4), both,
                               f"{both} matching records (of {len(ka)} and {len(kb)}; compared as numbers, configs "
                               "within 2 %, results closer than seed noise, order and format ignored)")
        elif line_sim:
            pair = SimilarPair("artifact", a, b, round(line_sim, 4), shared)
        else:
            continue
        report.pairs.append(pair)
    return lambda p: record_regions([(records[p.a][i], records[p.b][matches[(p.a, i)][p.b]]) for i in kept[p.a]
                                     if p.b in matches.get((p.a, i), {})])


def _compare_prose(report: IntegrityReport, prose: dict[str, dict[str, str]], base: list[str]) -> Evidence:
    common = set().union(*(shingles(t) for t in base))
    writeups = {sid: read_write_up(files) for sid, files in sorted(prose.items()) if files}
    counts: dict[int, int] = {}
    for wu in writeups.values():
        for s in wu.shingles:
            counts[s] = counts.get(s, 0) + 1
    frequent = {s for s, c in counts.items() if c > max(3, 0.6 * len(writeups))} if len(writeups) >= 5 else set()
    own = {sid: set(wu.shingles) - common - frequent for sid, wu in writeups.items()}
    # a short README beside the code is not a write-up: too little to compare, and not worth a line either
    comparable = sorted(sid for sid in own if len(own[sid]) >= MIN_SHINGLES)
    for a, b in itertools.combinations(comparable, 2):
        shared = own[a] & own[b]
        if not shared:
            continue
        report.pairs.append(SimilarPair("prose", a, b, round(len(shared) / min(len(own[a]), len(own[b])), 4),
                                        len(shared), f"{len(shared)} shared 5-word runs (of {len(own[a])} and "
                                        f"{len(own[b])}; the assignment's own text removed)"))
    return lambda p: prose_regions(writeups[p.a], writeups[p.b], own[p.a] & own[p.b])


def compare_submissions(*, code: dict[str, str], artifacts: dict[str, dict[str, bytes]] | None = None,
                        prose: dict[str, dict[str, str]] | None = None, base: list[str] | None = None,
                        prose_base: list[str] | None = None, code_names: dict[str, str] | None = None,
                        threshold: float = SIMILARITY_THRESHOLD, k: int = 8, w: int = 4) -> IntegrityReport:
    """Compare every pair of submissions.

    code: submission id -> source of its code file (code_names: id -> the file's name, to show);
    artifacts: id -> {file name: bytes} (logs); prose: id -> {file name: text} (write-ups);
    base: starter code whose fingerprints do not count; prose_base: the assignment's own text
    (README, template) whose shingles do not count."""
    report = IntegrityReport(threshold=threshold, k=k, w=w)
    evidence = {"code": _compare_code(report, code, base or [], code_names or {}),
                "artifact": _compare_logs(report, artifacts or {}),
                "prose": _compare_prose(report, prose or {}, prose_base or [])}
    report.pairs.sort(key=lambda p: (-p.similarity, p.kind, p.a, p.b))
    for pair in report.flagged[:MAX_EVIDENCE_PAIRS]:
        pair.regions = evidence[pair.kind](pair)
    return report
