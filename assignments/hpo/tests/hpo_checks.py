"""Grader-side checks for the hyperparameter-optimisation assignment. Trusted code, numpy and stdlib only.

These are pure functions over data the grader has already read (for instance with
`grader.authoring.read_trial_log`) or over the student's source text. Nothing here imports or runs
student code. Trials are dicts with the keys of a trial-log record: "trial", "config", "seed",
"params", "val_accuracy", "train_seconds", "epochs" and "status".
"""
from __future__ import annotations

import io
import math
import random
import re
import tokenize
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from collections.abc import Iterable, Sequence

import numpy as np
from markdown_prose import prose_units

__all__ = ["count_complete", "distinct_configs", "config_clusters", "accuracy_off_grid", "spearman", "rankdata", "english_score", "comment_ratio",
           "param_count_from_shapes", "size_correlations", "stated_size_correlation",
           "stated_size_strength", "strength_agrees", "strip_copied", "pearson", "kendall_tau", "pick_trials", "accuracy_matches", "COMMON_ENGLISH"]


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


# Two configs count as one training when every number in them agrees to this relative precision
# (and every int, string and bool is equal). A search never proposes such near-twins: the reference's
# 100 TPE configs on digits differ by at least 11 % in some float wherever their ints agree (its 20 CIFAR
# ones by 93 %), while a 1e-7 jitter of a copied config is 1e-4 relative or less for any value in the
# search space (lr >= 3e-4).
CONFIG_RTOL = 1e-3
ATOL_OF_RANGE = 1e-5  # the absolute floor, as a share of the key's largest value in the log
MAX_COMPARED = 20_000   # configs clustered at most (min_trials is 100): bounds the grader's time on a hostile log


def _numbers(prefix: str, v: Any, exact: list, numeric: list) -> None:
    """Split a canonical config value into exact parts and numeric dimensions (lists and dicts flattened)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        numeric.append((prefix, float(v)))
    elif isinstance(v, tuple):
        items = v if not (v and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in v)) else None
        if items is None:   # a dict, canonicalised to sorted (key, value) pairs
            for k, x in v:
                _numbers(f"{prefix}.{k}", x, exact, numeric)
        else:
            exact.append((prefix + "#len", len(v)))
            for i, x in enumerate(v):
                _numbers(f"{prefix}[{i}]", x, exact, numeric)
    else:
        exact.append((prefix, v))


def config_clusters(configs: Sequence[dict], *, rtol: float = CONFIG_RTOL) -> list[int]:
    """A cluster id for every config: configs whose numbers differ by at most `rtol` (relative; plus a
    floor of 1e-5 of the key's largest magnitude in the log, so that a weight decay of 0 or 1e-6 jittered
    by 1e-7 still agrees in a log that searches it up to 0.1) and whose other values are equal share an id. Ints (and integral floats) must be equal.

    Greedy leader clustering in a fixed order (the configs sorted by value, not by file position): a config
    joins the first cluster whose leader it is close to, else it leads a new one. Unlike rounding, a
    value next to a rounding boundary cannot split one config into two, and unlike a transitive merge,
    a chain of small steps does not collapse a genuine sweep into one config.
    """
    rows = []
    for c in configs:
        exact, numeric = [], []
        for k, v in sorted(c.items(), key=lambda kv: str(kv[0])):
            _numbers(str(k), _canonical(v), exact, numeric)
        rows.append((tuple(exact), tuple(k for k, _ in numeric), np.array([x for _, x in numeric], dtype=np.float64)))
    scale: dict[str, float] = {}
    for _, keys, vec in rows:
        for k, x in zip(keys, vec):
            scale[k] = max(scale.get(k, 0.0), abs(float(x)))
    groups: dict[tuple, list[int]] = {}
    for i, (exact, keys, _) in enumerate(rows):
        groups.setdefault((repr(exact), keys), []).append(i)
    ids = [-1] * len(rows)
    next_id = 0
    for (_, keys), members in sorted(groups.items(), key=lambda kv: kv[0]):
        atol = np.array([ATOL_OF_RANGE * scale[k] for k in keys])
        members = sorted(members, key=lambda i: tuple(rows[i][2]))
        leaders: list[np.ndarray] = []
        leader_ids: list[int] = []
        for i in members:
            v = rows[i][2]
            if leaders:
                lead = np.stack(leaders)
                integral = (lead == np.round(lead)) & (v == np.round(v))
                tol = np.where(integral, 0.0, rtol * np.maximum(np.abs(lead), np.abs(v)) + atol)
                close = np.flatnonzero((np.abs(lead - v) <= tol).all(axis=1))
                if close.size:
                    ids[i] = leader_ids[close[0]]
                    continue
            leaders.append(v)
            leader_ids.append(next_id)
            ids[i] = next_id
            next_id += 1
    return ids


def distinct_configs(trials: Iterable[dict], *, rtol: float = CONFIG_RTOL) -> int:
    """Number of different configs among `trials` (all statuses; filter first if needed).

    Key order does not matter, and configs whose numbers agree within `rtol` (relative) count once
    (see config_clusters), so jittering a copied config by 1e-7 does not make it a new training.
    Trials without a dict config are not counted; at most MAX_COMPARED configs are compared.
    """
    configs = [t["config"] for t in trials if isinstance(t, dict) and isinstance(t.get("config"), dict)]
    unique = list({_canonical(c): c for c in configs}.values())[:MAX_COMPARED]
    return len(set(config_clusters(unique, rtol=rtol)))


def _binary_half_ulp(x: float) -> float:
    """Half a unit in the last place of the narrowest float type that holds x exactly (float16,
    bfloat16, float32), or 0 for a genuine float64: an accuracy computed as a float32 mean is
    correct / n rounded to 24 bits, which JSON then writes with 17 digits."""
    for dtype, mantissa in ((np.float16, 11), (None, 8), (np.float32, 24)):
        if dtype is None:   # bfloat16: a float32 whose low 16 bits are zero
            f32 = np.float32(x)
            exact = float(f32) == x and (f32.view(np.uint32) & 0xFFFF) == 0
        else:
            with np.errstate(over="ignore"):
                exact = float(dtype(x)) == x
        if exact and x != 0:
            return 2.0 ** (math.floor(math.log2(abs(x))) - mantissa)
    return 0.0


def accuracy_off_grid(acc: Any, n_val: int) -> bool:
    """Whether `acc` cannot be (correct images) / n_val: acc * n_val is not within 1e-6 of an integer,
    allowing for how the value was stored: the rounding of the decimals as written (0.9826 stands for
    anything in [0.98255, 0.98265]) or of a float32 / float16 / bfloat16 result (0.888501763343811
    is 255 / 287 as a float32).

    A real accuracy on n_val images is a multiple of 1 / n_val; an edited or invented one usually is
    not. Values stored with little precision (0.98, a bfloat16) carry too little to tell and pass.
    """
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not math.isfinite(acc) or n_val <= 0:
        return False
    acc = float(acc)
    exponent = Decimal(repr(acc)).as_tuple().exponent
    written = 0.5 * 10.0 ** exponent if isinstance(exponent, int) and exponent < 0 else 0.0
    x = acc * n_val
    return abs(x - round(x)) > 1e-6 + max(written, _binary_half_ulp(acc)) * n_val


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
    """Spearman's rank correlation with averaged ties (equal to scipy.stats.spearmanr's statistic):
    Pearson's correlation of the ranks. Returns nan when n < 2, when either input is constant, or when
    either contains NaN or infinity. Raises ValueError if the lengths differ."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    return pearson(rankdata(x), rankdata(y))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's correlation; nan when n < 2, either input is constant or not finite."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(x @ x) * float(y @ y))
    return float(np.clip((x @ y) / denom, -1.0, 1.0)) if denom > 0 else float("nan")


def kendall_tau(x: Sequence[float], y: Sequence[float], *, max_n: int = 3000) -> float:
    """Kendall's tau-b (scipy.stats.kendalltau's default), O(n^2) on the first max_n points; nan as spearman."""
    x = np.asarray(x, dtype=np.float64).ravel()[:max_n]
    y = np.asarray(y, dtype=np.float64).ravel()[:max_n]
    if x.shape != y.shape or len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    num = float((dx * dy).sum())
    denom = math.sqrt(float(np.abs(dx).sum()) * float(np.abs(dy).sum()))
    return num / denom if denom > 0 else float("nan")


def size_correlations(params: Sequence[float], acc: Sequence[float]) -> dict[str, float]:
    """The correlations of parameter count and accuracy a student may honestly report from the log:
    Spearman's rho (what the assignment asks for), Kendall's tau, and Pearson's r on the raw and on
    the log10 parameter count. A stated value is checked against all of them."""
    params = np.asarray(params, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_params = np.log10(params)
    return {"Spearman rho": spearman(params, acc), "Kendall tau": kendall_tau(params, acc),
            "Pearson r": pearson(params, acc), "Pearson r on log10(parameters)": pearson(log_params, acc)}


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


# --- what the write-up claims --------------------------------------------------------------------

_NUMBER = r"([+\-\u2212\u2013]?\s?(?:0?\.\d+|1\.0+|[01](?![\d.,])))"
# a correlation keyword, up to 80 characters without a number that could be a correlation (a count such
# as "the 100 trials" may stand between, a sentence joined from wrapped lines is long), then a value in [-1, 1]
_CLAIM = re.compile(r"(\brho\b|\u03c1|\bspearman|\bcorrelat\w*|\bcoefficient|\bkendall|\btau\b|\u03c4|"
                    r"\br_?s\b|\br\s*(?=[=:\u2248~]))((?:[^0-9\n]|(?<![\d.])(?:[2-9]\d*|\d{2,})(?![\d.,]))"
                    r"{0,80}?)" + _NUMBER, re.I)
_CLAIM_AFTER = re.compile(_NUMBER + r"\s*\(\s*(?:spearman|rho|\u03c1|rank)", re.I)   # "0.44 (Spearman)"
_PVALUE = re.compile(r"\bp\s*(?:-?\s*value)?\s*[<>=\u2264\u2265]|\bp-value|\bsignifican|\bn\s*=|%", re.I)
_SIZE = re.compile(r"param|\bsize|width|depth|capacit|\blarg|\bbig|\bsmall|network|model", re.I)
_OTHER_KNOB = re.compile(r"batch|learning[\s_-]*rate|\blr\b|dropout|weight[\s_-]*decay|epoch", re.I)
_LOG_BASE = re.compile(r"\blog_?\{?(?:10|2)\}?|\b(?:1e|10\^)[+\-]?\d+", re.I)
_RANK = re.compile(r"rho|\u03c1|spearman|rank", re.I)
_WHOLE_SIZE = re.compile(r"(?<!hyper)param|\bsize|capacit|network|model", re.I)


def _units(text: str) -> list[str]:
    """The write-up's sentences, list items and table rows, each on one line without Markdown markup
    (markdown_prose: a hard-wrapped sentence is one unit, `**0.62**` is 0.62)."""
    return prose_units(text)


def stated_size_correlation(text: str) -> tuple[float | None, str]:
    """The correlation of network size and accuracy that `text` states, and the sentence it is in.

    Values next to a correlation keyword ("Spearman rho = 0.44", "correlation of +0.44", "r=0.4",
    "0.44 (Spearman)") count when their sentence is about size (parameters, width, depth, network...)
    and names no other hyperparameter (batch size, learning rate, ...); a claim about the whole network
    (parameters, size) comes before one about width or depth alone, then rank correlations first.
    The text is read as Markdown (markdown_prose): wrapped lines, bold numbers, lists and tables.
    p-values and sample sizes next to the keyword are not claims. (None, "") when nothing is stated.
    """
    claims = []   # (is about size, is a rank correlation, position, value, sentence)
    for pos, unit in enumerate(_units(text)):
        unit = _LOG_BASE.sub("log", unit)   # "log10(params)" must not end the search for the value
        found = []
        for m in _CLAIM.finditer(unit):
            if not _PVALUE.search(m.group(2)):
                found.append((m.group(3), m.group(1)))
        found += [(m.group(1), m.group(0)) for m in _CLAIM_AFTER.finditer(unit)]
        for number, keyword in found:
            try:
                value = float(number.replace("\u2212", "-").replace("\u2013", "-").replace(" ", ""))
            except ValueError:
                continue
            if not -1.0 <= value <= 1.0:
                continue
            size = bool(_SIZE.search(unit)) and not _OTHER_KNOB.search(unit)
            claims.append((size, bool(_RANK.search(keyword) or _RANK.search(unit)), pos, value, unit.strip()))
    if not claims:
        return None, ""
    about = [c for c in claims if c[0]] or [c for c in claims if not _OTHER_KNOB.search(c[4])]
    if not about:
        return None, ""
    # the whole network's size (parameters) before one of its knobs (width, depth), then rank correlations
    best = min(about, key=lambda c: (not _WHOLE_SIZE.search(c[4]), not c[1], c[2]))
    return best[3], best[4][:200]


# --- worded claims: "a moderate positive relation", "larger networks tend to be more accurate" ------

STRENGTH_CLASSES = {"none": (0.0, 0.1), "weak": (0.1, 0.3), "moderate": (0.3, 0.5), "strong": (0.5, 1.0),
                    "very strong": (0.7, 1.0), "some": (0.1, 1.0)}
_STRENGTH_WORD = {"no": "none", "not any": "none", "negligible": "none", "little": "none", "weak": "weak",
                  "weakly": "weak", "moderate": "moderate", "moderately": "moderate", "medium": "moderate",
                  "strong": "strong", "strongly": "strong", "high": "strong", "clear": "moderate",
                  "clearly": "moderate", "very strong": "very strong", "very strongly": "very strong",
                  "very high": "very strong"}
_LEVEL = r"(no|not\s+any|negligible|little|weak|weakly|moderate|moderately|medium|very\s+strong|very\s+strongly|" \
         r"very\s+high|strong|strongly|high|clear|clearly)"
_RELATION = r"(?:correlat\w*|relation\w*|association|dependence|trend|link)"
# "a moderate positive correlation", "weakly positively correlated", "no clear relation"
_STRENGTH = re.compile(r"\b" + _LEVEL + r"\b(?:[\s,-]+\w+){0,3}?[\s,-]+(?:(positive|negative)(?:ly)?[\s,-]+)?"
                       r"(?:\w+[\s-]+)?" + _RELATION, re.I)
# "the correlation between size and accuracy is moderate and positive"
_STRENGTH_AFTER = re.compile(_RELATION + r"\b[^.;]{0,80}?\b(?:is|was|are|were|seems|appears)\s+(?:quite\s+|rather\s+)?"
                             + _LEVEL + r"\b(?:\s*(?:,|and)?\s*(positive|negative)\b)?", re.I)
_NO_RELATION = re.compile(r"\buncorrelated\b|\b(?:does|do|did)\s+not\s+(?:seem\s+to\s+)?depend\b|"
                          r"\bindependent\s+of\b|\bno\s+(?:real\s+|visible\s+|obvious\s+)?" + _RELATION, re.I)
# "positively correlated", "a positive relationship": a sign without a strength
_SIGNED = re.compile(r"\b(positive|negative)(?:ly)?[\s,-]+(?:\w+[\s-]+)?" + _RELATION, re.I)
_BIGGER = r"(?:larger|bigger|wider|deeper|more\s+parameters|more\s+capacity)"
_SMALLER = r"(?:smaller|narrower|shallower|fewer\s+parameters|less\s+capacity)"
_BETTER = r"(?:more\s+accurate|higher\s+(?:validation\s+)?accuracy|better|outperform\w*|win)"
_WORSE = r"(?:less\s+accurate|lower\s+(?:validation\s+)?accuracy|worse|underperform\w*)"
_TENDENCY = re.compile(r"\b(?P<who>" + _BIGGER + "|" + _SMALLER + r")\b(?P<gap>[^.;:]{0,60}?)\b(?P<what>"
                       + _BETTER + "|" + _WORSE + r")\b", re.I)
_ACCURACY_MOVES = re.compile(r"\baccuracy\s+(?P<gap>(?:\w+\s+){0,2}?)(?P<move>increases|grows|rises|improves|goes\s+up|"
                             r"decreases|drops|falls|declines|goes\s+down)\s+(?:\w+\s+){0,2}?with\s+(?:the\s+)?"
                             r"(?:network\s+|model\s+)?(?:size|param\w*|width|depth|number\s+of\s+param\w*|capacity)",
                             re.I)
_NEGATION = re.compile(r"\bnot\b|n't\b|\bnever\b|\bno\b", re.I)


def _explicit_strength(unit: str) -> tuple[str | None, str | None] | None:
    """(class, sign) of a claim with a strength word, or None when the unit makes none."""
    m = _STRENGTH.search(unit)
    if m:
        word = " ".join(m.group(1).lower().split())
        sign = (m.group(2) or "").lower() or None
        if sign is None:
            after = unit[m.end():m.end() + 60].lower()
            sign = "positive" if "positive" in after else "negative" if "negative" in after else None
        return _STRENGTH_WORD.get(word), sign
    m = _STRENGTH_AFTER.search(unit)
    if m:
        return _STRENGTH_WORD.get(" ".join(m.group(1).lower().split())), (m.group(2) or "").lower() or None
    if _NO_RELATION.search(unit):
        return "none", None
    return None


def _tendency(unit: str) -> tuple[str | None, str | None] | None:
    """(class, sign) of a claim without a strength word: a signed relation or "bigger is better"."""
    m = _SIGNED.search(unit)
    if m:
        return "some", m.group(1).lower()
    m = _TENDENCY.search(unit)
    if m:
        if _NEGATION.search(m.group("gap")):
            return "none", None
        bigger = re.fullmatch(_BIGGER, m.group("who"), re.I) is not None
        better = re.fullmatch(_BETTER, m.group("what"), re.I) is not None
        return "some", "positive" if bigger == better else "negative"
    m = _ACCURACY_MOVES.search(unit)
    if m:
        if _NEGATION.search(m.group("gap")):
            return "none", None
        up = m.group("move").lower().split()[0] in ("increases", "grows", "rises", "improves", "goes") \
            and "down" not in m.group("move").lower()
        return "some", "positive" if up else "negative"
    return None


def stated_size_strength(text: str) -> tuple[str | None, str | None, str]:
    """(strength class, sign, sentence) of a worded claim about network size and accuracy.

    The phrasings read (each one is a case in tests/test_hpo_log_checks.py), about network size
    (parameters, width, depth, network, model) and accuracy:

    | phrasing (about network size and accuracy)                        | strength  | sign     |
    |--------------------------------------------------------------------|-----------|----------|
    | "no / no clear / not any / negligible / little correlation"        | none      | -        |
    | "uncorrelated", "does not depend on the size", "no relation"       | none      | -        |
    | "a weak positive correlation", "weakly positively correlated"      | weak      | positive |
    | "a moderate positive relation", "a medium, positive association"   | moderate  | positive |
    | "a clear positive trend"                                           | moderate  | positive |
    | "a strong / high negative correlation", "strongly negatively ..."  | strong    | negative |
    | "a very strong positive relationship"                              | very strong | positive |
    | "the correlation is moderate and positive" (strength after noun)  | moderate  | positive |
    | "positively correlated", "a positive relationship" (no strength)   | some      | positive |
    | "larger / bigger / wider / deeper networks tend to be more accurate" | some    | positive |
    | "smaller networks did better", "bigger models are less accurate"   | some      | negative |
    | "accuracy increases / grows / rises / improves with size"          | some      | positive |
    | "accuracy decreases / drops / falls with the parameter count"      | some      | negative |
    | "larger networks are not more accurate" (a negated tendency)       | none      | -        |

    A claim with a strength word comes first, else the first tendency; only sentences about size that
    name no other hyperparameter (batch size, learning rate, ...) count, and other languages are not
    read (the analysis must be in English). The sign is "positive", "negative" or None; the classes'
    ranges of |rho| are STRENGTH_CLASSES. (None, None, "") when there is no claim."""
    found = []   # (has a strength word, position, class, sign, sentence)
    for pos, unit in enumerate(_units(text)):
        if not _SIZE.search(unit) or _OTHER_KNOB.search(unit):
            continue
        for explicit, read in ((True, _explicit_strength), (False, _tendency)):
            claim = read(unit)
            if claim is not None and claim[0] is not None:
                found.append((explicit, pos, claim[0], claim[1], unit.strip()[:200]))
                break
    if not found:
        return None, None, ""
    _, _, strength, sign, sentence = min(found, key=lambda c: (not c[0], c[1]))
    return strength, sign, sentence


def strength_agrees(strength: str, sign: str | None, rho: float, *, slack: float = 0.1) -> bool:
    """Whether a worded claim fits rho: |rho| in the class's range widened by `slack`, and the same sign
    (a sign is not needed for "no correlation")."""
    lo, hi = STRENGTH_CLASSES[strength]
    if not lo - slack <= abs(rho) <= hi + slack:
        return False
    if strength == "none" or sign is None:
        return True
    return (rho > 0) == (sign == "positive")


_SHINGLE_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def strip_copied(text: str, sources: Sequence[str], *, n: int = 6) -> tuple[str, float]:
    """`text` without the words that belong to a run of `n` words (case and punctuation ignored) also
    found in one of `sources`, and the share of its words removed.

    Used to give no credit for the assignment's own text pasted into an answer. Six-word runs: the
    reference's analyses share 1.6 % of their words with the README and the template that way (two
    stock phrases such as "networks tend to be more accurate"; 5-word runs: 3 %, 8-word runs: none),
    while a pasted README goes entirely and a paraphrase must change every fifth word to survive."""
    shingles = set()
    for src in sources:
        w = [x.lower() for x in _SHINGLE_WORD.findall(src or "")]
        shingles.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    spans = [(m.start(), m.end(), m.group(0).lower()) for m in _SHINGLE_WORD.finditer(text)]
    words_only = [w for _, _, w in spans]
    copied = [False] * len(spans)
    for i in range(len(spans) - n + 1):
        if tuple(words_only[i:i + n]) in shingles:
            for j in range(i, i + n):
                copied[j] = True
    if not any(copied):
        return text, 0.0
    out, last = [], 0
    for (start, end, _), c in zip(spans, copied):
        if c:
            out.append(text[last:start])
            last = end
    out.append(text[last:])
    return "".join(out), sum(copied) / len(spans)


# --- how much of the write-up is about the search ------------------------------------------------

# Words that name what a hyperparameter search of a network is about, besides the log's own config keys.
# Stems: "param" covers parameters and hyperparameters, "optimi" optimiser and optimization.
_SEARCH_VOCABULARY = re.compile(
    r"param|accura|\btrial|train|epoch|\bsize|network|model|layer|width|depth|\bdeep|wide|capacit|neuron|"
    r"\bunit|filter|channel|kernel|conv|\bcnn|\bmlp|linear|optimi|learning[\s_-]*rate|\blr\b|dropout|batch|"
    r"weight|decay|regulari|\bsgd\b|adam|momentum|\bsearch|hyper|sampler|optuna|\btpe\b|random|grid|"
    r"correlat|\brho\b|\u03c1|spearman|kendall|\btau\b|\u03c4|rank|validation|\btest|seed|overfit|underfit|"
    r"converge|\bloss|gradient|budget|config|digits|cifar|image|class|noise|variance|\bbest|\bworst",
    re.I)
_NUMBER_TOKEN = re.compile(r"(?<![\w.])[+\-\u2212]?\d[\d,]*(?:\.\d+)?(?:e[+\-]?\d+)?(?![\w])", re.I)
REPEAT_RUN = 5   # a word is a repetition when every run of this many words around it appeared earlier
# Measured on the 12 English analyses in the repository (references, populations/hpo, examples/hpo):
# filler share 0.04-0.17 (repeated table cells, a heading without a search word), zlib ratio 0.32-0.41.
# The Zen-of-Python attack (one rho sentence, 17 copies of the Zen): 1.00 and 0.04; a text said twice: >= 0.5.
MAX_FILLER_SHARE = 0.5
MIN_COMPRESSION_RATIO = 0.2


def _search_values(trials: Sequence[dict], correlations: Iterable[float]) -> np.ndarray:
    """The numbers a write-up about this log may quote: parameter counts, accuracies (as fractions and
    percentages), numeric config values, trial numbers and seeds, the trial count, the grader's correlations."""
    values = [float(len(trials))] + [float(c) for c in correlations if math.isfinite(c)]
    for t in list(trials)[:MAX_COMPARED]:
        for key in ("params", "val_accuracy", "trial", "seed"):
            v = t.get(key) if isinstance(t, dict) else None
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                values += [float(v), 100.0 * v] if key == "val_accuracy" else [float(v)]
        config = t.get("config") if isinstance(t, dict) else None
        for v in (config.values() if isinstance(config, dict) else ()):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                values.append(float(v))
    return np.unique(np.abs(np.array(values, dtype=np.float64)))


def _quotes_a_value(unit: str, values: np.ndarray) -> bool:
    """Whether `unit` holds a number that one of `values` rounds to at the digits written ("98.6 %",
    "37,291", "+0.44", "0.00976"). Numbers below 10 without decimals (counts, "two points") do not count."""
    for m in _NUMBER_TOKEN.finditer(unit):
        token = m.group(0).replace("\u2212", "-").replace(",", "").lstrip("+-")
        try:
            v = float(token)
        except ValueError:
            continue
        decimals = len(token.split(".")[1].split("e")[0].split("E")[0]) if "." in token else 0
        if decimals == 0 and v < 10:
            continue
        half = 0.5 * 10.0 ** -decimals * (1 + 1e-9) if "e" not in token.lower() else abs(v) * 0.05
        i = np.searchsorted(values, v - half)
        if i < len(values) and values[i] <= v + half:
            return True
    return False


def _repeated_words(units: Sequence[Sequence[str]], n: int = REPEAT_RUN) -> list[list[bool]]:
    """For each word of each unit (sentence), whether every run of `n` words of its unit that holds it
    already appeared earlier in the text: a copied sentence, a paragraph pasted again, a phrase said over
    and over ("accuracy parameters accuracy parameters ...") count once. A unit shorter than `n` words is
    one run. Runs stay inside a unit, so the seams between pasted copies are no new text either."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for words in units:
        size = min(n, len(words))
        fresh = [False] * len(words)
        for i in range(len(words) - size + 1):
            run = tuple(words[i:i + size])
            if run not in seen:
                seen.add(run)
                fresh[i:i + size] = [True] * size
        out.append([not f for f in fresh])
    return out


@dataclass(frozen=True)
class AnalysisSubstance:
    """How much of a write-up is about the search: its words, those that repeat earlier text, those in
    sentences that name none of the search's variables or numbers, and what is left (`text`: the kept
    sentences, each on its own line, with their repeated words gone)."""
    words: int
    repeated: int
    unrelated: int
    text: str
    compression_ratio: float   # zlib size / raw size of the lower-cased words: prose ~0.4, a text said twice ~0.25

    @property
    def kept(self) -> int:
        return self.words - self.repeated - self.unrelated

    @property
    def filler_share(self) -> float:
        """The share of the words that repeat earlier text or are about something other than the search."""
        return 1.0 - self.kept / self.words if self.words else 1.0


def analysis_substance(text: str, trials: Sequence[dict] = (), correlations: Iterable[float] = ()) -> AnalysisSubstance:
    """Split a write-up (Markdown) into what is about the search and what is filler.

    A sentence (list item, table row, heading) is about the search when it names one of its variables (the
    log's config keys, parameters, accuracy, trials, the model and optimiser words of _SEARCH_VOCABULARY) or
    quotes one of its numbers (a value of the log, or the grader's correlation). Words are then repeated
    when every REPEAT_RUN-word run of their sentence holding them appeared earlier (a pasted paragraph
    counts once). Code is not prose and is not counted at all. Numbers are not words: the kept `text` holds
    words only, for counting and for the English score (the claims are read from the whole write-up)."""
    keys = {str(k).lower() for t in list(trials)[:MAX_COMPARED] if isinstance(t, dict)
            for k in (t.get("config") if isinstance(t.get("config"), dict) else {})}
    key_words = {w for k in keys for w in re.split(r"[\W_]+", k) if len(w) >= 3} | keys
    values = _search_values(trials, correlations)
    sentences = prose_units(text)
    units = [[w.lower() for w in _SHINGLE_WORD.findall(s) if any(c.isalpha() for c in w)] for s in sentences]
    about = [bool(_SEARCH_VOCABULARY.search(s)) or any(w in key_words for w in unit_words)
             or _quotes_a_value(s, values) for s, unit_words in zip(sentences, units)]
    repeated = _repeated_words(units)
    words = [w for unit_words in units for w in unit_words]
    kept = [" ".join(w for w, rep in zip(unit_words, reps) if not rep)
            for unit_words, reps, rel in zip(units, repeated, about) if rel]
    n_repeated = sum(sum(reps) for reps in repeated)
    n_unrelated = sum(len(reps) - sum(reps) for reps, rel in zip(repeated, about) if not rel)
    raw = " ".join(words).encode()
    ratio = len(zlib.compress(raw, 9)) / len(raw) if raw else 1.0
    return AnalysisSubstance(words=len(words), repeated=n_repeated, unrelated=n_unrelated,
                             text="\n".join(k for k in kept if k), compression_ratio=ratio)
