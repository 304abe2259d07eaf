"""How the trial-log reader (grader.authoring.trial_log) holds and shows hostile values: its size
limits, the list of errors it keeps (bounded, sorted by line), JSON read without NaN or infinity,
and a value shown in a message short and safe, an integer outside 64 bits as its magnitude.

Separate from the formats: the JSONL and CSV readers (grader.authoring.trial_log_csv) and the
field checks (grader.authoring.trial_log_checks) share these rules, so a value reads the same in
every message.
"""
from __future__ import annotations

import json
import math
from typing import Any

# Limits the reader enforces besides the file's size (grader.authoring.trial_log); real logs are far below them.
MAX_ERRORS = 200             # after this many errors, only a count is kept
MAX_CONFIG_KEYS = 200
MAX_KEY_CHARS = 200
MAX_STRING_CHARS = 2_000
MAX_LIST_ITEMS = 256


class ErrorList(list):
    """Collects (line, message) pairs. finish() sorts them by line (file-level messages first) and
    keeps the first MAX_ERRORS. A count of the rest is added."""

    _HARD_CAP = 20_000  # memory bound for hostile input; far beyond what anyone reads

    def __init__(self):
        super().__init__()
        self.dropped = 0

    def add(self, line: int | None, msg: str) -> None:
        if len(self) >= self._HARD_CAP:
            self.dropped += 1
            return
        self.append((-1 if line is None else line, len(self), msg))

    def finish(self) -> list[str]:
        items = sorted(self)
        out = [msg if line < 0 else f"line {line}: {msg}" for line, _, msg in items[:MAX_ERRORS]]
        rest = self.dropped + max(0, len(items) - MAX_ERRORS)
        if rest:
            out.append(f"... and {rest} more errors")
        return out


class NonFinite(str):
    """NaN or an infinity as written in the file (`NaN`, `1e400`): kept as text, so the field check
    rejects it by the field's name and shows it as written."""


def show(v: Any, limit: int = 40) -> str:
    """A short, safe repr of a hostile value for an error message."""
    if isinstance(v, NonFinite):
        return str(v)  # NaN / Infinity as written in the file, without quotes
    if isinstance(v, int) and not isinstance(v, bool) and not -(2 ** 63) <= v < 2 ** 63:
        return out_of_range(v)  # 9.3e+18, about 10**400: not 400 digits cut off
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def _reject_constant(name: str):
    # json.loads accepts NaN/Infinity by default. Turning them into a marker lets the field check
    # reject them with the field's name.
    return NonFinite(name)


def _parse_float(text: str):
    # json.loads reads 1e400 as inf: keep it as written, so the field check names it ("got 1e400")
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


def parse_json(text: str):
    return json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)


def out_of_range(v: Any) -> str:
    """How an integer outside 64 bits reads in a message: 9.3e18 or about 10**400."""
    digits = len(str(abs(v)))
    return f"{float(v):.2g}" if digits < 300 else f"{'-' if v < 0 else ''}about 10**{digits - 1}"


def bounded(v: Any) -> bool:
    """A value every later computation can take: finite, and integers within 64 bits (float(10**400)
    raises, and numpy refuses seeds past 2**63), through lists and dicts."""
    if isinstance(v, NonFinite):
        return False
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return True
    if isinstance(v, int):
        return -(2 ** 63) <= v < 2 ** 63
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(bounded(x) for x in v)
    if isinstance(v, dict):
        return all(bounded(x) for x in v.values())
    return True
