"""Whether graded outputs come from the trained weights: the same inputs, asked of the handed-over
model and of copies whose weights were changed on the trusted side.

The handoff (grader.authoring.handoff) makes sure that only weights reach the worker that evaluates.
It does not make sure that the outputs use them: a submission can carry what it needs elsewhere (a
copy of a public data set in a module-level constant, a fixed formula), keep a trained network in
its state dict for show, and answer from the copy. Such outputs do not change when the weights do.

So, in one pristine worker, the graded inputs go to the trained weights and to keyed variants of them:
  "perturbed"      every floating tensor times (1 + `perturbation` x keyed noise), clipped so that no
                   sign flips (a running variance stays positive): a small, smooth change;
  "reinitialised"  every floating tensor's entries in a keyed random order: the values training
                   produced, none of the arrangement it learned.
The change each variant causes is measured relative to the spread of the graded outputs (RMS of the
difference / standard deviation of the outputs). Outputs that do not change by at least `tolerance`
under every variant do not come from the weights, and the test earns nothing.

Honest models with parts that do not learn still pass: a forecaster that adds the window's last
value to a learned correction, or a decoder that adds a mean image to a learned term, changes its
output by as much as the learned part changes. What this does not catch is a submission that uses
the weights and a hidden copy together (the copy must then be made useless by the data itself:
keyed test data, noise on the inputs); it is one defence among those the tests stack.

The trained weights run again in the same worker, asked in the same way as the variants: their
outputs must be the graded ones (within `tolerance` / 10 of the spread): outputs that depend on
whether other models were loaded, or on what was asked before, are not a function of the weights.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from grader.authoring.handoff import Handoff, Weights
from grader.core.errors import StudentError

TRAINED = "trained"
VARIANTS = ("perturbed", "reinitialised")
DEFAULT_PERTURBATION = 0.1   # relative noise on every weight: changes an honest model's outputs by several %
DEFAULT_TOLERANCE = 0.01     # of the outputs' spread: honest models move by 0.04-0.14 when perturbed (docs/writing-tests.md)


def perturbed(weights: Weights, rng: np.random.Generator, relative: float = DEFAULT_PERTURBATION) -> Weights:
    """Every floating tensor times (1 + relative x noise), the noise standard normal clipped to
    +-0.9 / relative (so no entry changes sign); integer tensors (counters) are kept."""
    limit = 0.9 / relative
    out = {}
    for name, a in weights.tensors.items():
        if a.dtype.kind == "f":
            noise = np.clip(rng.standard_normal(a.shape), -limit, limit)
            a = (a * (1 + relative * noise)).astype(a.dtype)
        out[name] = a
    return replace(weights, tensors=out, label=f"{weights.label} (perturbed)")


def reinitialised(weights: Weights, rng: np.random.Generator) -> Weights:
    """Every floating tensor with its entries in a keyed random order: the trained values, placed at random."""
    out = {}
    for name, a in weights.tensors.items():
        if a.dtype.kind == "f" and a.size > 1:
            a = rng.permutation(a.reshape(-1)).reshape(a.shape)
        out[name] = a
    return replace(weights, tensors=out, label=f"{weights.label} (re-initialised)")


def relative_change(outputs: np.ndarray, graded: np.ndarray) -> float:
    """RMS of (outputs - graded) over the standard deviation of `graded` (inf where graded is constant
    and the outputs differ, 0 where both are constant and equal)."""
    a, b = np.asarray(outputs, np.float64), np.asarray(graded, np.float64)
    if a.shape != b.shape:
        return float("inf")
    rms = float(np.sqrt(np.mean((a - b) ** 2))) if a.size else 0.0
    spread = float(np.std(b)) if b.size else 0.0
    if spread == 0.0:
        return 0.0 if rms == 0.0 else float("inf")
    return rms / spread


@dataclass
class Dependence:
    """The outcome: the outputs of each variant, how much each changed, and the verdict."""
    what: str                                  # the outputs in the student's terms: "the forecasts 7 days ahead"
    graded: np.ndarray = field(repr=False)
    outputs: dict[str, np.ndarray] = field(repr=False)    # "trained" (asked again) and each variant
    change: dict[str, float]                   # relative change against the graded outputs
    failed: dict[str, str]                     # variant -> why it could not answer (counts as changed)
    tolerance: float
    perturbation: float = DEFAULT_PERTURBATION

    @property
    def problem(self) -> str | None:
        """Why the graded outputs do not come from the weights, in the student's terms, or None."""
        if TRAINED in self.failed:
            return (f"{self.what}: asked again in a fresh process holding the same trained weights, your model failed "
                    f"({self.failed[TRAINED]})")
        if self.change.get(TRAINED, 0.0) > self.tolerance / 10:
            return (f"{self.what}: asked again in a fresh process holding the same trained weights, your model answered "
                    f"differently (change {self.change[TRAINED]:.3g} of the outputs' spread): its outputs depend on "
                    "something besides the weights and the inputs")
        still = [v for v in VARIANTS if v not in self.failed and self.change.get(v, 0.0) < self.tolerance]
        if not still:
            return None
        described = {"perturbed": f"every weight perturbed by {self.perturbation:.0%}",
                     "reinitialised": "every weight tensor's entries shuffled"}
        return (f"{self.what} do not come from the trained weights: with " + " / ".join(described[v] for v in still)
                + ", they changed by only " + " / ".join(f"{self.change[v]:.2g}" for v in still)
                + f" of their spread (at least {self.tolerance:g} expected). The graded outputs must be computed "
                "by the trained network from the inputs; outputs that do not depend on the weights (a stored copy of "
                "the data, a fixed formula) earn nothing")

    def require(self) -> None:
        """Raise AssertionError with `problem` if the outputs do not come from the weights."""
        if self.problem:
            raise AssertionError(self.problem)


def asking_each(ask: Callable[[object], np.ndarray]) -> Callable[[dict], tuple[dict, dict]]:
    """An `evaluate` for weights_dependence that asks the models one after another, `ask(model)` each
    (for inputs that reveal nothing about each other: i.i.d. samples, codes); a model that fails is
    recorded with its error, not raised."""
    def evaluate(models: dict) -> tuple[dict, dict]:
        outputs, errors = {}, {}
        for name, model in models.items():
            try:
                outputs[name] = ask(model)
            except (StudentError, AssertionError) as e:
                errors[name] = e
        return outputs, errors
    return evaluate


def weights_dependence(handoff: Handoff, weights: Weights, evaluate: Callable[[dict], tuple[dict, dict]], *,
                       graded: np.ndarray, rng: np.random.Generator, what: str,
                       tolerance: float = DEFAULT_TOLERANCE,
                       perturbation: float = DEFAULT_PERTURBATION) -> Dependence:
    """Ask the graded inputs of the trained weights and of their keyed variants, in one pristine worker.

    evaluate({name: remote model}) -> ({name: outputs}, {name: error}): the test's own way of asking
    the graded inputs (in time order for a forecaster, noisy codes for a decoder), given all models
    at once so that it can interleave them as the graded run did. `graded`: the outputs that were
    scored. `rng`: keyed (course_key.rng(...)), so a submission cannot tell which perturbation comes.
    A failure of the handover itself propagates (it is the same handover the graded run passed)."""
    variants = {TRAINED: weights, "perturbed": perturbed(weights, rng, perturbation),
                "reinitialised": reinitialised(weights, rng)}
    with handoff.load(*variants.values()) as models:
        outputs, errors = evaluate(dict(zip(variants, models)))
    change = {name: relative_change(out, graded) for name, out in outputs.items() if name not in errors}
    failed = {name: str(e)[:300] for name, e in errors.items()}
    return Dependence(what, np.asarray(graded), dict(outputs), change, failed, tolerance, perturbation)
