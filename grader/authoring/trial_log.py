"""Reading trial logs handed in by students (trusted side): hostile input, bounded and explained.

The format, and the `TrialLog` that writes it, live in the student package
(`dlcourse/trial_log.py`); `TrialLog` is re-exported here so `grader.authoring.trial_log.TrialLog` keeps
working. `read_trial_log(path_or_text)` returns `(header, trials, errors)`. It accepts the JSONL
that TrialLog writes, a CSV with the same columns (`config` as a JSON string column, or flattened
`config.<key>` / `params_<key>` columns; comma-, semicolon- or tab-separated, with a decimal comma
where the separator is a semicolon), and the CSV that Optuna's `study.trials_dataframe()` exports.
The reader treats its input as hostile. It caps sizes, never evaluates or unpickles anything,
rejects NaN and infinity, and checks types and ranges. It also drops duplicate trial numbers.
Each problem becomes a readable error that starts with its line number.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from dlcourse.trial_log import STATUSES, TRIAL_FIELDS, TrialLog, _is_int, _is_number  # noqa: F401

__all__ = ["TrialLog", "read_trial_log", "STATUSES", "TRIAL_FIELDS"]

# Limits the reader enforces. Real logs are far below them (100 trials take about 30 kB).
DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_RECORDS = 100_000
MAX_ERRORS = 200             # after this many errors, only a count is kept
MAX_CONFIG_KEYS = 200
MAX_KEY_CHARS = 200
MAX_STRING_CHARS = 2_000
MAX_LIST_ITEMS = 256

_STATUS_ALIASES = {
    "complete": "complete", "completed": "complete", "ok": "complete", "success": "complete",
    "pruned": "pruned",
    "failed": "failed", "fail": "failed", "error": "failed",
}


# --- reading -------------------------------------------------------------------------------------

class _Errors(list):
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


def _show(v: Any, limit: int = 40) -> str:
    """A short, safe repr of a hostile value for an error message."""
    if isinstance(v, _NonFinite):
        return str(v)  # NaN / Infinity as written in the file, without quotes
    if isinstance(v, int) and not isinstance(v, bool) and not -(2 ** 63) <= v < 2 ** 63:
        return _out_of_range(v)  # 9.3e+18, about 10**400: not 400 digits cut off
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def read_trial_log(path_or_text: str | bytes | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES,
                   max_records: int = DEFAULT_MAX_RECORDS) -> tuple[dict, list[dict], list[str]]:
    """Read a trial log. Returns (header, trials, errors). This function never raises on bad content.

    `path_or_text` is a path (str or PathLike) to a .jsonl or .csv file, the file's bytes, or its
    text. A str counts as text when it contains a newline or starts with "{". The format is found
    from the content. A first record starting with "{" means JSONL, and anything else is read as
    CSV. A CSV with the columns `number` and `state` is taken to be an Optuna
    `trials_dataframe()` export.

    header: the header record (for CSV or a headerless JSONL, a synthesized header with
        "method": None or "optuna", "dataset": None), plus "source_format": "jsonl" | "csv" |
        "optuna-csv".
    trials: one dict per trial that was accepted, in file order, with the keys of TRIAL_FIELDS plus
        "line" (its line number). Fields that were missing or invalid are None. A trial is dropped
        only when its trial number or status is unusable, when a complete trial has no valid
        val_accuracy, or when its trial number duplicates an earlier one.
    errors: readable messages such as "line 17: val_accuracy must be a number between 0 and 1,
        got 'abc'". An empty list means the log is fully valid.
    """
    errors = _Errors()
    header: dict = {"type": "header", "method": None, "dataset": None, "source_format": None}
    text = _load_text(path_or_text, max_bytes, errors)
    if text is None:
        return header, [], errors.finish()
    first = next((ln.lstrip() for ln in text.splitlines() if ln.strip()), "")
    if not first:
        errors.add(None, "the log is empty")
        return header, [], errors.finish()
    if first.startswith("{"):
        header, raw = _read_jsonl(text, max_records, errors)
    else:
        header, raw = _read_csv(text, max_records, errors)
    trials = _validate_all(raw, errors)
    if not trials and not errors:
        errors.add(None, "the log holds no trials")
    return header, trials, errors.finish()


def _load_text(src: Any, max_bytes: int, errors: _Errors) -> str | None:
    data: bytes
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, str) and (not src.strip() or "\n" in src or src.lstrip().startswith("{") or len(src) > 4096):
        if len(src) > max_bytes:  # a char is at least one byte: cheap lower bound before encoding
            errors.add(None, f"the log is larger than the limit of {max_bytes} bytes")
            return None
        data = src.encode("utf-8", errors="surrogatepass")
    elif isinstance(src, (str, os.PathLike)):
        p = Path(src)
        try:
            if not p.is_file():
                errors.add(None, f"no such file: {_show(str(p), 200)}")
                return None
            if p.stat().st_size > max_bytes:
                errors.add(None, f"the log is {p.stat().st_size} bytes, larger than the limit of {max_bytes} bytes")
                return None
            with open(p, "rb") as f:
                data = f.read(max_bytes + 1)  # the file may grow between stat and read
        except OSError as e:
            errors.add(None, f"cannot read {_show(str(p), 200)}: {e.strerror or e}")
            return None
    else:
        errors.add(None, f"expected a path, bytes or text, got {type(src).__name__}")
        return None
    if len(data) > max_bytes:
        errors.add(None, f"the log is larger than the limit of {max_bytes} bytes")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        errors.add(line, "the file is not valid UTF-8 text (undecodable bytes were replaced)")
        text = data.decode("utf-8-sig", errors="replace")
    if "\x00" in text:
        errors.add(text[: text.index("\x00")].count("\n") + 1, "the file contains NUL bytes (binary data?)")
        text = text.replace("\x00", "")
    return text


def _reject_constant(name: str):
    # json.loads accepts NaN/Infinity by default. Turning them into a marker lets the field check
    # reject them with the field's name.
    return _NonFinite(name)


def _parse_float(text: str):
    # json.loads reads 1e400 as inf: keep it as written, so the field check names it ("got 1e400")
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _json(text: str):
    return json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)


def _out_of_range(v: Any) -> str:
    """How an integer outside 64 bits reads in a message: 9.3e18 or about 10**400."""
    digits = len(str(abs(v)))
    return f"{float(v):.2g}" if digits < 300 else f"{'-' if v < 0 else ''}about 10**{digits - 1}"


def _bounded(v: Any) -> bool:
    """A value every later computation can take: finite, and integers within 64 bits (float(10**400)
    raises, and numpy refuses seeds past 2**63), through lists and dicts."""
    if isinstance(v, _NonFinite):
        return False
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return True
    if isinstance(v, int):
        return -(2 ** 63) <= v < 2 ** 63
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(_bounded(x) for x in v)
    if isinstance(v, dict):
        return all(_bounded(x) for x in v.values())
    return True


class _NonFinite(str):
    pass


def _read_jsonl(text: str, max_records: int, errors: _Errors) -> tuple[dict, list[tuple[int, dict, str]]]:
    header: dict | None = None
    raw: list[tuple[int, dict, str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if len(raw) >= max_records:
            errors.add(line_no, f"more than {max_records} records; the rest of the file is ignored")
            break
        try:
            obj = _json(s)
        except RecursionError:
            errors.add(line_no, "JSON nested too deeply")
            continue
        except json.JSONDecodeError as e:
            errors.add(line_no, f"not valid JSON ({e.msg} at column {e.colno})")
            continue
        except ValueError:  # an integer literal with thousands of digits
            errors.add(line_no, "not valid JSON (a number is too long)")
            continue
        if not isinstance(obj, dict):
            errors.add(line_no, f"each line must be a JSON object, got {type(obj).__name__}")
            continue
        kind = obj.get("type", "trial" if "trial" in obj else None)
        if kind == "header":
            if header is None and not raw:
                header = {k: v for k, v in obj.items() if isinstance(k, str) and len(k) <= MAX_KEY_CHARS}
                for key, v in list(header.items()):
                    if not _bounded(v):  # the tests read n_val, max_epochs, ... from here
                        errors.add(line_no, f"header field {key!r} is {_show(v)}, not a finite number within "
                                            "the range of 64 bits; it is ignored")
                        header[key] = None
            else:
                errors.add(line_no, "a header record may appear only once, on the first line (ignored)")
            continue
        if kind != "trial":
            errors.add(line_no, f"unknown record type {_show(kind)} (expected 'header' or 'trial')")
            continue
        raw.append((line_no, obj, "jsonl"))
    if header is None:
        errors.add(1, "the first line should be a header record {\"type\": \"header\", \"method\": ..., \"dataset\": ...}")
        header = {"type": "header", "method": None, "dataset": None}
    else:
        for key in ("method", "dataset"):
            if not isinstance(header.get(key), str) or not header.get(key):
                errors.add(1, f"header field {key!r} must be a non-empty string, got {_show(header.get(key))}")
    header["source_format"] = "jsonl"
    return header, raw


_OPTUNA_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
_OPTUNA_UNFINISHED = {"RUNNING", "WAITING"}


def _read_csv(text: str, max_records: int, errors: _Errors) -> tuple[dict, list[tuple[int, dict, str]]]:
    header = {"type": "header", "method": None, "dataset": None, "source_format": "csv"}
    raw: list[tuple[int, dict, str]] = []
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(MAX_STRING_CHARS * 50, 1_000_000))
    try:
        delimiter = _csv_delimiter(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            columns = [c.strip() for c in next(reader)]
        except (StopIteration, csv.Error) as e:
            errors.add(1, f"cannot read the CSV header row ({e})")
            return header, raw
        optuna = "number" in columns and "state" in columns and "trial" not in columns
        if optuna:
            header.update(method="optuna", source_format="optuna-csv")
        known = _csv_known_columns(columns, optuna, errors)
        if known is None:
            return header, raw
        known["decimal_comma"] = delimiter == ";"  # a European export (pandas sep=";", decimal=",")
        while True:
            line_no = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                errors.add(line_no, f"CSV syntax error ({e}); the rest of the file is ignored")
                break
            if not any(c.strip() for c in row):
                continue
            if len(raw) >= max_records:
                errors.add(line_no, f"more than {max_records} records; the rest of the file is ignored")
                break
            if len(row) != len(columns):
                errors.add(line_no, f"row has {len(row)} fields but the header has {len(columns)}")
                continue
            rec = _csv_row_to_record(dict(zip(columns, row)), known, optuna, line_no, errors)
            if rec is not None:
                raw.append((line_no, rec, "optuna-csv" if optuna else "csv"))
    finally:
        csv.field_size_limit(old_limit)
    return header, raw


def _csv_known_columns(columns: list[str], optuna: bool, errors: _Errors) -> dict | None:
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        errors.add(1, f"duplicate column names {dup[:5]}")
        return None
    cfg_cols = {c: c.split(".", 1)[1] for c in columns if c.startswith("config.") and len(c) > 7}
    cfg_cols.update({c: c[len("params_"):] for c in columns if c.startswith("params_") and len(c) > 7})
    required = ("number", "state") if optuna else ("trial", "status")
    missing = [c for c in required if c not in columns]
    if missing:
        errors.add(1, f"required column(s) {missing} missing; is this a trial log? "
                      f"(columns: {', '.join(_show(c, 30) for c in columns[:12])})")
        return None
    if optuna:
        expected = {"value": "val_accuracy", "user_attrs_params": "params", "user_attrs_seed": "seed",
                    "user_attrs_epochs": "epochs"}
        for col in expected:
            if col not in columns and not (col == "value" and "user_attrs_val_accuracy" in columns):
                errors.add(1, f"column {col!r} is missing, so every trial's {expected[col]} is unknown")
        if "user_attrs_train_seconds" not in columns and "duration" not in columns and not (
                "datetime_start" in columns and "datetime_complete" in columns):
            errors.add(1, "no user_attrs_train_seconds, duration or datetime columns, so train_seconds is unknown")
    else:
        for col in ("seed", "params", "val_accuracy", "train_seconds", "epochs"):
            if col not in columns:
                errors.add(1, f"column {col!r} is missing")
        if "config" not in columns and not cfg_cols:
            errors.add(1, "no 'config' column and no 'config.<key>' or 'params_<key>' columns")
    if len(cfg_cols) > MAX_CONFIG_KEYS:
        errors.add(1, f"more than {MAX_CONFIG_KEYS} config columns")
        return None
    return {"config_columns": cfg_cols}


_INT_RE = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$")
_DURATION_RE = re.compile(r"^(-?\d{1,6}) days? (\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _csv_delimiter(text: str) -> str:
    """The separator of the header row: the one of , ; and tab it holds most of (commas on a tie),
    counted outside double quotes, so a `config` column of JSON does not decide it."""
    header = re.sub(r'"[^"]*"', "", text.lstrip().split("\n", 1)[0][:10_000])
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


_DECIMAL_COMMA_RE = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d{1,3})?$")


def _csv_scalar(s: str, decimal_comma: bool = False) -> Any:
    """Type a CSV cell conservatively: int, float, bool, None for an empty cell, or the string.
    With `decimal_comma`, "0,71" is the number 0.71."""
    t = s.strip()
    if t == "":
        return None
    if decimal_comma and _DECIMAL_COMMA_RE.match(t):
        t = t.replace(",", ".")
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        return float(t) if math.isfinite(float(t)) else _NonFinite(t)
    if t.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return _NonFinite(t)
    if t in ("True", "true", "TRUE"):
        return True
    if t in ("False", "false", "FALSE"):
        return False
    return s


def _csv_row_to_record(row: dict[str, str], known: dict, optuna: bool, line_no: int, errors: _Errors) -> dict | None:
    dc = known.get("decimal_comma", False)
    rec: dict[str, Any] = {}
    config: Any = {}
    if "config" in row and row["config"].strip():
        try:
            config = _json(row["config"])
        except (ValueError, RecursionError):
            errors.add(line_no, f"config must be a JSON object string, got {_show(row['config'])}")
            config = None
    if isinstance(config, dict):
        for col, key in known["config_columns"].items():
            v = _csv_scalar(row[col], dc)
            if v is not None:  # an empty cell: that parameter was not used in this trial
                config[key] = v
    rec["config"] = config
    if optuna:
        state = row["state"].strip()
        if state.upper() in _OPTUNA_UNFINISHED:
            errors.add(line_no, f"trial {_show(row['number'])} is still {state.upper()} (skipped)")
            return None
        rec["trial"] = _csv_scalar(row["number"], dc)
        rec["status"] = _OPTUNA_STATES.get(state.upper(), state)
        val = row.get("value", "")
        if not val.strip():
            val = row.get("user_attrs_val_accuracy", "")
        rec["val_accuracy"] = _csv_scalar(val, dc)
        for field in ("params", "seed", "epochs", "train_seconds"):
            if f"user_attrs_{field}" in row:
                rec[field] = _csv_scalar(row[f"user_attrs_{field}"], dc)
        if rec.get("train_seconds") is None:
            rec["train_seconds"] = _optuna_duration(row)
    else:
        for field in ("trial", "seed", "params", "val_accuracy", "train_seconds", "epochs", "status"):
            if field in row:
                rec[field] = _csv_scalar(row[field], dc)
    return rec


def _optuna_duration(row: dict[str, str]) -> float | None:
    """Seconds from pandas' Timedelta text ("0 days 00:00:01.5") or from the two datetimes."""
    m = _DURATION_RE.match(row.get("duration", "").strip())
    if m:
        d, h, mi, s = m.groups()
        return int(d) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    try:
        t0 = _dt.datetime.fromisoformat(row.get("datetime_start", "").strip())
        t1 = _dt.datetime.fromisoformat(row.get("datetime_complete", "").strip())
        return (t1 - t0).total_seconds()
    except (ValueError, TypeError):
        return None


def _validate_all(raw: list[tuple[int, dict, str]], errors: _Errors) -> list[dict]:
    trials: list[dict] = []
    first_seen: dict[int, int] = {}
    for line_no, obj, source in raw:
        t = _validate_trial(obj, line_no, source, errors)
        if t is None:
            continue
        if t["trial"] in first_seen:
            errors.add(line_no, f"duplicate trial number {t['trial']} (first on line {first_seen[t['trial']]}); ignored")
            continue
        first_seen[t["trial"]] = line_no
        trials.append(t)
    return trials


def _validate_trial(obj: dict, line_no: int, source: str, errors: _Errors) -> dict | None:
    """Check one raw trial. Bad optional fields become None. Returns None to drop the trial."""
    missing_ok = source == "optuna-csv"  # a missing optional column was already reported once

    def err(msg):
        errors.add(line_no, msg)

    trial = obj.get("trial")
    if not _is_int(trial) or trial < 0:
        err(f"trial must be a non-negative integer, got {_show(trial)}")
        return None

    status = obj.get("status")
    if isinstance(status, str) and status.strip().lower() in _STATUS_ALIASES:
        status = _STATUS_ALIASES[status.strip().lower()]
    if status not in STATUSES:
        err(f"status must be one of 'complete', 'pruned', 'failed', got {_show(status)}")
        return None

    acc = obj.get("val_accuracy")
    if acc is None and status != "complete":
        acc = None  # a pruned or failed trial may have no accuracy
    elif isinstance(acc, _NonFinite) or not _is_number(acc) or not 0.0 <= float(acc) <= 1.0:
        hint = ""
        if _is_number(acc) and 1.0 < float(acc) <= 100.0:
            hint = " (a fraction, not a percentage)"
        elif acc is None:
            hint = " (missing)"
        err(f"val_accuracy must be a number between 0 and 1{hint}, got {_show(acc)}")
        if status == "complete":
            return None
        acc = None
    else:
        acc = float(acc)

    out: dict[str, Any] = {"trial": int(trial), "config": _check_config(obj.get("config"), err)}
    for field, kind in (("seed", "int"), ("params", "count"), ("val_accuracy", None), ("train_seconds", "seconds"),
                        ("epochs", "count")):
        if kind is None:
            out[field] = acc
            continue
        v = obj.get(field)
        if field not in obj:
            if not missing_ok:
                err(f"{field} is missing")
            out[field] = None
            continue
        if v is None:  # JSON null or an empty CSV cell
            if status != "failed":
                err(f"{field} is empty")
            out[field] = None
            continue
        if kind == "int":
            ok = _is_int(v)
        elif kind == "count":
            ok = _is_int(v) and v >= 0
        else:
            ok = not isinstance(v, _NonFinite) and _is_number(v) and v >= 0
        if not ok and isinstance(v, int) and not isinstance(v, bool) and not _bounded(v):
            err(f"{field} is {_out_of_range(v)}, outside the range of a 64-bit {'seed' if field == 'seed' else 'integer'}")
            out[field] = None
        elif not ok:
            what = {"int": "an integer", "count": "a non-negative integer", "seconds": "a finite number >= 0"}[kind]
            err(f"{field} must be {what}, got {_show(v)}")
            out[field] = None
        else:
            out[field] = float(v) if kind == "seconds" else int(v)
    out["status"] = status
    out["line"] = line_no
    return out


def _check_config(config: Any, err) -> dict | None:
    if not isinstance(config, dict):
        err(f"config must be an object of hyperparameters, got {_show(config)}")
        return None
    if len(config) > MAX_CONFIG_KEYS:
        err(f"config has {len(config)} keys, more than the limit of {MAX_CONFIG_KEYS}")
        return None
    clean: dict[str, Any] = {}
    for k, v in config.items():
        if not isinstance(k, str) or not k or len(k) > MAX_KEY_CHARS:
            err(f"config key {_show(k)} must be a non-empty string of at most {MAX_KEY_CHARS} characters")
            continue
        if isinstance(v, int) and not isinstance(v, bool) and not _bounded(v):
            err(f"config[{_show(k)}] is {_out_of_range(v)}, outside the range of a 64-bit integer")
        elif _ok_config_value(v):
            clean[k] = v
        elif isinstance(v, list) and len(v) <= MAX_LIST_ITEMS and all(_ok_config_value(x) for x in v):
            clean[k] = list(v)
        else:
            err(f"config[{_show(k)}] must be a finite number, string, bool, null or a short list of them, got {_show(v)}")
    return clean


def _ok_config_value(v: Any) -> bool:
    if isinstance(v, _NonFinite):
        return False
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return _bounded(v)
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return len(v) <= MAX_STRING_CHARS
    return False
