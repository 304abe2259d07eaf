"""The assignment spec (`assignment.yaml`): every key declared once, with its type, default and
meaning. Loading rejects unknown keys and wrong types, naming the file and the key."""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from grader.core.errors import SpecError

SPEC_FILE = "assignment.yaml"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,48}$")


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class Limits:
    """What the sandboxed worker may use. Every number has a default that suits a 2-core laptop."""
    memory_mb: int = _f(4096, "memory the worker may use, in MB (a cgroup where available, else the address space)")
    call_timeout_s: float = _f(120.0, "limit for one call into the submission, in the worker's CPU seconds "
                                    "(a wall-clock backstop of 3x + 30 s ends a worker waiting on nothing)")
    submission_timeout_s: float = _f(1800.0, "wall-clock limit for grading one submission (all tests), in seconds; "
                                          "hit while the machine is busy, `grade` grades it again alone before it counts")
    cpu_time_s: int = _f(3600, "CPU-time limit of the worker process, in seconds")
    max_processes: int = _f(256, "processes and threads the worker may have at once (torch needs a few dozen)")
    max_file_mb: int = _f(512, "largest file the worker may write, in MB")
    max_disk_mb: int = _f(1024, "what the worker may store in its workspace and /tmp together, in MB (a tmpfs of "
                          "this size on the namespace rungs, charged to its memory; unbounded on rungs c and d)")
    max_output_mb: float = _f(8.0, "stdout+stderr the worker may print before it is stopped, in MB")
    max_message_mb: int = _f(256, "largest reply the grader accepts from the worker, in MB (checked before it is "
                             "read, so a hostile reply cannot make the trusted side allocate more)")
    hide: list = _f([], "files of the grading environment no worker may read, relative to a site-packages folder "
                    "(e.g. a data set a library bundles that hidden tests grade on: "
                    "'sklearn/datasets/data/digits.csv.gz'); masked on rungs a and b")
    trusted_memory_mb: int = _f(8192, "memory the trusted test process may use, in MB (a cgroup where available): "
                                "a grader-side bound, so a hostile reply or a bug ends as an internal error")
    threads: int = _f(0, "torch/OpenMP threads in the worker; 0 = the CPU cores divided by the parallel jobs")


@dataclass
class Mode:
    """A data mode: where the data comes from and the budget and thresholds that go with it."""
    description: str = _f("", "what data this mode uses, for `list` and the README")
    requires: list = _f([], "files (relative to the data directory) that must exist; empty = embedded data")
    requires_any: list = _f([], "alternative layouts of the data: at least one of these paths (relative to the data "
                            "directory, globs allowed) must exist; for a data set the tests find themselves")
    points: float = _f(0.0, "the maximum score in this mode: the points of the tests that run in it (a test marked "
                       "@pytest.mark.modes for other modes does not); 0 = the spec's `points`. `validate` checks it")
    settings: dict = _f({}, "training budget and other knobs the tests read through the `settings` fixture")
    thresholds: dict = _f({}, "pass marks the tests read through the `thresholds` fixture")
    reference_artifacts: str = _f("", "a folder, relative to reference_solutions/<name>/, whose files (a training "
                                  "log, a write-up: what the tests read through `artifacts`) `validate` grades "
                                  "in this mode together with the solution file, as one submission folder; "
                                  "empty = the solution file alone")

    @property
    def needs_data_dir(self) -> bool:
        return bool(self.requires or self.requires_any)


@dataclass
class Submission:
    """How a submission's files are found."""
    code: list = _f(["*.ipynb", "*.py"], "globs of candidate code files; the one defining most of the spec's API is "
                    "graded (then the most implemented, the one edited last, the shallowest, the glob order)")
    artifacts: list = _f(["*"], "globs of non-code files the tests may read (logs, analysis.md, ...)")
    private: list = _f([], "globs of files the trusted tests read but no worker ever sees (a training log, a "
                       "write-up): the student's code cannot consult or rewrite them while it is graded")
    max_total_mb: int = _f(200, "largest submission (unpacked) accepted, in MB")
    max_files: int = _f(2000, "most files a submission (unpacked) may hold")
    load: str = _f("definitions", "'definitions': keep imports, functions, classes and cheap constants, "
                   "skip top-level training; 'full': run the whole file")


@dataclass
class Resources:
    """What grading one submission reserves on a cluster node (the Ray backend's task resources)."""
    num_cpus: float = _f(1.0, "CPU cores reserved per submission (Ray's num_cpus; also the worker's torch threads)")
    num_gpus: float = _f(0.0, "GPUs reserved per submission (Ray's num_gpus; fractions share one GPU)")


# the course's usual stack: what real notebooks import at the top (torchvision: see Environment.optional)
COURSE_STACK = ["numpy", "matplotlib", "pandas", "tqdm", "scipy", "scikit-learn"]


@dataclass
class Environment:
    """The Python packages of the grading environment, by their pip names (`name` or `name:module`
    where the import name differs and is not one of the well-known ones, such as scikit-learn)."""
    packages: list = _f(COURSE_STACK, "packages the grading worker has, besides torch: the toolkit installs them, "
                        "`validate` checks they import in the worker, and the release bundle's "
                        "requirements list them (every package the reference solution imports must be here)")
    optional: list = _f(["torchvision"], "packages a submission may import that the grading environment need not "
                        "have (torchvision installs only in a build matching torch): imported where present, "
                        "else a stand-in that fails only if graded code uses it; commented in the requirements")


@dataclass
class ManualItem:
    """A rubric item a person scores (the quality of an analysis, comments in English): part of the
    assignment's scale, "awaiting review" until a reviewer gives it points (grader.records.decisions)."""
    id: str = _f("", "a short identifier, used on the command line (`dlgrade rubric OUT SUBMISSION ID POINTS`)")
    points: float = _f(0.0, "the most points a reviewer may give it")
    description: str = _f("", "what the reviewer judges, shown to the student beside the points")


ITEM_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass
class LatePolicy:
    """What late work costs (grader.core.lateness.apply_late_policy applies it)."""
    grace_minutes: float = _f(0.0, "minutes after the deadline that still count as on time")
    penalty_per_started_day: float = _f(0.0, "what each started day after the deadline takes, after the automatic "
                                        "score and any reviewer's adjustments (never below 0)")
    penalty_unit: str = _f("fraction", "'fraction': penalty_per_started_day is a fraction of the scale (0.1 = 10 %); "
                           "'points': it is in points")
    last_day: int = _f(-1, "the last started day late work is accepted; later work scores 0 as 'not accepted' "
                       "(still graded, with feedback); 0 = nothing after the deadline and grace; -1 = no last day")


@dataclass
class Spec:
    """An assignment: the folder `assignments/<name>/` with this file in it."""
    title: str = _f("", "the assignment's title")
    points: float = _f(0.0, "total points; must equal the sum of the tests' @points markers")
    api: list = _f([], "the student API as signatures, e.g. 'Autoencoder.encode(x)'; used in "
                   "'not found' messages and checked against the template")
    solution: str = _f("", "the reference solution file, relative to reference_solutions/<name>/")
    seed: int = _f(0, "seed for the worker and the tests, so grading is reproducible")
    default_mode: str = _f("embedded", "the data mode used when none is given")
    modes: dict = _f({}, "data modes by name (see Mode)")
    limits: Limits = _f(None, "sandbox limits (see Limits)")
    submission: Submission = _f(None, "how submissions are read (see Submission)")
    resources: Resources = _f(None, "what one submission reserves on a cluster node (see Resources)")
    environment: Environment = _f(None, "the grading environment's packages (see Environment)")
    deadline: str = _f("", "when the work is due: ISO 8601 with its time zone, e.g. '2026-03-15T23:59:00+01:00'; "
                       "empty = no deadline. Per student: the roster's extension_days or deadline column")
    late_policy: LatePolicy = _f(None, "what late work costs (see LatePolicy); only with a deadline")
    manual: list = _f([], "rubric items a person scores, each {id, points, description} (see ManualItem): part "
                      "of `points` and of every mode's points, shown as \"awaiting review\" until scored")
    name: str = field(default="", metadata={"help": "set from the folder name", "internal": True})
    path: Path = field(default=Path("."), metadata={"help": "the assignment folder", "internal": True})

    def max_points(self, mode: str | None) -> float:
        """What a full grading (public and hidden tests) in `mode` scores out of: fixed by the spec."""
        return self.mode(mode).points or self.points

    @property
    def manual_points(self) -> float:
        """The points of the manual rubric items: on the scale of every mode, given by a reviewer."""
        return sum(item.points for item in self.manual)

    def automatic_points(self, mode: str | None) -> float:
        """What the tests alone score out of in `mode`: the mode's maximum less the manual items, which
        a reviewer adds (grader.records.decisions.final_score)."""
        return self.max_points(mode) - self.manual_points

    def mode(self, name: str | None) -> Mode:
        name = name or self.default_mode
        if name not in self.modes:
            raise SpecError(f"{self.path / SPEC_FILE}: no data mode {name!r}; modes: {', '.join(self.modes)}")
        return self.modes[name]

    @property
    def public_tests(self) -> Path:
        return self.path / "tests" / "public"

    @property
    def hidden_tests(self) -> Path:
        return self.path / "tests" / "hidden"


def _build(cls, raw, where: str):
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in raw:
            continue
        v, t = raw[name], hints[name]
        if dataclasses.is_dataclass(t):
            values[name] = _build(t, v, key)
        elif t is float and isinstance(v, (int, float)) and not isinstance(v, bool):
            values[name] = float(v)
        elif t in (int, str, bool, list, dict):
            if not isinstance(v, t) or (t is int and isinstance(v, bool)):
                raise SpecError(f"{key}: expected {t.__name__}, got {v!r}")
            values[name] = v
        else:
            raise SpecError(f"{key}: expected {getattr(t, '__name__', t)}, got {v!r}")
    obj = cls(**values)
    for name, f in fields.items():  # nested sections left out of the YAML get their defaults
        if getattr(obj, name) is None and dataclasses.is_dataclass(hints[name]):
            setattr(obj, name, hints[name]())
    return obj


def load_spec(folder: str | Path) -> Spec:
    folder = Path(folder)
    path = folder / SPEC_FILE
    if not path.is_file():
        raise SpecError(f"{folder}: no {SPEC_FILE} (is this an assignment folder?)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from e
    return _checked(raw, folder.resolve(), str(path))


def spec_to_json(spec: Spec) -> dict:
    """The spec as JSON-safe data, for the run file: the trusted process gets the spec the command
    used (with any in-memory override such as `grade --pick`), not a fresh read of the YAML. The
    values travel as YAML text, so mappings keyed by numbers (thresholds per bottleneck) keep their keys."""
    data = dataclasses.asdict(spec)
    for internal in ("name", "path"):
        data.pop(internal)
    return {"path": str(spec.path), "yaml": yaml.safe_dump(data, sort_keys=False, allow_unicode=True)}


def spec_from_json(data: dict) -> Spec:
    """The inverse of `spec_to_json`, checked like a YAML file."""
    folder = Path(data["path"])
    return _checked(yaml.safe_load(data["yaml"]), folder, f"{folder / SPEC_FILE} (as passed by the grader)")


def _checked(raw, folder: Path, where: str) -> Spec:
    path = where
    spec = _build(Spec, raw, where)
    spec.name, spec.path = folder.name, folder
    if not NAME_PATTERN.match(spec.name):
        raise SpecError(f"{folder}: assignment names are lower_snake_case (got {spec.name!r})")
    spec.modes = {m: _build(Mode, v, f"{path}.modes.{m}") for m, v in spec.modes.items()}
    spec.manual = _manual_items(spec.manual, f"{path}.manual")
    if spec.default_mode not in spec.modes:
        raise SpecError(f"{path}.default_mode: {spec.default_mode!r} is not one of the modes ({', '.join(spec.modes) or 'none'})")
    if spec.submission.load not in ("definitions", "full"):
        raise SpecError(f"{path}.submission.load: expected 'definitions' or 'full', got {spec.submission.load!r}")
    if spec.resources.num_cpus <= 0 or spec.resources.num_gpus < 0:
        raise SpecError(f"{path}.resources: num_cpus must be positive and num_gpus not negative")
    if spec.points <= 0:
        raise SpecError(f"{path}.points: must be positive")
    _check_deadline(spec, path)
    for m, mode in spec.modes.items():
        if mode.points < 0:
            raise SpecError(f"{path}.modes.{m}.points: must be positive (or 0: the spec's points)")
    return spec


def _manual_items(raw: list, where: str) -> list[ManualItem]:
    items = [item if isinstance(item, ManualItem) else _build(ManualItem, item, f"{where}[{i}]")
             for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not ITEM_ID_PATTERN.match(item.id):
            raise SpecError(f"{where}[{i}].id: lower_snake_case, at most 40 characters (got {item.id!r})")
        if item.id in seen:
            raise SpecError(f"{where}[{i}].id: {item.id!r} is used twice")
        if item.points <= 0:
            raise SpecError(f"{where}[{i}].points: must be positive (got {item.points:g})")
        if not item.description.strip():
            raise SpecError(f"{where}[{i}].description: say what the reviewer judges")
        seen.add(item.id)
    return items


def parse_time(text: str, where: str) -> datetime:
    """An ISO 8601 date and time with its zone ('Z' or an offset); SpecError naming `where` otherwise:
    a deadline without a zone would move with the machine that grades."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SpecError(f"{where}: {text!r} is not an ISO 8601 date and time "
                        "(e.g. '2026-03-15T23:59:00+01:00')") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise SpecError(f"{where}: {text!r} has no time zone; add one, e.g. '{text.strip()}+01:00' or 'Z' for UTC")
    return when


def _check_deadline(spec: Spec, path: str) -> None:
    policy = spec.late_policy
    if spec.deadline:
        parse_time(spec.deadline, f"{path}.deadline")
    elif policy != LatePolicy():
        raise SpecError(f"{path}.late_policy: needs a deadline (set `deadline`)")
    if policy.grace_minutes < 0 or policy.penalty_per_started_day < 0:
        raise SpecError(f"{path}.late_policy: grace_minutes and penalty_per_started_day must not be negative")
    if policy.penalty_unit not in ("fraction", "points"):
        raise SpecError(f"{path}.late_policy.penalty_unit: expected 'fraction' or 'points', got {policy.penalty_unit!r}")
    if policy.penalty_unit == "fraction" and policy.penalty_per_started_day > 1:
        raise SpecError(f"{path}.late_policy.penalty_per_started_day: {policy.penalty_per_started_day:g} is more "
                        "than the whole scale; a fraction is at most 1 (or set penalty_unit: points)")
    if policy.last_day < -1:
        raise SpecError(f"{path}.late_policy.last_day: -1 (no last day), 0 or a number of days; got {policy.last_day}")


def describe_schema(cls=Spec, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every spec key: the one source for docs and `new`'s comments."""
    rows = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        t = typing.get_type_hints(cls)[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rows.append((prefix + f.name, "" if default is None else repr(default), f.metadata.get("help", "")))
        if dataclasses.is_dataclass(t):
            rows.extend(describe_schema(t, prefix + f.name + "."))
        elif cls is Spec and f.name == "modes":  # a mapping of Mode entries: document their keys too
            rows.extend(describe_schema(Mode, prefix + "modes.<name>."))
        elif cls is Spec and f.name == "manual":  # a list of ManualItem entries
            rows.extend(describe_schema(ManualItem, prefix + "manual[]."))
    return rows
