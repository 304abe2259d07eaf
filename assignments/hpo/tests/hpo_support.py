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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import torch

from grader.authoring import as_numpy, read_trial_log

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
    with the train part's per-channel mean/std, y int64. Raises grader.authoring.DataNotFound."""
    from grader.authoring import load_cifar10, load_digits

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
    from grader.authoring import NotebookError, read_notebook

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


def rerun_order(trials: list[dict], seed: int) -> list[dict]:
    """The order in which trials are re-run: a random permutation drawn with `seed` (from the course key:
    not predictable by the submission) of the trials sorted by number, so the order in the file does not
    matter. The sequential test takes its groups from the front: a larger sample extends a smaller one."""
    import random

    pool = sorted(trials, key=lambda t: t["trial"])
    return [pool[i] for i in random.Random(seed).sample(range(len(pool)), len(pool))]


def sample_trials(trials: list[dict], k: int, seed: int) -> list[dict]:
    """The first k trials of rerun_order, sorted by trial number."""
    return sorted(rerun_order(trials, seed)[:k], key=lambda t: t["trial"])


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


@dataclass(frozen=True)
class NoiseModel:
    """How far an honest log's accuracy may sit from the grader's re-runs of the same trial.

    Two sources, modelled separately:
    - `seed`: the standard deviation of one training's validation accuracy from seed to seed. It is
      measured per submission from the re-runs (seed_spread) and kept within the spec's floor and cap.
    - `same_seed_rho`: how alike two trainings with the same seed are when one of them ran on another
      machine (another CPU, BLAS, thread count or torch build): their accuracies correlate by rho over
      seeds. 1 is a bit-exact re-run, 0 a re-run as different as another seed. The spec sets it (0 is
      the conservative choice: float differences early in a training can take it anywhere another seed
      would; measured on the committed logs: 0 to 2 images, as far as another seed).

    A logged accuracy L and its re-runs R_0 (logged seed) and R_1..R_g (grader's seeds) are then, for an
    honest trial: Var(L - R_0) = 2 (1 - rho) s^2, Var(L - R_j) = 2 s^2, Cov(L - R_0, L - R_j) = (1 - rho) s^2
    and Cov(L - R_i, L - R_j) = s^2."""
    seed: float
    same_seed_rho: float = 0.0

    def sd_all(self, n_same: int, n_other: int) -> float:
        """Standard deviation of L - mean(every re-run) for an honest trial (n_same is 0 or 1)."""
        k = n_same + n_other
        if k == 0:
            return float("inf")
        c = 1.0 - self.same_seed_rho
        units = 2 * c * n_same + 2 * n_other + 2 * c * n_same * n_other + n_other * (n_other - 1)
        return self.seed * math.sqrt(units) / k

    def sd_seeds(self, n_other: int) -> float:
        """Standard deviation of L - mean(re-runs with the grader's seeds): another seed is an independent
        training on any machine, so this does not depend on same_seed_rho."""
        return self.seed * math.sqrt(1 + 1 / n_other) if n_other else float("inf")


@dataclass
class TrialCheck:
    """One re-run trial as the verdict sees it. `runs[0]` is the re-run with the logged seed."""
    trial: dict
    best: bool
    runs: list
    d: float            # logged - mean(re-runs) (for an unstable training: the distance from their range)
    sd: float           # its standard deviation for an honest trial (NoiseModel.sd_all)
    d_seeds: float      # logged - mean(re-runs with the grader's seeds) (unstable: as d)
    sd_seeds: float
    unstable: bool
    verified: bool      # within `verify` standard deviations (the best trial: plus its selection allowance)

    @property
    def measured(self) -> float:
        """The grader's estimate of what this configuration reaches: the mean of its re-runs."""
        return float(np.mean(self.runs))


@dataclass
class RerunVerdict:
    """How far the log sits from its re-runs, in units of the measured noise, in both directions."""
    spread: float          # seed-to-seed standard deviation of a training's validation accuracy (used)
    spread_measured: float # before the floor and the cap, from the stable trials (nan with too few re-runs)
    dof: int
    excess: float          # mean of the clipped d over the random sample (accuracy)
    se: float              # its standard error under honest noise
    z_all: float           # excess / se: every re-run (the most power against a shifted log)
    excess_seeds: float    # the same with the grader's seeds only: a re-run with the logged seed repeats a
    se_seeds: float        # lucky seed picked from several, another seed does not
    z_seeds: float
    excess_same: float     # mean of logged - re-run with the logged seed (stable random trials): a shifted log
    z_same: float          # moves every one of them alike, cross-machine noise moves them either way (t test)
    n: int                 # random trials in the statistic
    checks: list = field(default_factory=list)    # TrialCheck per trial, best first as given
    unstable: list = field(default_factory=list)  # trial numbers whose re-runs disagree by more than the cap
    rho: float = 0.0

    def statistics(self) -> dict[str, float]:
        return {"every re-run": self.z_all, "the grader's seeds only": self.z_seeds,
                "the logged seed's re-runs (paired)": self.z_same}

    @property
    def which(self) -> str:
        """The statistic with the largest magnitude: the log is judged on whichever shows most."""
        stats = self.statistics()
        return max(stats, key=lambda k: abs(stats[k]))

    @property
    def z(self) -> float:
        return self.statistics()[self.which]

    @property
    def rows(self) -> list:
        """(trial, is_best, re-run accuracies, d) per trial."""
        return [(c.trial, c.best, c.runs, c.d) for c in self.checks]

    def random_checks(self) -> list:
        return [c for c in self.checks if not c.best]

    def off(self, z_off: float) -> list:
        """Random trials off by more than `z_off` standard deviations of the noise, either way."""
        return [c for c in self.random_checks() if abs(c.d) > z_off * c.sd]

    def verified_share(self) -> float:
        """The share of the random sample whose logged accuracy its re-runs reproduce within the noise."""
        sample = self.random_checks()
        return sum(c.verified for c in sample) / len(sample) if sample else 0.0


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


def difference_from_reruns(logged: float, runs: list[float], unstable: bool, chance: float = 0.0) -> float:
    """d for one trial: logged minus the mean of its re-runs; for an unstable training, the signed
    distance from the range it can land in, from chance level (it stalls on some seeds) to its best
    re-run (0 inside it: a value one of its own trainings reached is no excess; above the best re-run,
    the excess over it; below the worst re-run and chance, the negative gap)."""
    if not unstable:
        return logged - float(np.mean(runs))
    return max(0.0, logged - max(runs)) + min(0.0, logged - min(min(runs), chance))


def stalled(logged: float, runs: list[float], cap: float, chance: float) -> bool:
    """Whether the logged training itself stalled where its re-runs did not: a logged value at chance
    level (within `cap`) more than `cap` below the best re-run. An honest training that stalls on some
    seeds may stall with the logged seed on the student's machine and not on the grader's (another
    summation order): such a trial is judged as unstable, by its range, not as a log below its re-runs."""
    return bool(runs) and logged <= chance + cap and max(runs) - logged > cap


def selection_allowance(n_trials: int) -> float:
    """How many seed-noise standard deviations the best of `n_trials` honest trainings may sit above
    its own configuration's mean just by being the maximum: the normal quantile 1 - 1 / (n + 1), the
    typical largest of n draws (2.3 for 100 trials)."""
    return NormalDist().inv_cdf(1 - 1 / (max(1, n_trials) + 1))


def rerun_verdict(trials: list[tuple[dict, bool, list[float]]], *, floor: float, cap: float, rho: float = 0.0,
                  shift: float = 0.0, verify: float = 4.0, n_logged: int = 100, chance: float = 1 / NUM_CLASSES,
                  clip: float = 4.5) -> RerunVerdict:
    """Two-sided comparison of logged accuracies with the re-runs measured by the grader.

    trials: (trial, is_best, re-run validation accuracies), the first re-run with the logged seed and the
    others with seeds the grader chose. A trial whose re-runs disagree by more than `cap` is an unstable
    training (unstable_training), and so is a trial whose logged training stalled at chance where its
    re-runs did not (stalled): its logged value is judged against the range from chance to its best
    re-run (difference_from_reruns) and it stays out of the spread, so that neither an honest design that
    sometimes stalls at chance is called off nor a submission's wild re-runs widen the tolerance for its
    other trials. The seed-to-seed spread is estimated from the other trials' re-runs (seed_spread) and
    kept within [floor, cap] (the cap when none is stable); `rho` is the same-seed correlation across
    machines (NoiseModel).

    Over the random sample (the best trial is the maximum of many noisy trainings and sits above its
    re-runs even in an honest log: it is judged alone, with selection_allowance) two statistics, each
    with mean 0 for an honest log on any machine: z_all from d = logged - mean(every re-run), and z_seeds
    from logged - mean(re-runs with the grader's seeds), which a lucky seed picked among several cannot
    pass by being reproduced with its own seed; and the paired test of paired_same_seed. Each difference
    is clipped to `clip` standard deviations so that one configuration cannot decide the verdict alone,
    and a mean difference counts only beyond `shift` either way (room for a log written on another
    machine to sit a little away from this machine's trainings as a whole; the spec sets none, since none
    was measured: see assignment.yaml). A trial is verified when its d
    lies within `verify` standard deviations either way."""
    unstable = {t["trial"] for t, _, runs in trials if unstable_training(list(runs), cap)
                or stalled(float(t["val_accuracy"]), list(runs), cap, chance)}
    # with two or more of the grader's seeds per trial the spread comes from them alone: a re-run with the
    # logged seed repeats whatever luck picked that seed, so it would widen the spread of a selected log
    measured, dof = seed_spread([runs[1:] if len(runs) >= 3 else runs for t, _, runs in trials
                                 if t["trial"] not in unstable])
    spread = min(cap, max(floor, measured)) if math.isfinite(measured) else cap
    noise = NoiseModel(spread, rho)
    checks = []
    for t, best, runs in trials:
        runs = list(runs)
        if not runs:
            continue
        logged = float(t["val_accuracy"])
        shaky = t["trial"] in unstable
        d = difference_from_reruns(logged, runs, shaky, chance)
        others = runs[1:]
        d_seeds = d if shaky or not others else logged - float(np.mean(others))
        sd, sd_seeds = noise.sd_all(1, len(others)), noise.sd_seeds(len(others))
        allowance = selection_allowance(n_logged) * spread if best else 0.0
        checks.append(TrialCheck(t, best, runs, d, sd, d_seeds, sd_seeds, shaky,
                                 verified=-verify * sd <= d <= allowance + verify * sd))
    sample = [c for c in checks if not c.best]
    n = len(sample)

    def pooled(values, sds):
        if not values:
            return 0.0, float("inf"), 0.0
        clipped = [max(-clip * s, min(clip * s, v)) for v, s in zip(values, sds)]
        mean, se = float(np.mean(clipped)), math.sqrt(sum(s * s for s in sds)) / len(values)
        return mean, se, beyond(mean, shift) / se

    excess, se, z_all = pooled([c.d for c in sample], [c.sd for c in sample])
    seeded = [c for c in sample if math.isfinite(c.sd_seeds)]
    excess_s, se_s, z_seeds = pooled([c.d_seeds for c in seeded], [c.sd_seeds for c in seeded])
    excess_same, z_same = paired_same_seed([float(c.trial["val_accuracy"]) - c.runs[0] for c in sample
                                            if not c.unstable], floor, shift)
    return RerunVerdict(spread=spread, spread_measured=measured, dof=dof, excess=excess, se=se, z_all=z_all,
                        excess_seeds=excess_s, se_seeds=se_s, z_seeds=z_seeds, excess_same=excess_same,
                        z_same=z_same, n=n, checks=checks, unstable=sorted(unstable), rho=rho)


def beyond(mean: float, shift: float) -> float:
    """How far a mean difference lies outside [-shift, shift], with its sign: the part of it that no
    machine difference explains."""
    return math.copysign(max(0.0, abs(mean) - shift), mean)


def paired_same_seed(u: list[float], floor: float, shift: float = 0.0) -> tuple[float, float]:
    """(mean, z) of u = logged - re-run with the logged seed over stable trials: a paired t test whose
    noise is measured from the u themselves, so it needs no model of how much another machine changes a
    training, only that the change has no preferred sign. On the student's own machine u is 0 (bit-exact);
    a shifted log moves every u alike, however exactly each training repeats. The standard deviation is
    at least `floor` (one image: a log off by a constant does not get an infinite z), and t is turned into
    the z with the same tail probability (t_to_z), so the few trials of a first look are not overstated."""
    if len(u) < 2:
        return 0.0, 0.0
    mean, sd = float(np.mean(u)), float(np.std(u, ddof=1))
    if beyond(mean, shift) == 0.0:
        return mean, 0.0
    return mean, t_to_z(beyond(mean, shift) / (max(sd, floor) / math.sqrt(len(u))), len(u) - 1)


def t_to_z(t: float, dof: int) -> float:
    """The normal deviate with the same upper-tail probability as Student's t with `dof` degrees of freedom
    (numerical integration of the t density; numpy and stdlib only)."""
    if not math.isfinite(t):
        return math.copysign(40.0, t)
    x = abs(t)
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    # the tail beyond x, as the integral over u = 1 / t in (0, 1 / x]: finite and smooth for any x
    top = 1.0 / x if x > 0 else 1e6
    grid = np.linspace(1e-12, min(top, 1e6), 4001)
    dens = np.exp(log_c - (dof + 1) / 2 * np.log1p(1.0 / (dof * grid ** 2))) / grid ** 2
    tail = float(np.trapezoid(dens, grid)) if x > 0 else 0.5
    tail = min(0.5, max(tail, 1e-300))
    z = -NormalDist().inv_cdf(tail) if tail > 1e-15 else math.sqrt(-2 * math.log(tail))
    return math.copysign(z, t)


# --- sequential sampling -------------------------------------------------------------------------

@dataclass(frozen=True)
class SequentialRule:
    """When the re-runs have settled the verdict (the spec's rerun_z and rerun_budget).

    A group-sequential two-sided z test with a constant (Pocock-type) boundary: after each group of
    re-runs the verdict is recomputed on everything re-run so far; the grader re-runs another group of
    trials (as many as the first) while the sample is ambiguous, i.e. |z| lies between `clear` and
    `zero`, or some trial is off by more than `off` standard deviations, and stops at `budget` random
    trials. Points go from |z| = `full` on, at whichever look the sampling stopped. The false-alarm
    probability this spends is at most (looks) x 2 statistics x P(|N(0, 1)| > full), a Bonferroni bound
    (4 looks, full = 3.5: 0.37 %), and less, since a look only follows an ambiguous one; the simulated
    rate is in bench/bench_hpo_power.py. A likelihood-ratio SPRT would need the bias under the
    alternative; a z boundary needs only the noise, which is measured."""
    clear: float = 1.0
    off: float = 2.5
    verify: float = 4.0
    full: float = 3.5
    zero: float = 6.0
    budget: int = 24

    @classmethod
    def from_spec(cls, thresholds: dict, settings: dict) -> SequentialRule:
        z = thresholds["rerun_z"]
        return cls(clear=z.get("clear", 1.0), off=z.get("escalate", 2.5), verify=z.get("verify", 4.0), full=z["full"],
                   zero=z["zero"], budget=int(settings.get("rerun_budget", settings["rerun_trials"])))

    def more(self, verdict: RerunVerdict, looked: int) -> tuple[bool, str]:
        """(re-run another group?, why), after `looked` random trials have been re-run."""
        z = verdict.z
        if abs(z) >= self.zero:
            return False, f"|z| = {abs(z):.2f} is beyond {self.zero:g}: clear"
        ambiguous = abs(z) >= self.clear
        off = verdict.off(self.off)
        if not ambiguous and not off:
            return False, f"|z| = {abs(z):.2f} is below {self.clear:g} and no trial is off by more than the noise: clear"
        why = (f"|z| = {abs(z):.2f} lies between {self.clear:g} and {self.zero:g}" if ambiguous else
               f"trial {', '.join(str(c.trial['trial']) for c in off)} off by more than {self.off:g} noise sd")
        if looked >= self.budget:
            return False, f"{why}, but the budget of {self.budget} re-run trials is spent"
        return True, f"{why}: ambiguous, more trials re-run"

    def consistency(self, verdict: RerunVerdict) -> float:
        """1 while the sample as a whole agrees with the log (|z| <= full), 0 from |z| = zero, linear between."""
        return min(1.0, max(0.0, (self.zero - abs(verdict.z)) / (self.zero - self.full)))

    def credited_share(self, verdict: RerunVerdict) -> float:
        """The share of the logged trainings credited: the sampled trials that verify one by one, times the
        sample's consistency (a sample that is off as a whole verifies none of its trials)."""
        return verdict.verified_share() * self.consistency(verdict)


@dataclass
class Look:
    """One look of the sequential test: the random trials re-run so far and what the verdict said."""
    n: int
    z: float
    reason: str


def verify_sequentially(order: list[dict], first: int, rule: SequentialRule,
                        rerun_more: Callable[[list[dict]], None],
                        judge: Callable[[], RerunVerdict]) -> tuple[RerunVerdict, list[Look]]:
    """Re-run the first `first` trials of `order` (the random order drawn with the course key), then more
    groups of `first` while rule.more says the verdict is ambiguous. `rerun_more(trials)` re-runs them
    (the caller adds the best trial to the first group), `judge()` gives the verdict on all re-runs so far."""
    looks: list[Look] = []
    n, batch = 0, order[:first]
    while True:
        rerun_more(batch)
        n += len(batch)
        verdict = judge()
        more, why = rule.more(verdict, n)
        looks.append(Look(n, verdict.z, why))
        batch = order[n:n + max(1, first)]
        if not more or not batch:
            return verdict, looks


# --- the analysis against what was measured ------------------------------------------------------

def fisher_interval(rho: float, n: int, z: float) -> tuple[float, float]:
    """The range of correlations consistent with `rho` measured on n points at z standard errors: Fisher's
    atanh transform with the standard error of Spearman's rho, sqrt(1.06 / (n - 3)) (Fieller, Hartley and
    Pearson, 1957). The whole [-1, 1] below 5 points."""
    if n < 5 or not math.isfinite(rho):
        return -1.0, 1.0
    centre, half = math.atanh(max(-0.999, min(0.999, rho))), z * math.sqrt(1.06 / (n - 3))
    return math.tanh(centre - half), math.tanh(centre + half)


def measured_size_correlation(verdict: RerunVerdict) -> tuple[float, int]:
    """Spearman's rho between the logged parameter count (recounted by test_sizes_are_true) and the accuracy
    the grader measured (mean of the re-runs), over the re-run trials; and how many there are."""
    from hpo_checks import spearman

    pts = [(c.trial["params"], c.measured) for c in verdict.checks
           if isinstance(c.trial.get("params"), (int, float)) and not isinstance(c.trial.get("params"), bool)]
    if len(pts) < 3:
        return float("nan"), len(pts)
    return spearman([p for p, _ in pts], [a for _, a in pts]), len(pts)


def claim_fits_measurement(claimed: tuple[float, float], measured: float, n: int, z: float) -> bool:
    """Whether a claimed range of correlations overlaps what the re-runs allow (fisher_interval)."""
    lo, hi = fisher_interval(measured, n, z)
    return claimed[0] <= hi and claimed[1] >= lo


def best_claim_holds(verdict: RerunVerdict, z: float) -> tuple[bool, str]:
    """Whether the log's best configuration is what the grader measured: its re-runs reproduce its logged
    accuracy (within the noise and the allowance for being the maximum of many trainings), or it measures
    within the noise of the best verified sampled configuration. (ok, what the grader found)."""
    best = next((c for c in verdict.checks if c.best), None)
    if best is None:
        return True, "the best trial was not re-run"
    if best.verified:
        return True, (f"the best trial {best.trial['trial']} is reproduced: its re-runs measure "
                      f"{best.measured:.4f} against the logged {best.trial['val_accuracy']:.4f}")
    verified = [c for c in verdict.random_checks() if c.verified]
    if not verified:
        return False, (f"the best trial {best.trial['trial']} measures {best.measured:.4f}, not the logged "
                       f"{best.trial['val_accuracy']:.4f}, and no sampled trial verified")
    top = max(verified, key=lambda c: c.measured)
    margin = z * verdict.spread * math.sqrt(1 / len(best.runs) + 1 / len(top.runs))
    ok = best.measured >= top.measured - margin
    return ok, (f"the best trial {best.trial['trial']} is logged at {best.trial['val_accuracy']:.4f} but measures "
                f"{best.measured:.4f}; the best verified sampled trial {top.trial['trial']} measures {top.measured:.4f} "
                f"({'within' if ok else 'beyond'} the noise margin {margin:.4f})")


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
