"""Fixtures shared by the hpo tests: the submission's trial log (read here, never run), the grader's
data, and the re-runs of logged trainings.

The log and the analysis are read on the trusted side through `artifacts` (they are private files:
no worker ever sees them). Numbers in the log are not believed: sizes are recounted from the
models the submission builds, and accuracies are measured here from the weights of re-run
trainings, on the validation split and on test images no worker that trained has been given.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from grader.authoring import RemoteObject, StudentError, current_run
from hpo_support import (INPUT_SHAPES, NUM_CLASSES, LogFile, RerunVerdict, Retraining, SequentialRule, best_trial,
                         grader_seeds, load_hpo_data, predict, read_log, rerun, rerun_data, rerun_order, rerun_verdict,
                         true_class_logprob, val_digest, verify_sequentially)


@pytest.fixture(scope="session")
def hpo_log(artifacts, settings) -> LogFile:
    """The submission's trial log (hpo_log.jsonl, or a CSV), read with grader.authoring.trial_log; with several
    logs, the one whose header names this mode's data set."""
    return read_log(artifacts, settings["dataset"])


@pytest.fixture(scope="session")
def code_file(pytestconfig) -> str | None:
    """The graded code file, relative to the submission (a notebook or a script)."""
    return current_run(pytestconfig).code_file or None


@pytest.fixture(scope="session")
def input_shape(hpo_log, settings) -> tuple:
    """(C, H, W) of the data set the log was made on (the mode's data set if the log does not say)."""
    return INPUT_SHAPES[hpo_log.dataset() or settings["dataset"]]


@pytest.fixture(scope="session")
def hpo_data(mode, settings, data_dir) -> dict:
    """The grader's train / validation / test arrays for this mode (skips when the data is missing)."""
    from grader.authoring import DataNotFound

    dataset = settings["dataset"]
    if dataset != "digits" and data_dir is None:
        pytest.skip(f"mode {mode!r} needs CIFAR-10 in a data directory (--data-dir holding "
                    "cifar-10-batches-py/ or cifar10/cifar10_subset.npz); re-runs were not done")
    try:
        return load_hpo_data(dataset, data_dir, val_fraction=settings["val_fraction"], seed=settings["data_seed"])
    except DataNotFound as e:
        pytest.skip(f"mode {mode!r}: {e}; re-runs were not done")


@dataclass
class Reruns:
    """What re-running logged trials needs: where, on which device, for how long."""
    device: str
    epochs_default: int | None   # the header's max_epochs, when it gives one
    timeout: float
    note: str = ""
    data: object = None          # handle of the re-run data in the training worker
    seeds: object = None         # np.random.Generator (course key): global seeds before each call

    def epochs(self, trial: dict) -> int:
        """The epoch budget to re-run `trial` with: the search's max_epochs, else the trial's epochs."""
        return self.epochs_default if self.epochs_default is not None else int(trial.get("epochs") or 0)

    def global_seed(self) -> int:
        return int(self.seeds.integers(2 ** 62))


@pytest.fixture(scope="session")
def reruns(hpo_log, hpo_data, settings, device, course_key) -> Reruns:
    """Checks that the logged trainings can be re-run here: the data set, the device. Skips (with the
    reason) when the data set or the GPU they need is not available; a header whose validation
    split differs adds a hint to failures."""
    log = hpo_log.require()
    header = log.header
    want = settings["dataset"]
    if header.get("dataset") is not None and log.dataset() != want:
        pytest.skip(f"the log was made on {header.get('dataset')!r}, but this grading run re-runs trainings on "
                    f"{want!r}; grade it in the data mode for its data set")
    n_val = len(hpo_data["y_val"])
    n_total = len(hpo_data["y_train"]) + n_val
    n_train_log, n_val_log = header.get("n_train"), header.get("n_val")
    if isinstance(n_train_log, int) and isinstance(n_val_log, int) and n_train_log + n_val_log != n_total:
        pytest.skip(f"the log was made on {n_train_log + n_val_log} training + validation images, but the grader's "
                    f"{want} data has {n_total}: re-runs need the same data set")
    on_gpu = str(header.get("device") or "cpu").lower().startswith("cuda")
    if on_gpu and device != "cuda":
        pytest.skip(f"the log was recorded on a GPU (device {header.get('device')!r}); this grading run has no "
                    "GPU, so the trainings were not re-run (grade with --gpus)")
    note = ""
    digest = header.get("val_sha256")
    if isinstance(digest, str) and digest and digest != val_digest(hpo_data):
        note = (" The log's header records a different validation split (val_sha256 " + digest[:16] +
                f", the grader's is {val_digest(hpo_data)}): search with load_data's defaults "
                f"(val_fraction={settings['val_fraction']}, seed={settings['data_seed']}).")
    max_epochs = header.get("max_epochs")
    epochs_default = max_epochs if isinstance(max_epochs, int) and not isinstance(max_epochs, bool) and max_epochs > 0 else None
    return Reruns(device="cuda" if on_gpu else "cpu", epochs_default=epochs_default,
                  timeout=float(settings["rerun_timeout_s"]), note=note,
                  seeds=course_key.rng("hpo", "global seeds", log.content_seed))


@dataclass
class Retrained:
    """The sampled trials re-run under their logged seed and grader-chosen seeds, every accuracy
    measured here from the returned weights, and the two-sided verdict on them."""
    best: dict | None = None
    sample: list = field(default_factory=list)       # the random trials, in the order they were drawn
    runs: list = field(default_factory=list)         # Retraining, in the order they were trained
    n_val: int = 0
    verdict: RerunVerdict | None = None
    looks: list = field(default_factory=list)        # Look per group of re-runs (the sequential test)
    rule: SequentialRule | None = None
    error: BaseException | None = None

    def get(self) -> Retrained:
        if self.error is not None:
            raise self.error
        return self

    def of(self, trial: dict) -> list:
        return [r for r in self.runs if r.trial is trial]


@pytest.fixture(scope="session")
def retrained(fresh_worker, handoff, reruns, hpo_log, hpo_data, settings, thresholds, course_key,
              input_shape) -> Retrained:
    """Re-runs the best trial and a random sample of others, each with its logged seed and with
    `rerun_seeds` seeds the grader chooses, in a worker of their own: the same call the search made,
    on data laid out as load_data returns it (see rerun_data for the test arrays). The weights are
    handed over right after each training; a pristine worker holding only them gives the logits
    from which the validation and held-out accuracies are computed here. Sampling is sequential
    (hpo_support.SequentialRule): while the verdict is ambiguous, further groups of trials, in the
    order drawn with the course key, are re-run, up to `rerun_budget` random trials."""
    done = hpo_log.require().complete()
    out = Retrained(best=best_trial(done), n_val=len(hpo_data["y_val"]))
    out.rule = SequentialRule.from_spec(thresholds, settings)
    others = [t for t in done if t["trial"] != out.best["trial"]]
    order = rerun_order(others, course_key.seed("hpo", "rerun sample", hpo_log.content_seed))
    first = settings["rerun_trials"]
    seeds = grader_seeds(done, settings["rerun_seeds"] * (1 + max(first, out.rule.budget)),
                         course_key.rng("hpo", "rerun seeds", hpo_log.content_seed))
    worker_data, graded = rerun_data(hpo_data, course_key.rng("hpo", "stand-in test split"))
    n_val = out.n_val

    def rerun_more(batch: list[dict]) -> None:
        """Train the batch (the best trial with the first one), then score the new weights in a pristine worker."""
        todo = ([out.best] if not out.runs else []) + batch
        out.sample += batch
        weights, new = [], []
        for t in todo:
            plan = [(t["seed"], True)] + [(seeds.pop(), False) for _ in range(settings["rerun_seeds"])]
            for s, own in plan:
                result = rerun(trainer.module, trainer, reruns, t, s, return_model=True)
                model = result.get("model")
                if not isinstance(model, RemoteObject):
                    raise AssertionError("train_and_evaluate(..., return_model=True) should return the trained model "
                                         f"under 'model', got {type(model).__name__ if model is not None else 'nothing'}")
                # copied now, before any worker has seen an image it is graded on
                weights.append(handoff.take(model, "build_model", t["config"], input_shape=input_shape,
                                            num_classes=NUM_CLASSES))
                new.append(Retraining(t, s, own, returned=result.get("val_accuracy")))
        with handoff.load(*weights) as models:
            for run, model in zip(new, models):
                for split in ("val", "held", "fit"):
                    x, y = graded["x_" + split], graded["y_" + split]
                    logits = predict(model, x)
                    setattr(run, split + "_logp", true_class_logprob(logits, y))
                    if split != "fit":
                        setattr(run, split, float((logits.argmax(1) == y).mean()))
        out.runs += new

    def judge() -> RerunVerdict:
        return rerun_verdict([(t, t is out.best, [x.val for x in out.of(t)]) for t in [out.best] + out.sample],
                             floor=thresholds["rerun_spread_floor_images"] / n_val, cap=thresholds["rerun_spread_cap"],
                             rho=thresholds.get("rerun_same_seed_rho", 0.0),
                             shift=thresholds.get("rerun_machine_shift_images", 0.0) / n_val, verify=out.rule.verify,
                             n_logged=len(done))

    try:
        trainer = fresh_worker()
        reruns.data = trainer.keep(worker_data, "the training, validation and test arrays")
        out.verdict, out.looks = verify_sequentially(order, first, out.rule, rerun_more, judge)
        trainer.close()
    except (StudentError, AssertionError) as e:
        out.error = e
    return out


@dataclass
class Verification:
    """What the re-runs say about the log, for the tests that credit its claims: the verdict, or why
    there is none (the re-runs were not possible here, or the submission's code failed them)."""
    retrained: Retrained | None = None
    not_done: str = ""        # re-runs skipped (no data set / GPU here): the claims are not checked
    failed: str = ""          # the re-runs failed in the submission's code: nothing could be verified

    @property
    def verdict(self) -> RerunVerdict | None:
        return self.retrained.verdict if self.retrained is not None and not self.failed else None


@pytest.fixture(scope="session")
def verification(request) -> Verification:
    """The re-runs' verdict for the log-content and write-up tests, without failing or skipping them
    when the re-runs cannot be done here (they then say so and grade what they can)."""
    try:
        r = request.getfixturevalue("retrained")
    except pytest.skip.Exception as e:
        return Verification(not_done=str(e.msg if hasattr(e, "msg") else e))
    if r.error is not None:
        return Verification(retrained=r, failed=str(r.error).splitlines()[0][:300] if str(r.error) else type(r.error).__name__)
    return Verification(retrained=r)
