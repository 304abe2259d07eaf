"""What crosses between the command and its trusted pytest process, as typed values checked on arrival.

- `RunFile`: command -> trusted process (`run.json`, named in $DLGRADE_RUN): what to grade and how.
- `TestRecord` and `Report`: trusted process -> command (`report.json`): one record per test.

Each is a frozen dataclass with a `version`; `to_json` writes plain JSON values, `from_json` takes
them back and rejects what does not fit (a missing or unknown field, a wrong type, a word outside
its vocabulary, another version) with a `ContractError` naming the file and the field, never a
KeyError. Like `spec_from_json`, whose value the run file carries, a contract is checked where it
is read, not trusted because our own code wrote it: the files sit in a folder a bug or a full disk
can spoil, and a spoiled file must end as the grader's error, not as a student's zero.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from grader.core.errors import GraderError
from grader.core.results import TestResult, TestStatus
from grader.core.spec import Spec, spec_from_json, spec_to_json
from grader.core.vocabulary import TestKind, Visibility


class ContractError(GraderError):
    """A file between the grader's processes does not hold what its contract says: the grader's fault."""


# --- checking: one field at a time, against the dataclass's own annotations ---------------------------

def _check(value, kind, where: str):
    """`value` as `kind` (a type annotation), or ContractError naming `where`."""
    if kind is typing.Any:
        return value
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union else ()
    if options:
        if value is None and type(None) in options:
            return None
        kinds = [k for k in options if k is not type(None)]
        return _check(value, kinds[0], where) if len(kinds) == 1 else _one_of(value, kinds, where)
    origin = typing.get_origin(kind) or kind
    if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if origin is Path and isinstance(value, str):
        return Path(value)
    if origin is Spec:
        return spec_from_json(_check(value, dict, where))
    if isinstance(origin, type) and issubclass(origin, Enum):
        try:
            return origin(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in origin)
            raise ContractError(f"{where}: {value!r} is not a {origin.__name__} ({allowed})") from None
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        return origin.from_json(value, where=where)
    if origin in (str, int, bool, list, dict) and isinstance(value, origin) and not (origin is int and isinstance(value, bool)):
        return _items(value, typing.get_args(kind), where)
    raise ContractError(f"{where}: expected {getattr(origin, '__name__', origin)}, got {_shown(value)}")


def _one_of(value, kinds: list, where: str):
    for k in kinds:
        try:
            return _check(value, k, where)
        except ContractError:
            continue
    raise ContractError(f"{where}: expected {' or '.join(getattr(k, '__name__', str(k)) for k in kinds)}, got {_shown(value)}")


def _items(value, args: tuple, where: str):
    """A list's items or a dict's values checked too, where the annotation says what they are."""
    if isinstance(value, list) and args:
        return [_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and len(args) == 2:
        return {_check(k, args[0], f"{where} key"): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    return value


def _shown(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def _plain(value):
    """A field's value as JSON: paths as strings, enums as their words, a spec as `spec_to_json`."""
    if isinstance(value, Spec):
        return spec_to_json(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Contract:
    """`to_json`/`from_json` for a frozen dataclass with a class attribute VERSION and a name for messages."""
    VERSION: typing.ClassVar[int]
    WHAT: typing.ClassVar[str]

    def to_json(self) -> dict:
        return {"version": self.VERSION, **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    @classmethod
    def from_json(cls, data, *, where: str = ""):
        where = where or cls.WHAT
        if not isinstance(data, dict):
            raise ContractError(f"{where}: expected a mapping, got {_shown(data)}")
        if data.get("version") != cls.VERSION:
            raise ContractError(f"{where}: version {data.get('version')!r}, this grader reads version {cls.VERSION} "
                                "(a grader of another version wrote it)")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields) - {"version"})
        if unknown:
            raise ContractError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(fields)}")
        hints = typing.get_type_hints(cls)
        values = {}
        for name, f in fields.items():
            if name in data:
                values[name] = _check(data[name], hints[name], f"{where}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ContractError(f"{where}: the field {name!r} is missing")
        return cls(**values)


# --- command -> trusted process -------------------------------------------------------------------------

@dataclass(frozen=True)
class RunFile(Contract):
    """One trusted pytest run: a submission's grading, or the preparation of the @prepared data."""
    VERSION: typing.ClassVar[int] = 1
    WHAT: typing.ClassVar[str] = "the run file (run.json)"

    assignment: Path             # the assignment's folder (its tests/ become importable)
    spec: Spec                   # the command's spec, overrides included: never re-read from disk
    mode: str                    # the data mode
    report: Path                 # where the trusted process writes its report.json
    data_dir: Path | None = None
    course_key: str | None = None  # hex; None: the trusted process draws an ephemeral one
    prepare_into: Path | None = None  # a preparing run: build the @prepared values into this folder, grade nothing
    prepared: Path | None = None      # a grading run: the command's prepared values, where there are any
    # a grading run's submission: ...
    workspace: Path | None = None     # the pristine tree; each worker runs on its own copy under `scratch`
    scratch: Path | None = None
    artifacts_dir: Path | None = None  # the submission as handed in, for `artifacts`
    module_file: str = "submission.py"  # the graded module, relative to the workspace
    code_file: str = ""          # the file the student wrote it in (a notebook or a script), for messages
    cell_starts: list[list] = field(default_factory=list)  # a notebook's [cell, first line] pairs, for messages
    # ... and its workers
    isolation: dict | None = None  # grader.boundary.rungs.Isolation.to_json()
    gpu: str | None = None
    threads: int = 1

    @property
    def preparing(self) -> bool:
        return self.prepare_into is not None


# --- trusted process -> command -------------------------------------------------------------------------

@dataclass(frozen=True)
class TestRecord(Contract):
    """One test's outcome as the trusted process reports it (rewritten after every test)."""
    __test__ = False  # not a pytest test class, whatever its name
    VERSION: typing.ClassVar[int] = 1
    WHAT: typing.ClassVar[str] = "a test record"

    nodeid: str
    name: str
    points: float
    visibility: Visibility
    status: TestStatus
    kind: TestKind
    message: str = ""
    detail: str = ""
    fraction: float = 0.0        # of its points, while it runs and once it passed (credit.linear)
    score: float = 0.0           # points x fraction for a passed or partial test, else 0
    duration: float = 0.0
    images: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, typing.Any] = field(default_factory=dict)
    other_mode: bool = False     # skipped for belonging to other data modes

    def to_result(self) -> TestResult:
        return TestResult(name=self.name, nodeid=self.nodeid, points=self.points, score=self.score, status=self.status,
                          visibility=self.visibility, message=self.message, detail=self.detail, kind=self.kind,
                          duration=self.duration, images=list(self.images), notes=list(self.notes),
                          metrics=dict(self.metrics), other_mode=self.other_mode)


@dataclass(frozen=True)
class Report(Contract):
    """`report.json`: every collected test's record (from collection on, so a run cut short lists them all)."""
    VERSION: typing.ClassVar[int] = 1
    WHAT: typing.ClassVar[str] = "the test report (report.json)"

    tests: list[TestRecord] = field(default_factory=list)
    grader_errors: list[str] = field(default_factory=list)   # broken tests: a collection error, a missing marker
    load: dict = field(default_factory=dict)     # the main worker's import (grader.boundary.client load_info)
    worker_restarts: int = 0
    worker_output: str = ""
