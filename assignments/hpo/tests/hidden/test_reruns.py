"""Hidden checks that re-run logged trainings (the `retrained` fixture): the log is neither above nor
below what its trainings really reach (two-sided, sampled sequentially), the models were not trained
on the validation images, and the best configuration's accuracy on test images that no training worker was given. Every accuracy here is
computed by the grader from the weights; what train_and_evaluate returns is only shown."""
import math

import numpy as np
import pytest
from hpo_support import leak_fraction, trial_label

from grader.authoring import scatter_plot


def _acc(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else repr(v)[:20]


@pytest.mark.points(3)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)
def test_log_reproduces(retrained, reruns, thresholds, credit, feedback):
    """logged accuracies are what the trainings reach, neither above nor below: re-runs with the logged
    and with other seeds, more of them while the verdict is ambiguous"""
    r = retrained.get()
    n_val = r.n_val
    v, rule = r.verdict, r.rule
    for c in v.checks:
        t = c.trial
        seeds = ", ".join(f"seed {x.seed}{' (logged)' if x.logged_seed else ''} -> {_acc(x.val)}" for x in r.of(t))
        returned = ", ".join(_acc(x.returned) for x in r.of(t))
        if c.unstable:   # converges on some seeds, not on others: the range is the yardstick
            judged = (f"its re-runs differ by {(max(c.runs) - min(c.runs)) * n_val:.0f} images, more than the "
                      f"{thresholds['rerun_spread_cap'] * n_val:.1f} a stable training may, so it is judged against "
                      f"their range: {c.d * n_val:+.1f} images outside it")
        else:
            judged = f"logged - mean {c.d * n_val:+.1f} images (noise sd {c.sd * n_val:.1f})"
        verdict = "verified" if c.verified else "NOT verified"
        feedback.note(f"{trial_label(t)}{' (the best; judged alone: the best of many trainings sits above its re-runs)' if c.best else ''}: "
                      f"logged {_acc(t['val_accuracy'])}; measured by the grader: {seeds}; {judged}: {verdict} "
                      f"(train_and_evaluate returned {returned}; not used)")

    def points(trials):
        pairs = [(100 * t["val_accuracy"], 100 * x.val) for t in trials for x in r.of(t)
                 if isinstance(t["val_accuracy"], (int, float)) and math.isfinite(x.val)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    feedback.image("the validation accuracy your log states against what the grader measured when it re-ran the same "
                   "configuration (from the trained weights; the logged seed and seeds of its own)",
                   scatter_plot({"random trials": points(r.sample), "the best trial": points([r.best])},
                                xlabel="logged validation accuracy (%)", ylabel="re-run by the grader (%)",
                                diagonal="log = re-run"))
    z = thresholds["rerun_z"]
    looks = "; ".join(f"after {k.n} trials z = {k.z:+.2f} ({k.reason})" for k in r.looks)
    feedback.note(
        f"seed-to-seed spread of one training's validation accuracy, measured here from these re-runs: "
        f"{v.spread_measured * n_val:.2f} images ({v.dof} degrees of freedom"
        f"{'; without the unstable trainings ' + ', '.join(map(str, v.unstable)) if v.unstable else ''}); "
        f"used: {v.spread * n_val:.2f} images "
        f"(at least {thresholds['rerun_spread_floor_images']} image, at most {thresholds['rerun_spread_cap'] * n_val:.1f}). "
        f"Over the {v.n} random trials: logged - mean of every re-run {v.excess * n_val:+.2f} images (standard error "
        f"{v.se * n_val:.2f}, z = {v.z_all:+.2f}); logged - mean of the re-runs with the grader's seeds "
        f"{v.excess_seeds * n_val:+.2f} images (standard error {v.se_seeds * n_val:.2f}, z = {v.z_seeds:+.2f}); "
        f"logged - its re-run with the logged seed {v.excess_same * n_val:+.2f} images on average (0 when the log was "
        f"made on a machine like the grader's; paired test, z = {v.z_same:+.2f}). "
        f"Judged on z = {v.z:+.2f} ({v.which}), in both directions: full marks while |z| <= {z['full']:g}, none from "
        f"|z| = {z['zero']:g}. Sequential sampling: {looks}." + reruns.note)
    credit.linear(abs(v.z), full=z["full"], zero=z["zero"],
                  what="how far the log sits from its re-runs, either way (|z|: mean difference / standard error)")
    if abs(v.z) > z["full"]:
        excess = {"every re-run": v.excess, "the grader's seeds only": v.excess_seeds}.get(v.which, v.excess_same)
        side = "above" if v.z > 0 else "below"
        credit.message += (f"the logged validation accuracies are {abs(excess) * n_val:.1f} images {side} what the "
                           f"grader measures when it re-runs them (judged on {v.which}: |z| = {abs(v.z):.2f}, allowed "
                           f"{z['full']:g}); "
                           f"the log should hold what train_and_evaluate's trainings reach, neither more nor less"
                           f"{reruns.note}\n")
    unverified = [c for c in v.random_checks() if not c.verified]
    if unverified:
        credit.message += (f"{len(unverified)} of the {v.n} re-run trials are not reproduced within {rule.verify:g} noise "
                           "standard deviations: " + ", ".join(f"{trial_label(c.trial)} ({c.d * n_val:+.1f} images)"
                                                                for c in unverified[:6]) + "\n")


@pytest.mark.points(1)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)
def test_no_validation_leak(retrained, thresholds, credit, feedback):
    """the re-run models were trained on the training split only, not on the validation images"""
    r = retrained.get()
    leak, val_gap, held_gap = leak_fraction(r.runs)
    n = len(r.runs)
    gaps = [x.val - x.held for x in r.runs]
    feedback.note(f"mean cross-entropy of the {n} re-run models, minus that on training images: validation images "
                  f"{val_gap / n:+.4f}, the grader's held-out test images {held_gap / n:+.4f}; the validation images have "
                  f"closed {leak:.0%} of the models' generalisation gap (about 0 % when they were not trained on, "
                  f"100 % when they were); accuracy validation - held-out: {100 * float(np.mean(gaps)):+.1f} points")
    th = thresholds["leak_fraction"]
    credit.linear(leak, full=th["full"], zero=th["zero"], what="share of the generalisation gap the validation images closed")
    if leak > th["full"]:
        credit.message += ("the trained models fit the validation images almost like their training images: "
                           "train_and_evaluate should train on data['x_train'] only (the validation split scores the "
                           "configs and must stay unseen)\n")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)
def test_best_config_test_accuracy(retrained, thresholds, credit, feedback):
    """test accuracy of the best configuration, retrained by the grader and scored on test images it holds"""
    r = retrained.get()
    runs = r.of(r.best)
    acc = float(np.mean([x.held for x in runs]))
    th = thresholds["test_accuracy"]
    credit.linear(acc, full=th["full"], zero=th["zero"], what="test accuracy of the best config")
    feedback.note(f"best logged trial: {trial_label(r.best)}, config {r.best['config']}, logged validation accuracy "
                  f"{_acc(r.best['val_accuracy'])}; retrained here with seeds {', '.join(str(x.seed) for x in runs)}: "
                  f"validation {', '.join(_acc(x.val) for x in runs)}, test {', '.join(_acc(x.held) for x in runs)} "
                  f"(mean {acc:.4f}, on {len(runs[0].held_logp)} test images that no training worker was given)")
