"""Write-ups compared by their shared five-word runs, the assignment's own text removed first.

A copied `analysis.md` (or README, a notebook's markdown cells, a `.txt` write-up) is the part of
a submission that costs a copier nothing to keep verbatim. Its words are normalised (lower case,
letters and digits only: Markdown markup, punctuation, line wrapping and numbers' formatting are
gone), every run of SHINGLE_WORDS consecutive words is a shingle, and two write-ups are compared by
containment: the share of the smaller one's shingles that the other has,

    similarity(a, b) = |S(a) ∩ S(b)| / min(|S(a)|, |S(b)|).

Shingles of the assignment's README and template (the task text every student is given, headings
a template prints) are removed first, and so are those that most submissions share: quoting the task
is not copying a classmate. Write-ups with fewer than MIN_SHINGLES shingles of their own are not
compared (a sentence or two says too little).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SHINGLE_WORDS = 5
MIN_SHINGLES = 30             # about 35 words of one's own
MAX_PROSE_BYTES = 1 << 20     # of write-ups read per submission
PROSE_SUFFIXES = (".md", ".txt", ".rst", ".markdown")
_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*#|>]|\s*\d+\.)")


@dataclass(frozen=True)
class Sentence:
    """A sentence (or table row, list item) of a write-up as written, and where."""
    file: str
    text: str
    shingles: frozenset[int]


@dataclass(frozen=True)
class WriteUp:
    """A submission's prose: its shingles and its sentences (to show the matching ones)."""
    shingles: frozenset[int]
    sentences: tuple[Sentence, ...]


def words(text: str) -> list[str]:
    """Lower-case words: runs of letters and digits (Markdown markup and punctuation dropped)."""
    return _WORD.findall(text.lower())


def shingles(text: str) -> set[int]:
    """Hashes of every run of SHINGLE_WORDS consecutive words (a shorter text: none)."""
    w = words(text)
    return {hash(tuple(w[i:i + SHINGLE_WORDS])) for i in range(len(w) - SHINGLE_WORDS + 1)}


def read_write_up(files: dict[str, str]) -> WriteUp:
    """A submission's write-up files (name -> text), as shingles and sentences. A sentence gets the
    shingles that start in it, so a shingle across two sentences belongs to the first."""
    all_shingles: set[int] = set()
    sentences: list[Sentence] = []
    for name, text in sorted(files.items()):
        text = text[:MAX_PROSE_BYTES]
        all_shingles |= shingles(text)
        parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
        # each sentence's shingles: those starting in it, its words continued into the next sentence
        flat = [(i, w) for i, p in enumerate(parts) for w in words(p)]
        own: dict[int, set[int]] = {}
        for start in range(len(flat) - SHINGLE_WORDS + 1):
            own.setdefault(flat[start][0], set()).add(hash(tuple(w for _, w in flat[start:start + SHINGLE_WORDS])))
        sentences += [Sentence(name, p, frozenset(own.get(i, ()))) for i, p in enumerate(parts)]
    return WriteUp(frozenset(all_shingles), tuple(sentences))


def matching_sentences(a: WriteUp, b: WriteUp, shared: set[int], limit: int) -> list[tuple[Sentence, Sentence]]:
    """Up to `limit` pairs (a sentence of a, the sentence of b sharing most of its shared shingles),
    the sentences with most shared shingles first."""
    pairs = []
    for s in a.sentences:
        mine = s.shingles & shared
        if not mine:
            continue
        best = max(b.sentences, key=lambda t: len(t.shingles & mine))
        if best.shingles & mine:
            pairs.append((len(mine), s, best))
    pairs.sort(key=lambda p: -p[0])
    return [(s, t) for _, s, t in pairs[:limit]]
