"""The checks on each trial of a log, whatever its format: types and ranges of every field, the
status and its aliases, the config's keys and values; a bad optional field becomes None with a
message, a trial without a usable number, status or (when complete) accuracy is dropped, and so is
a trial number seen before.

Separate from reading the formats (grader.authoring.trial_log, grader.authoring.trial_log_csv):
both hand their raw records here, so a field means the same in JSONL and in CSV.
"""
from __future__ import annotations

import math
from typing import Any

from dlcourse.trial_log import STATUSES, _is_int, _is_number
from grader.authoring.trial_log_values import (MAX_CONFIG_KEYS, MAX_KEY_CHARS, MAX_LIST_ITEMS, MAX_STRING_CHARS, ErrorList,
                                               NonFinite, bounded, out_of_range, show)

_STATUS_ALIASES = {
    "complete": "complete", "completed": "complete", "ok": "complete", "success": "complete",
    "pruned": "pruned",
    "failed": "failed", "fail": "failed", "error": "failed",
}


def validate_trials(raw: list[tuple[int, dict, str]], errors: ErrorList) -> list[dict]:
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


def _validate_trial(obj: dict, line_no: int, source: str, errors: ErrorList) -> dict | None:
    """Check one raw trial. Bad optional fields become None. Returns None to drop the trial."""
    missing_ok = source == "optuna-csv"  # a missing optional column was already reported once

    def err(msg):
        errors.add(line_no, msg)

    trial = obj.get("trial")
    if not _is_int(trial) or trial < 0:
        err(f"trial must be a non-negative integer, got {show(trial)}")
        return None

    status = obj.get("status")
    if isinstance(status, str) and status.strip().lower() in _STATUS_ALIASES:
        status = _STATUS_ALIASES[status.strip().lower()]
    if status not in STATUSES:
        err(f"status must be one of 'complete', 'pruned', 'failed', got {show(status)}")
        return None

    acc = obj.get("val_accuracy")
    if acc is None and status != "complete":
        acc = None  # a pruned or failed trial may have no accuracy
    elif isinstance(acc, NonFinite) or not _is_number(acc) or not 0.0 <= float(acc) <= 1.0:
        hint = ""
        if _is_number(acc) and 1.0 < float(acc) <= 100.0:
            hint = " (a fraction, not a percentage)"
        elif acc is None:
            hint = " (missing)"
        err(f"val_accuracy must be a number between 0 and 1{hint}, got {show(acc)}")
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
            ok = not isinstance(v, NonFinite) and _is_number(v) and v >= 0
        if not ok and isinstance(v, int) and not isinstance(v, bool) and not bounded(v):
            err(f"{field} is {out_of_range(v)}, outside the range of a 64-bit {'seed' if field == 'seed' else 'integer'}")
            out[field] = None
        elif not ok:
            what = {"int": "an integer", "count": "a non-negative integer", "seconds": "a finite number >= 0"}[kind]
            err(f"{field} must be {what}, got {show(v)}")
            out[field] = None
        else:
            out[field] = float(v) if kind == "seconds" else int(v)
    out["status"] = status
    out["line"] = line_no
    return out


def _check_config(config: Any, err) -> dict | None:
    if not isinstance(config, dict):
        err(f"config must be an object of hyperparameters, got {show(config)}")
        return None
    if len(config) > MAX_CONFIG_KEYS:
        err(f"config has {len(config)} keys, more than the limit of {MAX_CONFIG_KEYS}")
        return None
    clean: dict[str, Any] = {}
    for k, v in config.items():
        if not isinstance(k, str) or not k or len(k) > MAX_KEY_CHARS:
            err(f"config key {show(k)} must be a non-empty string of at most {MAX_KEY_CHARS} characters")
            continue
        if isinstance(v, int) and not isinstance(v, bool) and not bounded(v):
            err(f"config[{show(k)}] is {out_of_range(v)}, outside the range of a 64-bit integer")
        elif _ok_config_value(v):
            clean[k] = v
        elif isinstance(v, list) and len(v) <= MAX_LIST_ITEMS and all(_ok_config_value(x) for x in v):
            clean[k] = list(v)
        else:
            err(f"config[{show(k)}] must be a finite number, string, bool, null or a short list of them, got {show(v)}")
    return clean


def _ok_config_value(v: Any) -> bool:
    if isinstance(v, NonFinite):
        return False
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return bounded(v)
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return len(v) <= MAX_STRING_CHARS
    return False
