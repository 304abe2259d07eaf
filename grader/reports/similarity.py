"""Similarity between submissions for the integrity report, measured the way MOSS does.

Code: Python's `tokenize` turns each code file into tokens; every name becomes `ID`, every string
`STR`, every number `NUM`; comments, blank lines, line breaks and indentation are dropped, and
keywords and operators are kept. Renaming variables, reformatting, re-commenting or changing
constants therefore changes nothing. Each run of `k` tokens is hashed and, in every window of `w`
consecutive hashes, the smallest (the rightmost of equals) becomes a fingerprint: winnowing
(Schleimer, Wilkerson, Aiken, "Winnowing: local algorithms for document fingerprinting",
SIGMOD 2003). Any shared run of at least `w + k - 1` tokens yields a shared fingerprint; runs
shorter than `k` never do. Fingerprints of the starter code (the template every student gets)
are removed first, so only the students' own code counts.

    similarity(a, b) = |F(a) ∩ F(b)| / min(|F(a)|, |F(b)|)

Artifacts (training logs: `*.jsonl`, `*.csv`, `*.log`, `*.tsv`, `*.txt`) are compared as parsed
records, not as text, so that re-serialising a copied log (keys reordered or renamed, JSON Lines
turned into CSV, floats printed with fewer digits, the rows shuffled or renumbered) changes
nothing. Every JSON Lines object and every CSV/TSV row (nested objects and JSON-object cells
flattened) becomes the multiset of its informative numbers: non-integral floats with at least two
significant digits, from fields whose name is not a time or a duration. Integers (epochs, trial
numbers, widths), strings and timings carry too little to tell two logs apart, or change on
every run. Two records match when every informative number of the one with fewer of them equals
one of the other's to the precision both were written with (at most three significant digits):
a copied trial matches whatever its format, while two honest trials that share a sampled learning
rate but not the accuracy do not. The similarity is the share of matching records,
min(matched in a, matched in b) / min(|a|, |b|); for text that holds no such records it is the share
of identical non-trivial lines. Records or lines that most submissions have (the starter code's
defaults, headers) are left out; identical files score 1.
"""
from __future__ import annotations

import hashlib
import io
import csv
import itertools
import json
import keyword
import math
import re
import tokenize
from dataclasses import dataclass, field

ARTIFACT_SUFFIXES = (".jsonl", ".csv", ".log", ".tsv", ".txt")
MAX_ARTIFACT_BYTES = 5 * 2 ** 20
SIMILARITY_THRESHOLD = 0.7     # pairs at least this similar are flagged (grade --similarity-threshold)
MIN_FINGERPRINTS = 5          # fewer own fingerprints than this: too little code to compare
MIN_LINES = 5                 # fewer distinct log lines (or records) than this: too little to compare
MAX_RECORDS = 20_000          # records read per submission (a search log has hundreds)
MATCH_DIGITS = 3              # significant digits two logged numbers must agree to
# numbers under these field names are timings, which change on every run of the same training
VOLATILE_FIELD = re.compile(r"time|second|duration|date|created|stamp|elapsed|clock|wall", re.I)
DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_TYPES = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                  if hasattr(tokenize, n)}   # Python 3.12+
_FALLBACK_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"[^\"\n]*\"|'[^'\n]*'|\S")


@dataclass
class SimilarPair:
    """Two submissions and how much of their code (or logs) they share."""
    kind: str                  # "code" or "artifact"
    a: str                     # submission ids, a < b
    b: str
    similarity: float          # 0..1 (see the module docstring)
    shared: int                # shared fingerprints (code) or lines (artifacts)
    detail: str = ""           # e.g. the identical artifact files


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


def normalized_tokens(source: str) -> list[str]:
    """The token stream with names, strings and numbers replaced by placeholders."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in DROPPED:
                continue
            if tok.type == tokenize.NAME:
                out.append(tok.string if keyword.iskeyword(tok.string) else "ID")
            elif tok.type == tokenize.STRING or tok.type in _FSTRING_TYPES:
                if not out or out[-1] != "STR":   # an f-string's parts count as one string
                    out.append("STR")
            elif tok.type == tokenize.NUMBER:
                out.append("NUM")
            else:
                out.append(tok.string)
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # code that does not tokenize (a half-finished notebook cell): a rough regex tokenizer
        out = []
        for t in _FALLBACK_TOKEN.findall(re.sub(r"#[^\n]*", "", source)):
            if t[0] in "\"'":
                out.append("STR")
            elif t[0].isdigit():
                out.append("NUM")
            elif t[0].isalpha() or t[0] == "_":
                out.append(t if keyword.iskeyword(t) else "ID")
            else:
                out.append(t)
        return out


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def fingerprints(tokens: list[str], *, k: int = 8, w: int = 4) -> set[int]:
    """Winnowed k-gram hashes of a token list."""
    hashes = [_hash("\x1f".join(tokens[i:i + k])) for i in range(len(tokens) - k + 1)]
    if not hashes:
        return set()
    if len(hashes) < w:
        return {min(hashes)}
    chosen, last = set(), -1
    for start in range(len(hashes) - w + 1):
        window = hashes[start:start + w]
        low = min(window)
        pos = start + max(i for i, h in enumerate(window) if h == low)   # rightmost minimum
        if pos != last:
            chosen.add(hashes[pos])
            last = pos
    return chosen


def code_similarity(a: str, b: str, *, k: int = 8, w: int = 4) -> float:
    """The similarity of two pieces of Python source (no template removed)."""
    fa, fb = (fingerprints(normalized_tokens(s), k=k, w=w) for s in (a, b))
    return len(fa & fb) / min(len(fa), len(fb)) if fa and fb else 0.0


def _artifact_lines(files: dict[str, bytes]) -> set[str]:
    lines = set()
    for data in files.values():
        for line in data[:MAX_ARTIFACT_BYTES].decode("utf-8", errors="replace").splitlines():
            line = " ".join(line.split())
            if len(line) >= 4:
                lines.add(line)
    return lines


# --- logs as records -------------------------------------------------------------------------------

Value = tuple   # (the number, half a unit in the last digit it was written with, at most MATCH_DIGITS)


def _sig_digits(x: float) -> int:
    mantissa = repr(abs(x)).lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _flatten(prefix: str, v, out: dict, depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(v, str) and v.lstrip().startswith("{") and len(v) < 100_000:
        try:
            v = json.loads(v)
        except (ValueError, RecursionError):
            return
    if isinstance(v, dict):
        for k, x in v.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), x, out, depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v[:256]):
            _flatten(f"{prefix}[{i}]", x, out, depth + 1)
    else:
        out[prefix] = v


_CSV_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")


def _informative(fields: dict) -> tuple[Value, ...]:
    """The record's non-integral floats with >= 2 significant digits, from fields that are not timings."""
    out = []
    for key, v in fields.items():
        if VOLATILE_FIELD.search(key):
            continue
        if isinstance(v, str):
            v = v.strip()
            if not _CSV_FLOAT.match(v):
                continue
            v = float(v)
        if isinstance(v, float) and math.isfinite(v) and not v.is_integer():
            digits = _sig_digits(v)
            if digits >= 2:
                out.append((v, 0.5 * 10.0 ** (math.floor(math.log10(abs(v))) - min(MATCH_DIGITS, digits) + 1)))
    return tuple(sorted(out))


def log_records(files: dict[str, bytes]) -> list[tuple[Value, ...]]:
    """The records of every JSON Lines or CSV/TSV file among `files`, as their informative numbers
    (see the module docstring); records with fewer than two are left out. Files that are neither
    (free text) give none."""
    records: list[tuple[Value, ...]] = []
    for data in files.values():
        text = data[:MAX_ARTIFACT_BYTES].decode("utf-8", errors="replace")
        rows = [ln for ln in text.splitlines() if ln.strip()]
        if not rows:
            continue
        parsed: list[dict] = []
        if sum(r.lstrip().startswith("{") for r in rows[:20]) * 2 > min(len(rows), 20):
            for r in rows:
                try:
                    obj = json.loads(r)
                except (ValueError, RecursionError):
                    continue
                if isinstance(obj, dict):
                    flat: dict = {}
                    _flatten("", obj, flat)
                    parsed.append(flat)
        elif "," in rows[0] or "\t" in rows[0]:
            delimiter = "\t" if rows[0].count("\t") > rows[0].count(",") else ","
            try:
                table = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), MAX_RECORDS + 1))
            except csv.Error:
                table = []
            if len(table) > 1:
                columns = table[0]
                for row in table[1:]:
                    if len(row) == len(columns):
                        flat = {}
                        for col, cell in zip(columns, row):
                            _flatten(col, cell, flat)
                        parsed.append(flat)
        for flat in parsed:
            values = _informative(flat)
            if len(values) >= 2:
                records.append(values)
            if len(records) >= MAX_RECORDS:
                return records
    return records


def _same_number(a: Value, b: Value) -> bool:
    """Whether two written numbers can stand for the same value: their rounding intervals overlap
    (0.98257 and 0.9826 and 0.983 agree; 0.979 and 0.983 do not)."""
    return abs(a[0] - b[0]) <= a[1] + b[1] + 1e-12 * abs(a[0])


def records_match(a: tuple[Value, ...], b: tuple[Value, ...]) -> bool:
    """Whether every number of the shorter record equals a different one of the longer record."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    free = list(long_)
    for x in short:
        for i, y in enumerate(free):
            if _same_number(x, y):
                del free[i]
                break
        else:
            return False
    return True


def _bucket(x: float, shift: int = 0) -> tuple:
    """A number's index bucket: its sign, decimal exponent and first two significant digits (+ shift)."""
    e = math.floor(math.log10(abs(x)))
    return (x > 0, e, math.floor(abs(x) / 10.0 ** (e - 1)) + shift)


def _record_matches(records: dict[str, list[tuple[Value, ...]]]) -> dict[tuple[str, int], set[str]]:
    """(submission, record index) -> the other submissions holding a matching record.

    Candidates come from an index on two-digit buckets: the records holding, in its bucket or the two
    next to it (rounding may have moved a copy's number across), both of a record's two rarest numbers.
    A copy that dropped one of them is found from its own side; a match counts for both records."""
    index: dict[tuple, list[tuple[str, int]]] = {}
    for sid, recs in records.items():
        for i, rec in enumerate(recs):
            for key in {_bucket(v[0]) for v in rec}:
                index.setdefault(key, []).append((sid, i))
    found: dict[tuple[str, int], set[str]] = {}
    for sid, recs in records.items():
        for i, rec in enumerate(recs):
            rarest = sorted({_bucket(v[0]) for v in rec}, key=lambda k: (len(index[k]), k))[:2]
            near = [{c for shift in (0, -1, 1) for c in index.get((sign, e, m + shift), ())} for sign, e, m in rarest]
            for other, j in set.intersection(*near):   # a copy holds both numbers (or is found from its side)
                if other != sid and records_match(rec, records[other][j]):
                    found.setdefault((sid, i), set()).add(other)
                    found.setdefault((other, j), set()).add(sid)
    return found


def compare_submissions(*, code: dict[str, str], artifacts: dict[str, dict[str, bytes]] | None = None,
                        base: list[str] | None = None, threshold: float = SIMILARITY_THRESHOLD, k: int = 8,
                        w: int = 4) -> IntegrityReport:
    """Compare every pair of submissions.

    code: submission id -> source of its code file; artifacts: id -> {file name: bytes};
    base: starter code whose fingerprints do not count."""
    report = IntegrityReport(threshold=threshold, k=k, w=w)
    common = set().union(*(fingerprints(normalized_tokens(s), k=k, w=w) for s in base or []))
    prints = {}
    for sid, source in sorted(code.items()):
        fp = fingerprints(normalized_tokens(source), k=k, w=w) - common
        if len(fp) < MIN_FINGERPRINTS:
            report.not_compared.append(f"{sid}: too little code of its own to compare")
        else:
            prints[sid] = fp
    for a, b in itertools.combinations(sorted(prints), 2):
        shared = len(prints[a] & prints[b])
        if shared:
            report.pairs.append(SimilarPair("code", a, b, round(shared / min(len(prints[a]), len(prints[b])), 4),
                                            shared))
    artifacts = artifacts or {}
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
    matches = _record_matches(records)
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
        in_b = sum(b in matches.get((a, i), ()) for i in ka)
        in_a = sum(a in matches.get((b, i), ()) for i in kb)
        both = min(in_a, in_b)
        record_sim = both / min(len(ka), len(kb)) if both and min(len(ka), len(kb)) >= MIN_LINES else 0.0
        if same:
            report.pairs.append(SimilarPair("artifact", a, b, 1.0, max(shared, both), "identical: " + ", ".join(same)))
        elif record_sim and record_sim >= line_sim:
            report.pairs.append(SimilarPair("artifact", a, b, round(record_sim, 4), both,
                                            f"{both} matching records (of {len(ka)} and {len(kb)}; compared as "
                                            "numbers, order and format ignored)"))
        elif line_sim:
            report.pairs.append(SimilarPair("artifact", a, b, round(line_sim, 4), shared))
    report.pairs.sort(key=lambda p: (-p.similarity, p.kind, p.a, p.b))
    return report
