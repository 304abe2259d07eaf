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

Artifacts (training logs: `*.jsonl`, `*.csv`, `*.log`, `*.tsv`, `*.txt`): the share of identical
non-trivial lines, leaving out lines most submissions have (headers); identical files score 1.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import keyword
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ARTIFACT_SUFFIXES = (".jsonl", ".csv", ".log", ".tsv", ".txt")
MAX_ARTIFACT_BYTES = 5 * 2 ** 20
MIN_FINGERPRINTS = 5          # fewer own fingerprints than this: too little code to compare
MIN_LINES = 5                 # fewer distinct log lines than this: too little to compare
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
    threshold: float = 0.7
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


def compare_submissions(*, code: dict[str, str], artifacts: dict[str, dict[str, bytes]] | None = None,
                        base: list[str] | None = None, threshold: float = 0.7, k: int = 8,
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
    if len(lines) >= 5:   # lines that most submissions have are headers or boilerplate
        counts: dict[str, int] = {}
        for ls in lines.values():
            for line in ls:
                counts[line] = counts.get(line, 0) + 1
        frequent = {line for line, c in counts.items() if c > max(3, 0.6 * len(lines))}
        lines = {sid: ls - frequent for sid, ls in lines.items()}
    digests = {sid: {hashlib.sha256(d).hexdigest(): name for name, d in files.items() if d.strip()}
               for sid, files in artifacts.items()}
    for a, b in itertools.combinations(sorted(lines), 2):
        same = sorted(f"{digests[a][h]} = {digests[b][h]}" for h in set(digests[a]) & set(digests[b]))
        la, lb = lines[a], lines[b]
        shared = len(la & lb)
        if same:
            report.pairs.append(SimilarPair("artifact", a, b, 1.0, shared, "identical: " + ", ".join(same)))
        elif shared and min(len(la), len(lb)) >= MIN_LINES:
            report.pairs.append(SimilarPair("artifact", a, b, round(shared / min(len(la), len(lb)), 4), shared))
    report.pairs.sort(key=lambda p: (-p.similarity, p.kind, p.a, p.b))
    return report
