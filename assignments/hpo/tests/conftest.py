"""Fixtures shared by the hpo tests: the submission's trial log (read here, never run), the grader's
data, and the re-runs of logged trainings in the worker.

The log and the analysis are read on the trusted side through `artifacts`. Numbers in the log are
not believed: sizes are recounted from the models the submission builds, accuracies are checked
by re-running trainings, and the final model's test accuracy is measured here, on a test split the
worker first sees after training.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from grader.errors import StudentError
from grader.plugin import RUN_KEY
from grader.remote import RemoteObject
from hpo_support import INPUT_SHAPES, LogFile, best_trial, load_hpo_data, predict, read_log, rerun, val_digest


@pytest.fixture(scope="session")
def hpo_log(artifacts) -> LogFile:
    """The submission's trial log (hpo_log.jsonl, or a CSV), read with grader.trial_log."""
    return read_log(artifacts)


@pytest.fixture(scope="session")
def code_file(pytestconfig) -> str | None:
    """The graded code file, relative to the submission (a notebook or a script)."""
    return pytestconfig.stash[RUN_KEY].get("code_file") or None


@pytest.fixture(scope="session")
def input_shape(hpo_log, settings) -> tuple:
    """(C, H, W) of the data set the log was made on (the mode's data set if the log does not say)."""
    return INPUT_SHAPES[hpo_log.dataset() or settings["dataset"]]


@pytest.fixture(scope="session")
def hpo_data(mode, settings, data_dir) -> dict:
    """The grader's train / validation / test arrays for this mode (skips when the data is missing)."""
    from grader.datasets import DataNotFound

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
    """What re-running logged trials needs: the data in the worker, the device, the tolerance."""
    data: object                 # handle of {"x_train", "y_train", "x_val", "y_val"} kept in the worker
    device: str
    tolerance: float             # |logged - re-run| accuracy allowed
    tolerance_text: str
    epochs_default: int | None   # the header's max_epochs, when it gives one
    timeout: float
    note: str = ""
    sample_seed: int = 0         # which trials are re-run: from the spec's seed and the log's content

    def epochs(self, trial: dict) -> int:
        """The epoch budget to re-run `trial` with: the search's max_epochs, else the trial's epochs."""
        return self.epochs_default if self.epochs_default is not None else int(trial.get("epochs") or 0)


@pytest.fixture(scope="session")
def reruns(hpo_log, hpo_data, settings, thresholds, worker, device, seed) -> Reruns:
    """Checks that the logged trainings can be re-run here and sets that up: the data kept in the
    worker, the device and the tolerance. Skips (with the reason) when the data set or the GPU they
    need is not available; a header whose validation split differs adds a hint to failures."""
    log = hpo_log.require()
    header = log.header
    want = settings["dataset"]
    logged_dataset = log.dataset()
    if header.get("dataset") is not None and logged_dataset != want:
        pytest.skip(f"the log was made on {header.get('dataset')!r}, but this grading run re-runs trainings on "
                    f"{want!r}; grade it in the data mode for its data set")
    n_val = len(hpo_data["y_val"])
    n_total = len(hpo_data["y_train"]) + n_val
    n_train_log, n_val_log = header.get("n_train"), header.get("n_val")
    if isinstance(n_train_log, int) and isinstance(n_val_log, int) and n_train_log + n_val_log != n_total:
        pytest.skip(f"the log was made on {n_train_log + n_val_log} training + validation images, but the grader's "
                    f"{want} data has {n_total}: re-runs need the same data set")
    logged_device = str(header.get("device") or "cpu").lower()
    on_gpu = logged_device.startswith("cuda")
    if on_gpu and device != "cuda":
        pytest.skip(f"the log was recorded on a GPU (device {header.get('device')!r}); this grading run has no "
                    "GPU, so the trainings were not re-run (grade with --gpus)")
    note = ""
    digest = header.get("val_sha256")
    if isinstance(digest, str) and digest and digest != val_digest(hpo_data):
        note = (" The log's header records a different validation split (val_sha256 " + digest[:16] +
                f", the grader's is {val_digest(hpo_data)}): search with load_data's defaults "
                f"(val_fraction={settings['val_fraction']}, seed={settings['data_seed']}).")
    if on_gpu:
        tolerance = float(thresholds["rerun_tolerance_gpu"])
        text = f"{tolerance:.3f} (GPU re-runs are not bit-exact)"
    else:
        images = thresholds["rerun_tolerance_images"]
        tolerance = images / n_val + 1e-9
        text = f"{images} of the {n_val} validation images"
    max_epochs = header.get("max_epochs")
    epochs_default = max_epochs if isinstance(max_epochs, int) and not isinstance(max_epochs, bool) and max_epochs > 0 else None
    data = worker.keep({k: hpo_data[k] for k in ("x_train", "y_train", "x_val", "y_val")},
                       "the training and validation data")
    return Reruns(data=data, device="cuda" if on_gpu else "cpu", tolerance=tolerance, tolerance_text=text,
                  epochs_default=epochs_default, timeout=float(settings["rerun_timeout_s"]), note=note,
                  sample_seed=seed * 1_000_003 + log.content_seed)


@dataclass
class BestRun:
    trial: dict
    result: dict = field(default_factory=dict)
    test_accuracy: float = float("nan")
    error: BaseException | None = None

    def get(self) -> "BestRun":
        if self.error is not None:
            raise self.error
        return self


@pytest.fixture(scope="session")
def best_run(student, worker, reruns, hpo_log, hpo_data) -> BestRun:
    """The best logged configuration retrained in the worker with its seed (return_model=True); its
    test accuracy is measured here on the test split, which the worker sees only now."""
    b = BestRun(best_trial(hpo_log.complete()))
    try:
        b.result = rerun(student, worker, reruns, b.trial, return_model=True)
        model = b.result.get("model")
        if model is None or not isinstance(model, RemoteObject):
            raise AssertionError("train_and_evaluate(..., return_model=True) should return the trained model under "
                                 f"'model', got {type(model).__name__ if model is not None else 'nothing'}")
        if reruns.device != "cpu":
            model = model.cpu()  # the test images are sent as CPU tensors
        model.eval()
        logits = predict(model, hpo_data["x_test"])
        b.test_accuracy = float((logits.argmax(1) == hpo_data["y_test"]).mean())
    except (StudentError, AssertionError) as e:
        b.error = e
    return b
