"""Hidden checks on the write-up and the code: the analysis is English prose of some length about
size and accuracy, in the student's own words (text copied from the assignment does not count), and
the size-accuracy correlation it states agrees with the one the grader computes from the log; the
code is commented. The grader's statistics and a scatter plot go into the feedback as well."""
import re

import numpy as np
import pytest
from hpo_support import best_trial, trial_label
from hpo_checks import (MAX_FILLER_SHARE, MIN_COMPRESSION_RATIO, STRENGTH_CLASSES, analysis_substance, comment_ratio, english_score,
                        size_correlations, stated_size_correlation, stated_size_strength, strength_agrees, strip_copied)
from hpo_support import (analysis_file, best_claim_holds, claim_fits_measurement, code_source, fisher_interval,
                         measured_size_correlation, words)

from grader.authoring import line_plot, scatter_plot, template_dir

SIZE_WORDS = re.compile(r"param|size|width|depth|capacit|larg|small|big", re.I)
ACCURACY_WORDS = re.compile(r"accura|error rate|performance", re.I)


def assignment_texts(spec) -> list[str]:
    """The text every student is given: the assignment's README and the template (its comments and
    markdown say what the analysis should cover). Read here, on the trusted side."""
    paths = [spec.path / "README.md"]
    folder = template_dir(spec)
    if folder.is_dir():
        paths += sorted(p for p in folder.iterdir() if p.suffix in (".py", ".md"))  # the notebook holds the same text
    return [p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file()]


def size_accuracy_feedback(hpo_log, feedback) -> dict | None:
    """The grader's Spearman rho (parameters vs validation accuracy) and a scatter plot of the log.
    Returns the correlations the analysis is checked against, or None when the log gives none."""
    if hpo_log.problem:
        feedback.note(f"no size-accuracy figure: {hpo_log.problem}")
        return None
    done = [t for t in hpo_log.complete() if t["params"] is not None and t["params"] > 0]
    if len(done) < 3:
        feedback.note("no size-accuracy figure: fewer than 3 complete trials with a parameter count")
        return None
    params = np.array([t["params"] for t in done], dtype=np.float64)
    acc = np.array([t["val_accuracy"] for t in done])
    rhos = size_correlations(params, acc)
    rho = rhos["Spearman rho"]
    best = best_trial(done)
    feedback.note(f"the grader's Spearman rho between parameter count and validation accuracy: {rho:+.2f} "
                  f"(n = {len(done)} complete trials; parameters {int(params.min()):,} to {int(params.max()):,})")
    feedback.image(f"validation accuracy against network size, every complete trial of your log; the grader's "
                   f"Spearman rho = {rho:+.2f} (the accuracies the grader measured itself are in the re-run test)",
                   scatter_plot({"trials (your log)": (params, 100 * acc),
                                 f"best: {trial_label(best)}": ([best["params"]], [100 * best["val_accuracy"]])},
                                xlabel="parameters (log scale)", ylabel="validation accuracy (%)", logx=True))
    order = sorted(done, key=lambda t: t["trial"])
    feedback.image("the search's progress: each trial's validation accuracy in the order the log numbers them, and "
                   "the best so far",
                   line_plot({"best so far": 100 * np.maximum.accumulate([t["val_accuracy"] for t in order]),
                              "this trial": [100 * t["val_accuracy"] for t in order]},
                             x=[t["trial"] for t in order], xlabel="trial number", ylabel="validation accuracy (%)"))
    return rhos if np.isfinite(rho) else None


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)   # the verification fixture may run the re-runs
def test_analysis(artifacts, hpo_log, spec, settings, thresholds, feedback, credit, verification):
    """analysis.md discusses network size versus accuracy, in English, at the required length, and the
    correlation and best configuration it states are the ones the log shows and the re-runs measure"""
    rhos = size_accuracy_feedback(hpo_log, feedback)
    name = analysis_file(artifacts, None if hpo_log.problem else hpo_log)   # the graded log's own write-up
    assert name, "no analysis found: hand in analysis.md next to your code"
    text = artifacts.read_text(name, max_bytes=2_000_000)
    # the assignment's own sentences are not the student's analysis: they earn nothing
    own, copied = strip_copied(text, assignment_texts(spec))
    if copied >= 0.05:   # honest analyses share a stock phrase or two (the reference: 1.6 %)
        feedback.note(f"{copied:.0%} of the words of {name} repeat the assignment's text (runs of 6 or more words "
                      "from the README or the template); they are not counted")
    # filler earns nothing: only sentences about the search (its variables or numbers), said once, count
    substance = analysis_substance(own, hpo_log.trials, rhos.values() if rhos else ())
    n_words = words(substance.text)
    if substance.filler_share >= 0.25:   # honest analyses: 0.04-0.17 (repeated table cells)
        feedback.note(f"{substance.repeated} of the {substance.words} words of {name} repeat earlier text and "
                      f"{substance.unrelated} are in sentences that name none of the search's variables or numbers; "
                      "they are not counted")
    assert n_words >= settings["min_words"], (
        f"{name} has {n_words} words of its own" + (" (text copied from the assignment is not counted)" if copied >= 0.05 else "")
        + " about the search" + (" (repeated text and sentences unrelated to the search are not counted)"
                                 if substance.words and substance.filler_share >= 0.25 else "")
        + f"; the analysis should have at least {settings['min_words']}")
    score = english_score(substance.text)
    assert score >= thresholds["min_english"], (
        f"{name} does not read as English (common-word score {score:.2f}, at least {thresholds['min_english']:.2f} "
        "expected): the analysis must be written in English")
    assert SIZE_WORDS.search(substance.text) and ACCURACY_WORDS.search(substance.text), \
        f"{name} should discuss how the network size (parameter count) relates to the accuracy"
    assert substance.filler_share <= MAX_FILLER_SHARE, (
        f"{name} is mostly filler: {substance.filler_share:.0%} of its {substance.words} words repeat earlier text or "
        f"are in sentences unrelated to the search (at most {MAX_FILLER_SHARE:.0%} expected)")
    assert substance.compression_ratio >= MIN_COMPRESSION_RATIO, (
        f"{name} is mostly repetition: its words compress to {substance.compression_ratio:.2f} of their size "
        f"(written prose: about 0.3-0.4; at least {MIN_COMPRESSION_RATIO:.2f} expected)")
    if rhos is None:
        feedback.note("the log gives no size-accuracy correlation (fewer than 3 trials, or one size only), so the "
                      "one the analysis states was not checked")
        claims_against_measurements(name, None, verification, thresholds, feedback, credit)
        return
    rho, tol = rhos["Spearman rho"], thresholds["rho_tolerance"]
    found = "; ".join(f"{k} {v:+.2f}" for k, v in rhos.items() if np.isfinite(v))
    value, sentence = stated_size_correlation(own)
    feedback.note(f"{name} states a size-accuracy correlation of {value:+.2f} (\"{sentence}\"); from the log: {found}"
                  if value is not None else f"{name} states no size-accuracy correlation value that the grader could find")
    if value is not None:
        assert any(np.isfinite(v) and abs(v - value) <= tol for v in rhos.values()), (
            f"{name} states a size-accuracy correlation of {value:+.2f} (\"{sentence}\"), but the log it was handed "
            f"in with gives {found} (within {tol:g} expected): the analysis must describe this log")
        claim = (min(value, rho) - tol, max(value, rho) + tol), f"{value:+.2f}"
        claims_against_measurements(name, claim, verification, thresholds, feedback, credit)
        return
    strength, sign, sentence = stated_size_strength(own)
    if strength is not None:
        assert strength_agrees(strength, sign, rho), (
            f"{name} describes the size-accuracy relation as {strength}{' ' + sign if sign else ''} "
            f"(\"{sentence}\"), but the log gives Spearman rho = {rho:+.2f}: the analysis must describe this log")
        lo, hi = STRENGTH_CLASSES[strength]
        claimed = (lo, hi) if sign == "positive" else (-hi, -lo) if sign == "negative" else (-hi, hi)
        claims_against_measurements(name, (claimed, f"{strength}{' ' + sign if sign else ''}"), verification,
                                    thresholds, feedback, credit)
        return
    credit.fraction = 0.5
    credit.message += (f"{name} does not state the correlation between network size and accuracy (the assignment "
                       f"asks for the rank correlation; the log gives Spearman rho = {rho:+.2f}): half of the points\n")
    claims_against_measurements(name, None, verification, thresholds, feedback, credit)


def claims_against_measurements(name: str, claim: tuple | None, verification, thresholds: dict, feedback, credit) -> None:
    """The analysis's claims checked against what the grader measured, not only against the log: the stated
    size-accuracy correlation (claim: (range of rho it allows, as stated)) must fit the correlation of the
    re-run trials' measured accuracies within that correlation's sampling error (hpo_support.fisher_interval),
    and the best configuration must be reproduced by its re-runs or measure within the noise of the best
    verified sampled trial (hpo_support.best_claim_holds). A contradicted correlation earns nothing; a best
    configuration the re-runs do not bear out costs half of the points."""
    if verification.not_done or verification.failed:
        feedback.note(f"the claims of {name} were checked against the log only: "
                      f"{verification.not_done or 're-running the trials failed (' + verification.failed + ')'}")
        return
    v, z = verification.verdict, thresholds.get("claim_z", 3.0)
    measured, n = measured_size_correlation(v)
    lo, hi = fisher_interval(measured, n, z)
    if claim is not None and n >= 5:
        (c_lo, c_hi), stated = claim
        feedback.note(f"the grader's own size-accuracy correlation, from the accuracies it measured on the {n} re-run "
                      f"trials: Spearman rho {measured:+.2f} (with its sampling error at {z:g} standard errors: "
                      f"{lo:+.2f} to {hi:+.2f}); {name} states {stated}")
        assert claim_fits_measurement((c_lo, c_hi), measured, n, z), (
            f"{name} states a size-accuracy correlation of {stated}, but the accuracies the grader measured by "
            f"re-running {n} of the logged configurations give Spearman rho = {measured:+.2f} (anything from "
            f"{lo:+.2f} to {hi:+.2f} would fit): the analysis must describe what the trainings reach")
    ok, what = best_claim_holds(v, z)
    feedback.note(f"the best configuration of the log, checked by re-running it: {what}")
    if not ok:
        credit.fraction = 0.5 * (1.0 if credit.fraction is None else credit.fraction)
        credit.message += (f"the best configuration the log (and so {name}) reports is not borne out by its re-runs: "
                           f"{what}: half of the points\n")


@pytest.mark.points(1)
@pytest.mark.visibility("after_due_date")
def test_code_is_commented(student, artifacts, code_file, hpo_log, thresholds, credit):
    """the code explains itself: comments, docstrings and (in a notebook) markdown cells"""
    hpo_log.require()  # comments are credited on a submission that did the search
    space = student.search_space("cpu")
    assert isinstance(space, dict), "search_space() does not work yet"
    source = code_source(artifacts, code_file)
    th = thresholds["comment_ratio"]
    credit.linear(comment_ratio(source), full=th["full"], zero=th["zero"],
                  what=f"share of comment and docstring lines in {code_file}")
