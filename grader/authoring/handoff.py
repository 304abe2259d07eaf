"""Moving a trained model from the worker that trained it to a worker that evaluates it, carrying
the weights and nothing else.

A worker that trained a model has run the student's code for minutes: it may hold anything in
globals, files, caches or buffers. If the same worker (or anything it wrote) then sees the
evaluation data, a submission can remember the test set and "reconstruct" or "forecast" it by
lookup. So every graded evaluation follows one rule:

1. `take(model, build, *args)` copies `model.state_dict()` to the trusted side **before** any
   evaluation data has been sent to that worker (the test author calls it right after training);
2. `load(weights)` starts a worker on a pristine copy of the submission (never the workspace an
   earlier worker wrote to), builds a fresh model there with the same constructor call, checks
   the weights against that fresh model's own state dict (the same keys, shapes and dtypes, no
   extra entries, a bounded size), loads them, and verifies bit for bit that the model now holds
   exactly them;
3. evaluation data goes only to that worker, and the metric is computed on the trusted side from
   what it returns.

What can cross is therefore tensors the model's own constructor declares, of the sizes it
declares. A buffer that a fresh model does not create, or creates at another size, is refused with
a message naming it.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator

import numpy as np

from grader.authoring.checks import as_numpy

DEFAULT_MAX_MB = 256.0


@dataclass
class Weights:
    """A state dict copied to the trusted side, and the constructor call that makes its model."""
    build: str                       # a name in the submission: "Autoencoder", "build_model", "Generator"
    args: tuple
    kwargs: dict
    tensors: dict = field(repr=False)  # name -> numpy array, in the model's order
    label: str = "model"

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.tensors.values())

    @property
    def digest(self) -> str:
        return state_digest(self.tensors)

    def call_text(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        text = f"{self.build}({', '.join(parts)})"
        return text if len(text) <= 160 else text[:157] + "...)"


def state_digest(tensors: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        h.update(name.encode() + b"\0" + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()


def read_state(state, what: str, *, max_mb: float = DEFAULT_MAX_MB) -> dict:
    """A state dict from the worker as {name: numpy array}, or an AssertionError saying what is wrong."""
    if not isinstance(state, dict):
        raise AssertionError(f"{what}.state_dict() should return a dict of tensors, "
                             f"got {getattr(state, 'type_name', type(state).__name__)}")
    tensors, total = {}, 0
    for name, value in state.items():
        if not isinstance(name, str):
            raise AssertionError(f"{what}.state_dict() has a key that is not a string: {name!r}"[:200])
        arr = as_numpy(value, f"{what}.state_dict()[{name!r}]")
        total += arr.nbytes
        if total > max_mb * 2 ** 20:
            raise AssertionError(f"{what}.state_dict() holds more than {max_mb:g} MB; a model for this task "
                                 "needs far less (is data stored in the model?)")
        tensors[name] = np.array(arr, copy=True)
    if not tensors:
        raise AssertionError(f"{what}.state_dict() is empty: the model has no parameters to hand over")
    return tensors


def _schema_problems(trained: dict, fresh: dict) -> list[str]:
    problems = []
    extra = [k for k in trained if k not in fresh]
    missing = [k for k in fresh if k not in trained]
    for k in extra[:4]:
        problems.append(f"extra entry {k!r} {tuple(trained[k].shape)} that a freshly built model does not have")
    for k in missing[:4]:
        problems.append(f"entry {k!r} {tuple(fresh[k].shape)} of a freshly built model is missing")
    for k in trained:
        if k in fresh and (trained[k].shape != fresh[k].shape or trained[k].dtype != fresh[k].dtype):
            problems.append(f"{k!r} is {trained[k].dtype}{tuple(trained[k].shape)} after training, but "
                            f"{fresh[k].dtype}{tuple(fresh[k].shape)} in a freshly built model")
    return problems


class Handoff:
    """The `handoff` fixture: take weights from a training worker, load them into pristine ones."""

    def __init__(self, new_worker: Callable[[], object], *, max_mb: float = DEFAULT_MAX_MB):
        self._new_worker = new_worker
        self.max_mb = max_mb

    def take(self, model, build: str, *args, **kwargs) -> Weights:
        """Copy `model`'s state dict now. Call it right after training, before the worker that
        trained the model is sent any evaluation data. `build(*args, **kwargs)` must make a fresh
        model of the same architecture in the submission (a class or a factory function)."""
        label = build.split(".")[-1]
        tensors = read_state(model.state_dict(), label, max_mb=self.max_mb)
        return Weights(build, args, kwargs, tensors, label)

    @contextlib.contextmanager
    def load(self, *weights: Weights) -> Iterator[list]:
        """A worker on a pristine copy of the submission holding only `weights`; yields the models
        (in eval mode), one per Weights, as remote objects. The worker ends with the block."""
        session = self._new_worker()
        try:
            yield [self._install(session, w) for w in weights]
        finally:
            session.close()

    @staticmethod
    def _install(session, w: Weights):
        target = session.module
        for part in w.build.split("."):
            target = getattr(target, part)
        model = target(*w.args, **w.kwargs)
        what = f"a fresh {w.call_text()}"
        bound = max(DEFAULT_MAX_MB, w.nbytes / 2 ** 20 + 1)  # as large as the weights it must hold
        fresh = read_state(model.state_dict(), what, max_mb=bound)
        problems = _schema_problems(w.tensors, fresh)
        if problems:
            raise AssertionError(
                f"the trained {w.label} cannot be handed over as weights alone: its state_dict() differs from that "
                f"of {w.call_text()} built fresh: " + "; ".join(problems[:6]) +
                ". A model must be fully described by what its constructor creates (parameters and buffers of "
                "fixed size), so that the grader can evaluate the trained weights in a separate process.")
        import torch  # trusted side; the tensors go to the worker as plain arrays

        model.load_state_dict({k: torch.from_numpy(v) for k, v in w.tensors.items()})
        model.eval()
        loaded = read_state(model.state_dict(), what, max_mb=bound)
        if state_digest(loaded) != w.digest:
            raise AssertionError(
                f"after load_state_dict, a fresh {w.call_text()} does not hold the trained weights bit for bit: "
                "are parameters created or changed outside __init__, or is load_state_dict overridden?")
        return model
