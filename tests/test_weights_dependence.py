"""weights_dependence tells outputs computed by the trained weights from outputs that ignore them.

The models run in this process (a stand-in for the pristine worker: the handover code is the real
one); each test states what a student's model does and what the grader must conclude.
"""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn as nn

from grader.authoring.checks import as_numpy
from grader.authoring.handoff import Handoff
from grader.authoring.weights_dependence import asking_each, perturbed, reinitialised, relative_change, weights_dependence


class Honest(nn.Module):
    def __init__(self, d: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class Residual(Honest):
    """Persistence plus a learned correction: the last input value is not a weight."""
    def forward(self, x):
        return x[:, -1] + self.net(x).squeeze(-1)


class BatchNormed(nn.Module):
    """Running statistics are buffers: a perturbation must not make a variance negative."""
    def __init__(self, d: int = 8):
        super().__init__()
        self.bn, self.out = nn.BatchNorm1d(d), nn.Linear(d, 1)

    def forward(self, x):
        return self.out(self.bn(x)).squeeze(-1)


class FixedFormula(Honest):
    """Keeps a network to hand over and answers with a formula that needs no training."""
    def forward(self, x):
        return x.abs().mean(dim=1)


class TinyDependence(Honest):
    """A formula plus a token use of the weights, far below the outputs' spread."""
    def forward(self, x):
        return x.abs().mean(dim=1) + 1e-6 * self.net(x).squeeze(-1)


CALLS = {"n": 0}


class CountsCalls(Honest):
    """Answers differently each time it is asked: not a function of weights and inputs."""
    def forward(self, x):
        CALLS["n"] += 1
        return self.net(x).squeeze(-1) + CALLS["n"]


class _Session:
    def __init__(self):
        self.module = types.SimpleNamespace(**{c.__name__: c for c in
                                               (Honest, Residual, BatchNormed, FixedFormula, TinyDependence, CountsCalls)})

    def close(self):
        pass


def _check(cls_name: str, seed: int = 0):
    torch.manual_seed(seed)
    handoff = Handoff(_Session)
    model = getattr(_Session().module, cls_name)()
    if cls_name == "BatchNormed":  # running statistics away from their initial values
        model.train()
        model(torch.randn(256, 8) * 3 + 1)
    model.eval()
    weights = handoff.take(model, cls_name)
    x = torch.randn(300, 8)
    ask = lambda m: as_numpy(m(x), "model(x)").astype(np.float64)  # noqa: E731
    with handoff.load(weights) as [trained]:
        graded = ask(trained)
    return weights_dependence(handoff, weights, asking_each(ask), graded=graded,
                              rng=np.random.default_rng([seed, 1]), what="the forecasts")


@pytest.mark.parametrize("name", ["Honest", "Residual", "BatchNormed"])
def test_outputs_of_trained_weights_pass(name):
    dep = _check(name)
    assert dep.problem is None, dep.problem
    assert dep.change["trained"] == 0.0
    assert dep.change["perturbed"] >= 0.02 and dep.change["reinitialised"] >= 0.1, dep.change


@pytest.mark.parametrize("name", ["FixedFormula", "TinyDependence"])
def test_outputs_that_ignore_the_weights_earn_nothing(name):
    dep = _check(name)
    assert dep.problem and "do not come from the trained weights" in dep.problem, dep.problem
    assert "the forecasts" in dep.problem  # names the output in the student's terms
    with pytest.raises(AssertionError, match="do not come from the trained weights"):
        dep.require()


def test_outputs_that_change_when_asked_again_earn_nothing():
    dep = _check("CountsCalls")
    assert dep.problem and "answered differently" in dep.problem, dep.problem


def test_variants_are_keyed_and_keep_what_must_stay_valid():
    torch.manual_seed(0)
    bn = BatchNormed()
    bn.train()
    bn(torch.randn(64, 8))
    w = Handoff(_Session).take(bn, "BatchNormed")
    a, b = perturbed(w, np.random.default_rng(1)), perturbed(w, np.random.default_rng(1))
    c = perturbed(w, np.random.default_rng(2))
    assert a.digest == b.digest != c.digest  # the same key gives the same variant, another key another
    assert (a.tensors["bn.running_var"] > 0).all()
    assert a.tensors["bn.num_batches_tracked"] == w.tensors["bn.num_batches_tracked"]
    r = reinitialised(w, np.random.default_rng(1))
    for name, t in w.tensors.items():  # the same values, another arrangement
        assert np.array_equal(np.sort(r.tensors[name], axis=None), np.sort(t, axis=None))
    assert not np.array_equal(r.tensors["out.weight"], w.tensors["out.weight"])


def test_relative_change_is_measured_against_the_outputs_spread():
    graded = np.array([0.0, 2.0, 4.0])
    assert relative_change(graded, graded) == 0.0
    assert relative_change(graded + 1.0, graded) == pytest.approx(1 / np.std(graded))
    assert relative_change(np.ones(3), np.ones(3)) == 0.0
    assert relative_change(np.ones(3) * 2, np.ones(3)) == float("inf")
