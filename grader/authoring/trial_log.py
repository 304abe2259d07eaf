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

This module reads the file and its JSONL form; the CSV forms are in grader.authoring.trial_log_csv,
the checks on each trial in grader.authoring.trial_log_checks, and the limits and the way hostile
values are shown in grader.authoring.trial_log_values.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dlcourse.trial_log import STATUSES, TRIAL_FIELDS, TrialLog
from grader.authoring.trial_log_checks import validate_trials
from grader.authoring.trial_log_csv import read_csv_log
from grader.authoring.trial_log_values import MAX_KEY_CHARS, ErrorList, bounded, parse_json, show

__all__ = ["TrialLog", "read_trial_log", "STATUSES", "TRIAL_FIELDS"]

# Limits the reader enforces. Real logs are far below them (100 trials take about 30 kB).
DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_RECORDS = 100_000


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
    errors = ErrorList()
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
        header, raw = read_csv_log(text, max_records, errors)
    trials = validate_trials(raw, errors)
    if not trials and not errors:
        errors.add(None, "the log holds no trials")
    return header, trials, errors.finish()


def _load_text(src: Any, max_bytes: int, errors: ErrorList) -> str | None:
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
                errors.add(None, f"no such file: {show(str(p), 200)}")
                return None
            if p.stat().st_size > max_bytes:
                errors.add(None, f"the log is {p.stat().st_size} bytes, larger than the limit of {max_bytes} bytes")
                return None
            with open(p, "rb") as f:
                data = f.read(max_bytes + 1)  # the file may grow between stat and read
        except OSError as e:
            errors.add(None, f"cannot read {show(str(p), 200)}: {e.strerror or e}")
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


def _read_jsonl(text: str, max_records: int, errors: ErrorList) -> tuple[dict, list[tuple[int, dict, str]]]:
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
            obj = parse_json(s)
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
                    if not bounded(v):  # the tests read n_val, max_epochs, ... from here
                        errors.add(line_no, f"header field {key!r} is {show(v)}, not a finite number within "
                                            "the range of 64 bits; it is ignored")
                        header[key] = None
            else:
                errors.add(line_no, "a header record may appear only once, on the first line (ignored)")
            continue
        if kind != "trial":
            errors.add(line_no, f"unknown record type {show(kind)} (expected 'header' or 'trial')")
            continue
        raw.append((line_no, obj, "jsonl"))
    if header is None:
        errors.add(1, "the first line should be a header record {\"type\": \"header\", \"method\": ..., \"dataset\": ...}")
        header = {"type": "header", "method": None, "dataset": None}
    else:
        for key in ("method", "dataset"):
            if not isinstance(header.get(key), str) or not header.get(key):
                errors.add(1, f"header field {key!r} must be a non-empty string, got {show(header.get(key))}")
    header["source_format"] = "jsonl"
    return header, raw
