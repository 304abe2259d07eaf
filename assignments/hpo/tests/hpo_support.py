"""Trusted-side support for the hpo tests: the grader's data, finding and reading the submission's
files, the calls that re-run logged trainings in the worker (everything that comes back is checked
here), and a scatter plot for the feedback. Nothing here imports or executes the submission's files.

The data split is the one the template's `load_data` makes (the students use it for their search),
rebuilt here independently: the re-runs must see exactly the data the logged trainings saw.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grader.authoring.checks import as_numpy
from grader.authoring.trial_log import read_trial_log

# the data set each data mode grades, by the name a log header gives it
DATASET_ALIASES = {"digits": "digits", "sklearn-digits": "digits", "embedded": "digits",
                   "cifar10": "cifar10", "cifar-10": "cifar10", "cifar10_subset": "cifar10", "cifar": "cifar10"}
INPUT_SHAPES = {"digits": (1, 8, 8), "cifar10": (3, 32, 32)}
NUM_CLASSES = 10
LOG_PATTERNS = ("hpo_log.jsonl", "hpo_log.csv", "*.jsonl", "*.csv")
ANALYSIS_PATTERNS = ("analysis.md", "*analysis*.md", "*analysis*.txt", "ANALYSIS*")
MAX_CANDIDATES = 6  # logs read to find the one for this mode


def dataset_name(value) -> str | None:
    """The canonical name ('digits' or 'cifar10') of a header's dataset field, or None if unknown."""
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    if key in DATASET_ALIASES:
        return DATASET_ALIASES[key]
    squashed = "".join(ch for ch in key if ch.isalnum())  # "CIFAR-10 subset", "sklearn digits 8x8"
    return "cifar10" if squashed.startswith("cifar10") else "digits" if "digits" in squashed else None


# --- data ----------------------------------------------------------------------------------------

def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): `fraction` of every class held out (as the template's load_data)."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.append(idx[: int(round(fraction * len(idx)))])
    held = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), held), held


def load_hpo_data(dataset: str, data_dir, *, val_fraction: float, seed: int) -> dict:
    """{"x_train", "y_train", "x_val", "y_val", "x_test", "y_test"}: x float32 (N, C, H, W) normalised
    with the train part's per-channel mean/std, y int64. Raises grader.authoring.datasets.DataNotFound."""
    from grader.authoring.datasets import load_cifar10, load_digits

    if dataset == "digits":
        d = load_digits()
        x = d["images"][:, None].astype(np.float32) / 16.0
        y = d["labels"]
        train_idx, test_idx = _stratified_split(y, 0.2, np.random.default_rng(20240101))
        x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    elif dataset == "cifar10":
        d = load_cifar10(data_dir)
        x_train = d["train_images"].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        x_test = d["test_images"].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        y_train, y_test = d["train_labels"], d["test_labels"]
    else:
        raise ValueError(f"unknown data set {dataset!r}")
    keep, val = _stratified_split(y_train, val_fraction, np.random.default_rng(seed))
    x_val, y_val = x_train[val], y_train[val]
    x_train, y_train = x_train[keep], y_train[keep]
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6

    def norm(a):
        return np.ascontiguousarray((a - mean) / std, dtype=np.float32)

    return {"x_train": norm(x_train), "y_train": y_train.astype(np.int64), "x_val": norm(x_val),
            "y_val": y_val.astype(np.int64), "x_test": norm(x_test), "y_test": y_test.astype(np.int64)}


def val_digest(data: dict) -> str:
    """The `val_sha256` a log header written by the template's run_search records for this split."""
    return hashlib.sha256(data["x_val"].tobytes() + data["y_val"].tobytes()).hexdigest()[:16]


def rerun_data(public: dict, rng: np.random.Generator) -> tuple[dict, dict]:
    """(what the re-run worker gets, what the grade is computed on).

    The worker gets the dict the template's load_data returns, key for key, shape for shape: the
    training and validation split as they are (the logged trainings saw them), and "x_test"/"y_test"
    of the test split's size, but filled with training images drawn with `rng` (from the course
    key). The real test images go only to the pristine worker that holds the trained weights: a
    submission that trains on whatever it is handed cannot have trained on them, and which images
    stand in for them differs with every course key."""
    n_test = len(public["y_test"])
    stand_in = rng.choice(len(public["y_train"]), size=n_test, replace=False)
    worker = {"x_train": public["x_train"], "y_train": public["y_train"], "x_val": public["x_val"],
              "y_val": public["y_val"], "x_test": np.ascontiguousarray(public["x_train"][stand_in]),
              "y_test": np.ascontiguousarray(public["y_train"][stand_in])}
    fit = np.sort(rng.choice(len(public["y_train"]), size=min(n_test, len(public["y_train"])), replace=False))
    return worker, {"x_val": public["x_val"], "y_val": public["y_val"],
                    "x_held": public["x_test"], "y_held": public["y_test"],
                    "x_fit": public["x_train"][fit], "y_fit": public["y_train"][fit]}


# --- the submission's files ----------------------------------------------------------------------

@dataclass
class LogFile:
    """The submission's trial log as read on the trusted side (never executed)."""
    name: str | None = None
    header: dict = field(default_factory=dict)
    trials: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    others: list = field(default_factory=list)   # further candidate files that were not read
    problem: str | None = None                    # why there is nothing to grade (no file, too big)
    content_seed: int = 0                          # from the file's bytes: an edited log gets other samples
    choice: str = ""                               # which of several logs was graded, and why

    def complete(self) -> list[dict]:
        """Complete trials with a usable config and parameter count (what the checks use)."""
        return [t for t in self.trials if t["status"] == "complete" and isinstance(t.get("config"), dict)]

    def require(self) -> LogFile:
        """Self, or an AssertionError saying why there is no log to grade."""
        if self.problem:
            raise AssertionError(self.problem)
        if not self.complete():
            first = f" (first problem: {self.errors[0]})" if self.errors else ""
            raise AssertionError(f"{self.name}: the log holds no complete trial with a config{first}")
        return self

    def dataset(self) -> str | None:
        return dataset_name(self.header.get("dataset"))


def read_log(artifacts, dataset: str | None = None) -> LogFile:
    """Find the trial log among the submission's files and read it with grader.authoring.trial_log.

    With several candidates (a folder holding a digits and a CIFAR log), the first one whose header
    names `dataset` (the data set of this grading mode) is graded; `choice` says which and why."""
    import fnmatch

    candidates = []
    names = artifacts.names()
    for pattern in LOG_PATTERNS:  # in the order of the patterns, as artifacts.find tries them
        for name in names:
            if (fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(Path(name).name, pattern)) and name not in candidates:
                candidates.append(name)
    if not candidates:
        return LogFile(problem="no trial log found: submit hpo_log.jsonl (or a CSV export of the trials) "
                               "next to your code")
    logs = []
    for name in candidates[:MAX_CANDIDATES]:
        try:
            raw = artifacts.read_bytes(name, max_bytes=20_000_000)
        except AssertionError as e:
            logs.append(LogFile(name=name, problem=str(e)))
            continue
        header, trials, errors = read_trial_log(raw)
        logs.append(LogFile(name=name, header=header, trials=trials, errors=errors,
                            content_seed=int(hashlib.sha256(raw).hexdigest()[:8], 16)))
    chosen, why = logs[0], ""
    if len(logs) > 1 and dataset is not None:
        matching = [g for g in logs if not g.problem and g.dataset() == dataset]
        if matching:
            chosen = matching[0]
            why = f"its header names the data set of this grading mode ({dataset})"
        else:
            why = f"none of them names this grading mode's data set ({dataset}) in its header; graded the first"
    chosen.others = [g.name for g in logs if g is not chosen] + candidates[MAX_CANDIDATES:]
    if chosen.others:
        chosen.choice = f"graded {chosen.name}" + (f" because {why}" if why.startswith("its") else f" ({why})"
                                                     if why else "") + f"; also found: {', '.join(chosen.others[:5])}"
    return chosen


def analysis_file(artifacts, log: LogFile | None = None) -> str | None:
    """The write-up to grade: the first match of ANALYSIS_PATTERNS in the graded log's folder, else
    anywhere (a folder holding a digits and a CIFAR run grades the analysis of the run it grades)."""
    import fnmatch

    names = artifacts.names()
    folder = str(Path(log.name).parent) if log is not None and log.name else None
    for pattern in ANALYSIS_PATTERNS:
        for name in names:
            if folder is not None and str(Path(name).parent) == folder and fnmatch.fnmatch(Path(name).name, pattern):
                return name
    return artifacts.find(*ANALYSIS_PATTERNS)


def code_source(artifacts, code_file: str | None) -> str:
    """The submission's code as percent-format Python: a script as it is; a notebook's code cells,
    and its markdown cells as `# ` comment lines (explanations in a notebook are its comments)."""
    if not code_file:
        return ""
    raw = artifacts.read_bytes(code_file)
    if not code_file.lower().endswith(".ipynb"):
        return raw.decode("utf-8-sig", "replace")
    from grader.intake.notebooks import NotebookError, read_notebook

    try:
        nb = read_notebook(raw)
    except NotebookError as e:
        raise AssertionError(f"{code_file}: cannot read the notebook ({e})") from None
    parts = []
    for cell in nb.cells:
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(map(str, source))
        if not isinstance(source, str) or "skip-grading" in (cell.get("metadata", {}).get("tags") or []):
            continue
        if cell.get("cell_type") == "code":
            parts.append("# %%\n" + source)
        elif cell.get("cell_type") == "markdown":
            parts.append("# %% [markdown]\n" + "\n".join("# " + ln for ln in source.splitlines()))
    return "\n".join(parts) + "\n"


# --- re-running trials in the worker ----------------------------------------------------------

def best_trial(trials: list[dict]) -> dict:
    """The complete trial with the highest validation accuracy (the lowest trial number on a tie)."""
    return max(trials, key=lambda t: (t["val_accuracy"], -t["trial"]))


def sample_trials(trials: list[dict], k: int, seed: int) -> list[dict]:
    """k trials drawn at random with `seed` (from the course key: not predictable by the submission),
    sorted by trial number; the order in the file does not matter."""
    import random

    pool = sorted(trials, key=lambda t: t["trial"])
    if k >= len(pool):
        return pool
    return [pool[i] for i in sorted(random.Random(seed).sample(range(len(pool)), k))]


def grader_seeds(trials: list[dict], n: int, rng: np.random.Generator) -> list[int]:
    """n seeds for re-runs, none of them logged: drawn from the range the logged seeds span (widened
    to at least 1,000 values), so that a seed's size does not tell a re-run from a search trial."""
    logged = {t["seed"] for t in trials if isinstance(t.get("seed"), int) and not isinstance(t.get("seed"), bool)}
    top = 2**63 - 1  # numpy's int64 bound: a logged seed near it must not overflow the draw
    hi = min(max(max(logged, default=0) + 1, max(0, min(logged, default=0)) + 1000), top)
    lo = min(max(0, min(logged, default=0)), hi - 1000)
    out: list[int] = []
    while len(out) < n:
        s = int(rng.integers(lo, hi))
        if s not in logged and s not in out:
            out.append(s)
    return out


def rerun(student, worker, r, trial: dict, seed: int, **extra) -> dict:
    """train_and_evaluate(config, data, seed=..., device=..., max_epochs=...) for one logged trial, the call
    the search makes (plus return_model=True). The worker's global random state is reseeded first
    with `r.global_seed()` (from the course key), so it matches neither the trial's seed nor anything
    else a submission could compare it with."""
    if isinstance(trial.get("seed"), bool) or not isinstance(trial.get("seed"), int):
        raise AssertionError(f"trial {trial['trial']}: no seed logged, so the training cannot be repeated")
    if r.epochs(trial) <= 0:
        raise AssertionError(f"trial {trial['trial']}: the log gives no epoch budget (header max_epochs or the "
                             "trial's epochs), so the training cannot be repeated")
    worker.seed(r.global_seed())
    with worker.timeout(r.timeout):
        out = student.train_and_evaluate(trial["config"], r.data, seed=seed, device=r.device,
                                         max_epochs=r.epochs(trial), **extra)
    if not isinstance(out, dict) or "val_accuracy" not in out:
        raise AssertionError(f"train_and_evaluate should return a dict with 'val_accuracy', got {type(out).__name__}")
    return out


def true_class_logprob(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log softmax(logits)[i, y[i]] per image: how sure the model is of the right answer."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))


def leak_fraction(runs) -> tuple[float, float, float]:
    """How far the validation images sit from unseen images towards trained-on ones, by the models'
    mean cross-entropy: 1 - (val - train) / (held-out - train), pooled over the re-run models.

    About 0 (or below: the digits' validation split is a little harder than the test split) when the
    validation images were not trained on, about 1 when they were: it measures the part of the
    model's own generalisation gap that the validation images have closed, so it does not depend on
    how well a model family generalises. Returns (fraction, pooled val - train, pooled held-out -
    train); the fraction is 0 when the models show no gap at all (nothing to tell)."""
    val = sum(float(np.mean(-r.val_logp)) - float(np.mean(-r.fit_logp)) for r in runs)
    held = sum(float(np.mean(-r.held_logp)) - float(np.mean(-r.fit_logp)) for r in runs)
    if held <= 1e-3 * len(runs):
        return 0.0, val, held
    return 1.0 - val / held, val, held


@dataclass
class Retraining:
    """One re-run of a logged trial, measured here from its weights."""
    trial: dict
    seed: int
    logged_seed: bool              # the trial's own seed (else one the grader chose)
    returned: object = None        # the val_accuracy train_and_evaluate returned: shown, never scored
    val: float = float("nan")      # accuracy on the validation split, from the model's logits
    held: float = float("nan")     # on the grader's held-out images
    val_logp: np.ndarray | None = None   # per image log-probability of the true class
    held_logp: np.ndarray | None = None
    fit_logp: np.ndarray | None = None   # on a sample of the training images (the fit a trained-on image gets)


@dataclass
class RerunVerdict:
    """How far the log sits above its re-runs, in units of the measured seed-to-seed noise."""
    spread: float          # seed-to-seed standard deviation of a training's validation accuracy (used)
    spread_measured: float # before the floor and the cap, from the stable trials (nan with too few re-runs)
    dof: int
    excess: float          # mean of the per-trial differences d over the random sample (accuracy)
    se: float              # its standard error under honest noise
    z: float
    n: int                 # trials in the statistic
    rows: list = field(default_factory=list)   # (trial, is_best, [re-run accuracies], d) per trial
    unstable: list = field(default_factory=list)  # trial numbers whose re-runs disagree by more than the cap


def _trimmed_pool(parts: list[tuple[float, int]]) -> tuple[float, int]:
    """(sum of squares, dof) pooled over the groups without the one with the largest sum of squares
    (when there are four or more groups)."""
    parts = sorted(parts)
    if len(parts) >= 4:
        parts = parts[:-1]
    return sum(ss for ss, _ in parts), sum(k for _, k in parts)


def seed_spread(groups: list[list[float]]) -> tuple[float, int]:
    """Standard deviation of one training's accuracy from seed to seed, estimated from the re-runs
    of several trials (each group: the re-runs of one trial), and its degrees of freedom.

    The per-trial variances are pooled without the largest one (when there are four or more): a
    configuration at the edge of divergence, whose re-runs land anywhere, must not widen the
    tolerance for all the others. Leaving out the largest biases the pool low; the bias for these
    group sizes under normal noise is computed (a fixed-seed simulation) and divided out."""
    parts = []
    for g in groups:
        if len(g) >= 2:
            g = np.asarray(g, float)
            parts.append((float(((g - g.mean()) ** 2).sum()), len(g) - 1))
    ss, dof = _trimmed_pool(parts)
    if not dof:
        return float("nan"), 0
    return math.sqrt(ss / dof / _trim_bias(tuple(sorted(k for _, k in parts)))), dof


@functools.lru_cache(maxsize=64)
def _trim_bias(ks: tuple) -> float:
    """E[trimmed pool / dof] for unit-variance normal noise and groups with these dofs."""
    if len(ks) < 4:
        return 1.0
    k = np.array(ks, float)
    sims = np.random.default_rng(0).chisquare(k, size=(20_000, len(ks)))
    order = np.argsort(sims, axis=1)[:, :-1]
    return float((np.take_along_axis(sims, order, axis=1).sum(1) / k[order].sum(1)).mean())


def unstable_training(runs: list[float], cap: float) -> bool:
    """Whether one configuration's re-runs disagree by more than `cap` (the most seed noise an honest
    stable training is allowed): a training that converges on some seeds and stalls on others, such as
    plain SGD with a small learning rate that sometimes stays at chance level."""
    return len(runs) >= 2 and max(runs) - min(runs) > cap


def difference_from_reruns(logged: float, runs: list[float], unstable: bool) -> float:
    """d for one trial: logged minus the mean of its re-runs; for an unstable training, the signed
    distance from the range of its re-runs (0 inside it: a value one of its own trainings reached is
    no excess; above the best re-run, the excess over it; below the worst, the negative gap)."""
    if not unstable:
        return logged - float(np.mean(runs))
    return max(0.0, logged - max(runs)) + min(0.0, logged - min(runs))


def rerun_verdict(trials: list[tuple[dict, bool, list[float]]], *, floor: float, cap: float,
                  clip: float = 4.5) -> RerunVerdict:
    """Comparison of logged accuracies with re-runs measured by the grader; one-sided in its use (only
    z above the line costs points), the per-trial differences keep their sign.

    trials: (trial, is_best, re-run validation accuracies under the logged and grader-chosen seeds).
    A trial whose re-runs disagree by more than `cap` is an unstable training (unstable_training): its
    logged value is judged against the range of its re-runs (difference_from_reruns), and it stays
    out of the spread, so that neither an honest design that sometimes stalls at chance is called
    "above its re-runs" nor a submission's wild re-runs widen the tolerance for its other trials.
    The seed-to-seed spread is estimated from the other trials' re-runs (seed_spread) and kept within
    [floor, cap] (the cap when none is stable). The best trial enters the spread but not the excess:
    it is the maximum of many noisy trainings and sits above its re-runs even in an honest log. For
    the random sample, d = logged - mean(re-runs) has mean 0 for an honest log (the logged training is
    one more draw of the same seed noise, also when it was made on another machine) and variance
    spread^2 (1 + 1/k); each d is clipped to `clip` standard deviations so that one configuration
    cannot decide the verdict alone. Per-trial d's with their variances are what a two-sided or
    sequential test needs as well."""
    unstable = {t["trial"] for t, _, runs in trials if unstable_training(list(runs), cap)}
    measured, dof = seed_spread([runs for t, _, runs in trials if t["trial"] not in unstable])
    spread = min(cap, max(floor, measured)) if math.isfinite(measured) else cap
    rows, ds, var = [], [], []
    for t, best, runs in trials:
        if not runs:
            continue
        d = difference_from_reruns(float(t["val_accuracy"]), list(runs), t["trial"] in unstable)
        rows.append((t, best, list(runs), d))
        if best:
            continue
        sd = spread * math.sqrt(1 + 1 / len(runs))
        ds.append(max(-clip * sd, min(clip * sd, d)))
        var.append(sd ** 2)
    n = len(ds)
    excess = float(np.mean(ds)) if n else 0.0
    se = math.sqrt(sum(var)) / n if n else float("inf")
    return RerunVerdict(spread=spread, spread_measured=measured, dof=dof, excess=excess, se=se,
                        z=excess / se if n else 0.0, n=n, rows=rows, unstable=sorted(unstable))


def predict(model, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """Logits of `model` (a handle in the worker) for x (N, C, H, W), batch by batch, checked here."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch])
            logits = as_numpy(model(xb), "the returned model(x)")
            if logits.shape != (len(xb), NUM_CLASSES):
                raise AssertionError(f"the model returned by train_and_evaluate(..., return_model=True) gave shape "
                                     f"{logits.shape} for {len(xb)} images; expected ({len(xb)}, {NUM_CLASSES}) logits")
            out.append(logits.astype(np.float64))
    return np.concatenate(out)


def trial_label(t: dict) -> str:
    return f"trial {t['trial']} (seed {t['seed']})"


def shapes_of(state, what: str) -> dict[str, list[int]]:
    """{name: shape} of a state_dict returned by the worker, checked to hold tensors."""
    if not isinstance(state, dict):
        raise AssertionError(f"{what}.state_dict() did not return a dict of tensors")
    return {str(k): list(as_numpy(v, f"{what}.state_dict()[{k!r}]").shape) for k, v in state.items()}



def words(text: str) -> int:
    """Words of prose: whitespace-separated tokens holding a letter, outside fenced code."""
    import re
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return sum(1 for tok in text.split() if any(ch.isalpha() for ch in tok))


def finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
