"""Training logs compared as records with tolerances, not as text.

A copied log may be re-serialised (keys reordered or renamed, JSON Lines turned into CSV, floats
printed with fewer digits, rows shuffled or renumbered) and its numbers nudged: the sampled
learning rate, dropout and weight decay multiplied by 1.005-1.008 change every printed digit and
nothing a re-run could notice. So every JSON Lines object and every CSV/TSV row (nested objects and
JSON-object cells flattened) becomes the multiset of its informative numbers: non-integral floats
with at least two significant digits, from fields whose name is not a time or a duration
(integers, strings and timings carry too little, or change on every run). Each number is a
*result* (its field names an accuracy, a loss, a score, an objective's value) or a *config*
(anything else), and two numbers agree when

- a config is within CONFIG_TOLERANCE (2 %) of the other, relative: a nudge of under a percent is
  the same sampled value, while two honest searches sample the same continuous value to 2 % rarely
  (a grid's values they share exactly, which is why results decide);
- a result is within RESULT_TOLERANCE (0.25 %) relative: closer than seed-to-seed noise (one of 287
  validation images is 0.35 % of an accuracy near 1), so two honest students who train the same
  sampled configs do not agree on most of their results, while a copy keeps them;
- either way, when both are within the precision both were written with (0.983 stands for
  0.98257).

Two records match when every informative number of the one with fewer of them agrees with a
different number of the other, a result among them when either holds one (configs alone are shared
by design: a template's default sampler seed, a grid). Candidates come from an index on logarithmic buckets, so a search
over thousands of records compares each only with records holding numbers near its two rarest.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from dataclasses import dataclass

MAX_ARTIFACT_BYTES = 5 * 2 ** 20
MAX_RECORDS = 20_000          # records read per submission (a search log has hundreds)
MATCH_DIGITS = 3              # significant digits two logged numbers must agree to, at most
CONFIG_TOLERANCE = 0.02       # relative: a sampled hyperparameter nudged by less is the same value
RESULT_TOLERANCE = 0.0025     # relative: below seed noise (one validation image of 287 is 0.35 %)
# numbers under these field names are timings, which change on every run of the same training
VOLATILE_FIELD = re.compile(r"time|second|duration|date|created|stamp|elapsed|clock|wall", re.I)
# numbers under these field names are what a training measured; the others are what it was given
RESULT_FIELD = re.compile(r"acc|loss|score|value|error|metric|objective|f1|auc|perplex|rmse|mae|mse|fid|psnr|"
                          r"precision|recall|nll|bce|reward", re.I)
_BUCKET = math.log(1.01)      # the index's bucket width: 1 % of a number
_CSV_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")
MAX_SHOWN_CHARS = 400         # of a record's text kept to show beside its match


@dataclass(frozen=True)
class Number:
    """A logged number: its value, half a unit in the last digit it was written with, its kind."""
    value: float
    half_unit: float
    result: bool

    @property
    def tolerance(self) -> float:
        return max(self.half_unit, abs(self.value) * (RESULT_TOLERANCE if self.result else CONFIG_TOLERANCE))


@dataclass(frozen=True)
class LogRecord:
    """One trial (row, JSON object) of a log: its informative numbers and where it was written."""
    numbers: tuple[Number, ...]
    file: str
    line: int
    text: str                 # the row as written (first MAX_SHOWN_CHARS characters)


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


def _informative(fields: dict) -> tuple[Number, ...]:
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
                half = 0.5 * 10.0 ** (math.floor(math.log10(abs(v))) - min(MATCH_DIGITS, digits) + 1)
                out.append(Number(v, half, bool(RESULT_FIELD.search(key.rsplit(".", 1)[-1]))))
    return tuple(sorted(out, key=lambda n: n.value))


def _rows(name: str, text: str) -> list[tuple[int, str, dict]]:
    """(line, text, flattened fields) of every JSON Lines object or CSV/TSV row of one file."""
    lines = text.splitlines()
    rows = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()]
    if not rows:
        return []
    out = []
    head = [ln for _, ln in rows[:20]]
    if sum(r.lstrip().startswith("{") for r in head) * 2 > len(head):
        for n, r in rows:
            try:
                obj = json.loads(r)
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict):
                flat: dict = {}
                _flatten("", obj, flat)
                out.append((n, r, flat))
    elif "," in rows[0][1] or "\t" in rows[0][1]:
        delimiter = "\t" if rows[0][1].count("\t") > rows[0][1].count(",") else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            table = list(itertools.islice(((reader.line_num, row) for row in reader), MAX_RECORDS + 1))
        except csv.Error:
            table = []
        if len(table) > 1:
            columns = table[0][1]
            for n, row in table[1:]:
                if len(row) == len(columns):
                    flat = {}
                    for col, cell in zip(columns, row):
                        _flatten(col, cell, flat)
                    out.append((n, delimiter.join(row), flat))
    return out


def log_records(files: dict[str, bytes]) -> list[LogRecord]:
    """The records of every JSON Lines or CSV/TSV file among `files` (see the module docstring);
    records with fewer than two informative numbers are left out. Free text gives none."""
    records: list[LogRecord] = []
    for name, data in sorted(files.items()):
        text = data[:MAX_ARTIFACT_BYTES].decode("utf-8", errors="replace")
        for line, raw, flat in _rows(name, text):
            numbers = _informative(flat)
            if len(numbers) >= 2:
                records.append(LogRecord(numbers, name, line, raw[:MAX_SHOWN_CHARS]))
            if len(records) >= MAX_RECORDS:
                return records
    return records


def _agree(a: Number, b: Number) -> bool:
    """Whether two logged numbers can stand for the same value (see the module docstring); a result
    on either side holds both to a result's tolerance."""
    if a.result or b.result:
        tolerance = max(a.half_unit + b.half_unit, RESULT_TOLERANCE * max(abs(a.value), abs(b.value)))
    else:
        tolerance = max(a.half_unit + b.half_unit, CONFIG_TOLERANCE * max(abs(a.value), abs(b.value)))
    return abs(a.value - b.value) <= tolerance + 1e-12 * abs(a.value)


def records_match(a: LogRecord, b: LogRecord) -> bool:
    """Whether every number of the record with fewer agrees with a different one of the other, a
    result among them when either record holds one: two trials of the same sampled config agree on
    the config by design (a shared sampler seed, a grid), so only their results can tell a copy."""
    short, long_ = (a.numbers, b.numbers) if len(a.numbers) <= len(b.numbers) else (b.numbers, a.numbers)
    free = list(long_)
    result_agrees = False
    for x in short:
        for i, y in enumerate(free):
            if _agree(x, y):
                result_agrees |= x.result or y.result
                del free[i]
                break
        else:
            return False
    return result_agrees or not any(n.result for n in (*a.numbers, *b.numbers))


def _bucket(x: float) -> tuple[bool, int]:
    return x > 0, math.floor(math.log(abs(x)) / _BUCKET)


def _window(n: Number) -> list[tuple[bool, int]]:
    """The buckets a number that agrees with `n` can be in."""
    sign, center = _bucket(n.value)
    reach = n.tolerance + n.half_unit + CONFIG_TOLERANCE * abs(n.value)
    span = min(60, math.ceil(math.log1p(reach / abs(n.value)) / _BUCKET) + 1)
    return [(sign, center + s) for s in range(-span, span + 1)]


def record_matches(records: dict[str, list[LogRecord]]) -> dict[tuple[str, int], dict[str, int]]:
    """(submission, record index) -> {another submission: the index of its matching record}.

    Candidates are the records holding numbers near both of a record's two rarest numbers; a copy
    that dropped one of them is found from its own side, and a match counts for both records."""
    index: dict[tuple, list[tuple[str, int]]] = {}
    for sid, recs in records.items():
        for i, rec in enumerate(recs):
            for key in {_bucket(n.value) for n in rec.numbers}:
                index.setdefault(key, []).append((sid, i))
    found: dict[tuple[str, int], dict[str, int]] = {}
    for sid, recs in records.items():
        for i, rec in enumerate(recs):
            rarest = sorted(rec.numbers, key=lambda n: (len(index[_bucket(n.value)]), n.value))[:2]
            near = [{c for key in _window(n) for c in index.get(key, ())} for n in rarest]
            for other, j in sorted(set.intersection(*near)):
                if other != sid and other not in found.get((sid, i), {}) and records_match(rec, records[other][j]):
                    found.setdefault((sid, i), {})[other] = j
                    found.setdefault((other, j), {}).setdefault(sid, i)
    return found
