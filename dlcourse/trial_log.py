"""A trial log: one line of JSON per training run of a hyperparameter search, standard library only.

Writing::

    from dlcourse.trial_log import TrialLog

    with TrialLog("hpo_log.jsonl", method="optuna-tpe", dataset="digits") as log:
        for ...:
            log.record(trial=n, config={"width": 32, "lr": 1e-3}, seed=n, params=12345,
                       val_accuracy=0.71, train_seconds=8.2, epochs=10, status="complete")

The file is JSON Lines. The first line is a header, and every later line is one trial::

    {"type": "header", "format": "trial-log", "version": 1, "method": "optuna-tpe", "dataset": "digits",
     "created": "2025-01-31T12:00:00+00:00", ...any extra header fields}
    {"type": "trial", "trial": 0, "config": {...}, "seed": 0, "params": 12345, "val_accuracy": 0.71,
     "train_seconds": 8.2, "epochs": 10, "status": "complete"}

Each line is written with a single `write` and flushed at once. If the search crashes, the trials
that finished are still in the file, and a re-opened log appends to it (the header is written
only once). `load_trial_log(path)` reads such a file back for your own analysis. The grader reads
hand-ins with its own reader, which also accepts CSV exports and explains every bad line.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any

try:  # POSIX: serialise the "is the file empty? then write the header" step between processes
    import fcntl
except ImportError:  # Windows: one process per log file
    fcntl = None

__all__ = ["TrialLog", "load_trial_log", "STATUSES", "TRIAL_FIELDS"]

FORMAT_VERSION = 1
STATUSES = ("complete", "pruned", "failed")
TRIAL_FIELDS = ("trial", "config", "seed", "params", "val_accuracy", "train_seconds", "epochs", "status")


# --- writing -------------------------------------------------------------------------------------

class TrialLog:
    """Append-only JSONL log of trials. It works as a context manager and as an ordinary object.

    `TrialLog(path, method=..., dataset=..., **extra_header)` opens `path` for appending. If the
    file is new or empty, it writes the header `{"type": "header", "method", "dataset", "created",
    ...extra_header}` first. With `overwrite=True`, an existing file is truncated first.
    """

    def __init__(self, path: str | os.PathLike, *, method: str, dataset: str, overwrite: bool = False,
                 fsync: bool = False, **extra_header: Any):
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a non-empty string such as 'optuna-tpe', 'random' or 'grid'")
        if not isinstance(dataset, str) or not dataset:
            raise ValueError("dataset must be a non-empty string")
        header = {"type": "header", "format": "trial-log", "version": FORMAT_VERSION, "method": method,
                  "dataset": dataset, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for k, v in extra_header.items():
            if k in header:
                raise ValueError(f"extra header field {k!r} clashes with a standard header field")
            header[k] = _plain(v)
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if overwrite else 0)
        # Raw fd with O_APPEND: one os.write per line, so lines from two processes never interleave.
        self._fd: int | None = os.open(self.path, flags, 0o644)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size == 0:  # a new log; an existing one is continued without a new header
                self._write(header)
        finally:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def record(self, *, trial: int, config: dict, seed: int, params: int | None, val_accuracy: float | None,
               train_seconds: float, epochs: int, status: str = "complete", **extra: Any) -> dict:
        """Append one trial and flush it. Returns the record written.

        val_accuracy is a fraction in [0, 1] (not a percentage). It may be None only for a
        "failed" or "pruned" trial, and params may be None only for a "failed" one. Extra keyword
        fields (e.g. test_accuracy=..., host=...) are stored as they are and must be JSON-serialisable.
        Raises ValueError on a wrong type or value, so a bad record never reaches the file.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        if not _is_int(trial) or trial < 0:
            raise ValueError(f"trial must be a non-negative int, got {trial!r}")
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise ValueError("config must be a dict with string keys")
        if not _is_int(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if params is None and status != "failed":
            raise ValueError("params (the parameter count) may be None only for a failed trial")
        if params is not None and (not _is_int(params) or params < 0):
            raise ValueError(f"params must be a non-negative int (the parameter count), got {params!r}")
        if val_accuracy is None:
            if status == "complete":
                raise ValueError("a complete trial needs a val_accuracy")
        elif not _is_number(val_accuracy) or not 0.0 <= float(val_accuracy) <= 1.0:
            raise ValueError(f"val_accuracy must be a finite number in [0, 1], got {val_accuracy!r}")
        if not _is_number(train_seconds) or train_seconds < 0:
            raise ValueError(f"train_seconds must be a finite number >= 0, got {train_seconds!r}")
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
        rec = {"type": "trial", "trial": int(trial), "config": _plain(config), "seed": int(seed),
               "params": None if params is None else int(params),
               "val_accuracy": None if val_accuracy is None else float(val_accuracy),
               "train_seconds": round(float(train_seconds), 4), "epochs": int(epochs), "status": status}
        for k, v in extra.items():
            if k in rec:
                raise ValueError(f"extra field {k!r} clashes with a standard field")
            rec[k] = _plain(v)
        self._write(rec)
        return rec

    def _write(self, obj: dict) -> None:
        if self._fd is None:
            raise ValueError("the trial log is closed")
        line = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(", ", ": ")) + "\n"
        os.write(self._fd, line.encode("utf-8"))
        if self.fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TrialLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # a forgotten close() must not leak the descriptor
        try:
            if getattr(self, "_fd", None) is not None:
                self.close()
        except Exception:  # noqa: BLE001 (a destructor must never raise, whatever went wrong)
            pass


def _plain(v: Any) -> Any:
    """Convert numpy scalars and tuples to JSON-native values, so json.dumps never fails on them."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (bool, str, int, float)) or v is None:
        return v
    item = _scalar_item(v)  # a numpy / torch scalar, recognised without importing either
    if item is not v:
        return item
    raise ValueError(f"cannot store a {type(v).__name__} in the trial log; use numbers, strings, lists or dicts")


def _scalar_item(v: Any) -> Any:
    """The Python value of a numpy or torch scalar (their ints and floats are not Python's)."""
    if type(v).__module__.split(".")[0] in ("numpy", "torch") and getattr(v, "ndim", None) == 0:
        return v.item()
    return v


def _is_int(v: Any) -> bool:
    """A Python/numpy/torch int that fits in 64 bits (bool is not an int here)."""
    v = _scalar_item(v)
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def _is_number(v: Any) -> bool:
    v = _scalar_item(v)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False



def load_trial_log(path: str | os.PathLike) -> tuple[dict, list[dict]]:
    """(header, trials) of a log that TrialLog wrote: the header record and the trial records, in
    file order. Raises ValueError naming the line of anything that is not such a record."""
    header: dict = {}
    trials: list[dict] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {line_no}: not JSON ({e.msg})") from None
            kind = record.get("type") if isinstance(record, dict) else None
            if kind == "header" and not header and not trials:
                header = record
            elif kind == "trial":
                trials.append(record)
            else:
                raise ValueError(f"{path}, line {line_no}: expected a trial record, got {line.strip()[:60]!r}")
    return header, trials
