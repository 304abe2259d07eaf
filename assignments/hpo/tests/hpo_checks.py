"""Grader-side checks for the hyperparameter-optimisation assignment. Trusted code, numpy and stdlib only.

These are pure functions over data the grader has already read (for instance with
`grader.trial_log.read_trial_log`) or over the student's source text. Nothing here imports or runs
student code. Trials are dicts with the keys of a trial-log record: "trial", "config", "seed",
"params", "val_accuracy", "train_seconds", "epochs" and "status".
"""
from __future__ import annotations

import io
import math
import random
import re
import tokenize
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["count_complete", "distinct_configs", "spearman", "rankdata", "english_score", "comment_ratio",
           "param_count_from_shapes", "pick_trials", "accuracy_matches", "COMMON_ENGLISH"]


# --- the log -------------------------------------------------------------------------------------

def _is_complete(t: Any) -> bool:
    """A finished training: status "complete" and a finite val_accuracy in [0, 1]."""
    if not isinstance(t, dict) or t.get("status") != "complete":
        return False
    acc = t.get("val_accuracy")
    return (isinstance(acc, (int, float)) and not isinstance(acc, bool) and math.isfinite(acc)
            and 0.0 <= acc <= 1.0)


def count_complete(trials: Iterable[dict]) -> int:
    """Number of complete trainings (status "complete" with a valid val_accuracy), counting each trial
    number once. Pruned and failed trials do not count towards the required number of trainings."""
    seen = set()
    for t in trials:
        if _is_complete(t):
            seen.add(t.get("trial", id(t)))
    return len(seen)


def _canonical(v: Any) -> Any:
    """A hashable form of a config value. Floats are rounded to 10 significant digits, so that
    0.1 and 0.1000000000001 (a JSON round trip) count as the same config."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            return repr(v)
        if v.is_integer() and abs(v) < 2**53:
            return int(v)  # 64 and 64.0 are the same batch size
        return float(f"{v:.10g}")
    if isinstance(v, (list, tuple)):
        return tuple(_canonical(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), _canonical(x)) for k, x in v.items()))
    return repr(v)


def distinct_configs(trials: Iterable[dict]) -> int:
    """Number of different configs among `trials` (all statuses; filter first if needed).

    Key order does not matter, and neither do float differences beyond 10 significant digits.
    Trials without a dict config are not counted.
    """
    return len({_canonical(t["config"]) for t in trials if isinstance(t, dict) and isinstance(t.get("config"), dict)})


def pick_trials(trials: Sequence[dict], k: int, seed: int) -> list[dict]:
    """A deterministic random sample of k complete trials (all of them if there are fewer).

    The candidates are ordered by trial number first, so the sample depends only on the set of trials
    and the seed, not on the order in the file. The result is sorted by trial number.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    pool = sorted((t for t in trials if _is_complete(t) and isinstance(t.get("trial"), int)), key=lambda t: t["trial"])
    if k >= len(pool):
        return list(pool)
    chosen = random.Random(seed).sample(range(len(pool)), k)  # stdlib Random: stable across Python versions
    return [pool[i] for i in sorted(chosen)]


def accuracy_matches(logged: float, rerun: float, tolerance: float = 1e-6) -> bool:
    """Whether a re-run reproduced the logged accuracy: |logged - rerun| <= tolerance.

    Use a tolerance of about one validation image (1 / n_val) when the re-run happens on other
    hardware or with another thread count. False for None, NaN or a non-number.
    """
    def ok(v):
        return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)
    if not ok(logged) or not ok(rerun) or not ok(tolerance) or tolerance < 0:
        return False
    return abs(float(logged) - float(rerun)) <= float(tolerance)


# --- statistics ----------------------------------------------------------------------------------

def rankdata(a: Sequence[float]) -> np.ndarray:
    """Ranks 1..n; ties get the average of the ranks they occupy (scipy.stats.rankdata's 'average')."""
    a = np.asarray(a, dtype=np.float64).ravel()
    order = np.argsort(a, kind="mergesort")
    ordinal = np.empty(len(a), dtype=np.float64)
    ordinal[order] = np.arange(1, len(a) + 1)
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    return (np.bincount(inverse, weights=ordinal) / counts)[inverse]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation with averaged ties (equal to scipy.stats.spearmanr's statistic).

    Returns nan when n < 2, when either input is constant, or when either contains NaN or infinity.
    Raises ValueError if the lengths differ.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0.0:
        return float("nan")
    return float(np.clip((rx @ ry) / denom, -1.0, 1.0))


# --- the write-up --------------------------------------------------------------------------------

# About 150 of the most frequent English words: the top 100 of the Oxford English Corpus list plus
# frequent inflections and function words. There are no subject words such as "model" or
# "accuracy", because those also appear untranslated in texts in other languages. Four very
# frequent words are left out on purpose, because they are also among the most common Hungarian
# words: "a" (the article), "is" ("also"), "be" (a verb prefix) and "most" ("now"). With them, a
# Hungarian text would score about 0.1 instead of close to 0.
COMMON_ENGLISH = frozenset("""
the to of and in that have i it for not on with he as you do at this but his by from they we say
her she or an will my one all would there their what so up out if about who get which go me when
make can like time no just him know take people into year your good some could them see other than
then now look only come its over think also back after use two how our work first well way even new
want because any these give day us
are was were been being has had does did done said made used using more less very much many such
each both between while where why through during before under without within same should may might
must however therefore since although though here those few own again against off further shows
shown found whereas thus per every another our its than whether
""".split())
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def english_score(text: str) -> float:
    """Fraction of word tokens (letters only, lower-cased) that are common English words.

    A light, dependency-free heuristic for "is this written in English?". Running English prose
    scores about 0.35-0.55, and a technical write-up with tables about 0.25-0.45. Hungarian and
    other languages score below 0.1. Code, numbers and markdown syntax are not words and are
    ignored. Returns 0.0 for a text without words.
    """
    if not isinstance(text, str):
        return 0.0
    text = re.sub(r"```.*?```", " ", text[:2_000_000], flags=re.S)  # fenced code is not prose
    tokens = _WORD_RE.findall(text.lower())
    if not tokens:
        return 0.0
    return sum(t in COMMON_ENGLISH for t in tokens) / len(tokens)


# --- the code ------------------------------------------------------------------------------------

def comment_ratio(source: str, *, count_inline: bool = False) -> float:
    """Fraction of non-blank source lines that are comments or docstrings.

    A line counts when it holds only a comment (percent-format markdown cells `# ...` included), or
    when it is part of a docstring, i.e. a string literal that is a statement on its own. With
    count_inline=True, a code line with a trailing `# comment` counts too. If the source does not
    tokenize (a notebook with `!pip` lines, a syntax error), the function falls back to counting
    lines that start with '#'. Returns 0.0 for a source without non-blank lines.
    """
    if not isinstance(source, str):
        return 0.0
    lines = source.splitlines()
    nonblank = {i for i, ln in enumerate(lines, start=1) if ln.strip()}
    if not nonblank:
        return 0.0
    commentish: set[int] = set()
    code: set[int] = set()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        hits = sum(1 for i in nonblank if lines[i - 1].lstrip().startswith("#"))
        return hits / len(nonblank)
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
            tokenize.ENCODING}
    # group tokens into logical lines (statements) to find string-only statements (docstrings)
    stmt: list[tokenize.TokenInfo] = []
    for tok in toks:
        if tok.type == tokenize.COMMENT:
            commentish.add(tok.start[0])
            continue
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            _classify(stmt, commentish, code)
            stmt = []
            continue
        if tok.type in skip:
            continue
        stmt.append(tok)
    _classify(stmt, commentish, code)
    if count_inline:
        hits = {i for i in commentish if i in nonblank}
    else:
        hits = {i for i in commentish - code if i in nonblank}
    return len(hits) / len(nonblank)


def _classify(stmt: list, commentish: set[int], code: set[int]) -> None:
    if not stmt:
        return
    string_types = {tokenize.STRING}
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):  # Python 3.12+ tokenizes f-strings
        if hasattr(tokenize, name):
            string_types.add(getattr(tokenize, name))
    if all(t.type in string_types for t in stmt) and stmt[0].type == tokenize.STRING:
        for t in stmt:
            commentish.update(range(t.start[0], t.end[0] + 1))
    else:
        for t in stmt:
            code.update(range(t.start[0], t.end[0] + 1))


def param_count_from_shapes(shapes: dict[str, Sequence[int]], *, exclude_buffers: bool = True) -> int:
    """Total number of parameters from {name: shape}, e.g. shapes read from a state_dict.

    A shape [] (a scalar) counts as 1. With exclude_buffers (the default), BatchNorm's running_mean,
    running_var and num_batches_tracked are skipped. They are in a state_dict, but they are not
    parameters, and model.parameters() does not count them either. Raises ValueError on a negative,
    non-integer or absurdly large dimension.
    """
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    total = 0
    for name, shape in shapes.items():
        if exclude_buffers and str(name).rsplit(".", 1)[-1] in buffers:
            continue
        if isinstance(shape, (str, bytes)) or not isinstance(shape, (list, tuple)):
            raise ValueError(f"{name}: shape must be a list of ints, got {shape!r}"[:200])
        n = 1
        for d in shape:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
                raise ValueError(f"{name}: dimensions must be non-negative ints, got {shape!r}"[:200])
            n *= int(d)
            if n > 10**13:
                raise ValueError(f"{name}: implausibly large tensor {shape!r}"[:200])
        total += n
    return total
