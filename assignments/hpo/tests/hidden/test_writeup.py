"""Hidden checks on the write-up and the code: the analysis is English prose of some length about
size and accuracy; the code is commented. The grader's own size-accuracy statistics go into the
feedback, so a human grader can compare them with the analysis."""
import re

import numpy as np
import pytest
from hpo_support import best_trial
from hpo_checks import comment_ratio, english_score, spearman
from hpo_support import ANALYSIS_PATTERNS, code_source, scatter_plot, words

SIZE_WORDS = re.compile(r"param|size|width|depth|capacit|larg|small|big", re.I)
ACCURACY_WORDS = re.compile(r"accura|error rate|performance", re.I)
CLAIMED_RHO = re.compile(r"(?:rho|ρ|spearman|correlation)[^0-9\n]{0,40}?([+\-−]?\s?[01]?\.\d+)", re.I)


def size_accuracy_feedback(hpo_log, feedback) -> None:
    """The grader's Spearman rho (parameters vs validation accuracy) and a scatter plot of the log."""
    if hpo_log.problem:
        feedback.note(f"no size-accuracy figure: {hpo_log.problem}")
        return
    done = [t for t in hpo_log.complete() if t["params"] is not None and t["params"] > 0]
    if len(done) < 3:
        feedback.note("no size-accuracy figure: fewer than 3 complete trials with a parameter count")
        return
    params = np.array([t["params"] for t in done], dtype=np.float64)
    acc = np.array([t["val_accuracy"] for t in done])
    rho = spearman(params, acc)
    best = best_trial(done)
    feedback.note(f"the grader's Spearman rho between parameter count and validation accuracy: {rho:+.2f} "
                  f"(n = {len(done)} complete trials; parameters {int(params.min()):,} to {int(params.max()):,})")
    feedback.image(f"validation accuracy (y) against parameter count (x, log scale), rho = {rho:+.2f}; "
                   "orange: the best trial", scatter_plot(params, acc, highlight=done.index(best)))


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_analysis(artifacts, hpo_log, settings, thresholds, feedback):
    """analysis.md discusses network size versus accuracy, in English, at the required length"""
    size_accuracy_feedback(hpo_log, feedback)
    name = artifacts.find(*ANALYSIS_PATTERNS)
    assert name, "no analysis found: hand in analysis.md next to your code"
    text = artifacts.read_text(name, max_bytes=2_000_000)
    claimed = [m.group(1).replace("−", "-").replace(" ", "") for m in CLAIMED_RHO.finditer(text)][:5]
    feedback.note(f"{name} states these correlation values: {', '.join(claimed)}" if claimed else
                  f"{name} states no correlation value that the grader could find")
    n_words = words(text)
    assert n_words >= settings["min_words"], \
        f"{name} has {n_words} words; the analysis should have at least {settings['min_words']}"
    score = english_score(text)
    assert score >= thresholds["min_english"], (
        f"{name} does not read as English (common-word score {score:.2f}, at least {thresholds['min_english']:.2f} "
        "expected): the analysis must be written in English")
    assert SIZE_WORDS.search(text) and ACCURACY_WORDS.search(text), \
        f"{name} should discuss how the network size (parameter count) relates to the accuracy"


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
