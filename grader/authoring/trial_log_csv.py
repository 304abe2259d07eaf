"""The CSV forms of a trial log: the columns TrialLog writes (`config` as a JSON string, or flattened
`config.<key>` / `params_<key>` columns; comma-, semicolon- or tab-separated, with a decimal comma
where the separator is a semicolon), and the CSV that Optuna's `study.trials_dataframe()` exports.

Separate from the JSONL reader (grader.authoring.trial_log): the same records, found in columns
whose names and cells need their own reading; the field checks (grader.authoring.trial_log_checks)
then treat both alike.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import re
from typing import Any

from grader.authoring.trial_log_values import MAX_CONFIG_KEYS, MAX_STRING_CHARS, ErrorList, NonFinite, parse_json, show

_OPTUNA_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
_OPTUNA_UNFINISHED = {"RUNNING", "WAITING"}
_INT_RE = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$")
_DURATION_RE = re.compile(r"^(-?\d{1,6}) days? (\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
_DECIMAL_COMMA_RE = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d{1,3})?$")


def read_csv_log(text: str, max_records: int, errors: ErrorList) -> tuple[dict, list[tuple[int, dict, str]]]:
    """(header, [(line, raw record, source format)]) of a CSV log; its problems go to `errors`."""
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


def _csv_known_columns(columns: list[str], optuna: bool, errors: ErrorList) -> dict | None:
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
                      f"(columns: {', '.join(show(c, 30) for c in columns[:12])})")
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


def _csv_delimiter(text: str) -> str:
    """The separator of the header row: the one of , ; and tab it holds most of (commas on a tie),
    counted outside double quotes, so a `config` column of JSON does not decide it."""
    header = re.sub(r'"[^"]*"', "", text.lstrip().split("\n", 1)[0][:10_000])
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


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
        return float(t) if math.isfinite(float(t)) else NonFinite(t)
    if t.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return NonFinite(t)
    if t in ("True", "true", "TRUE"):
        return True
    if t in ("False", "false", "FALSE"):
        return False
    return s


def _csv_row_to_record(row: dict[str, str], known: dict, optuna: bool, line_no: int, errors: ErrorList) -> dict | None:
    dc = known.get("decimal_comma", False)
    rec: dict[str, Any] = {}
    config: Any = {}
    if "config" in row and row["config"].strip():
        try:
            config = parse_json(row["config"])
        except (ValueError, RecursionError):
            errors.add(line_no, f"config must be a JSON object string, got {show(row['config'])}")
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
            errors.add(line_no, f"trial {show(row['number'])} is still {state.upper()} (skipped)")
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
