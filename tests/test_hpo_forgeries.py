"""The hpo grader catches forged training logs: each example here is the reference code with one
thing faked, and must lose the points of the check that is about that thing and no others. The
re-run checks are statistical (seed noise measured from the re-runs, two-sided), so this holds on
any machine and with any thread count, not only on the one that wrote the committed logs. The
other examples in examples/hpo/ (an honest MLP search and cheats built on it) are graded in
tests/test_hpo_integrity.py. The forged examples store only what differs from the reference (their
log and write-up); examples/materialise.py adds the reference's code at test time.

    python examples/materialise.py hpo /tmp/hpo-examples && python cli.py grade hpo /tmp/hpo-examples --out graded/
"""
from __future__ import annotations

import runpy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "hpo"
REFERENCE = REPO / "reference_solutions" / "hpo"
materialise = runpy.run_path(str(REPO / "examples" / "materialise.py"))["materialise"]

# submission -> {test function: points lost}; every other test must earn its full points. The re-run
# verdict is statistical and depends on the float noise of the grading machine, so where it judges a
# forgery the loss is a range: (at least, at most). eszter's edits are capped at 1.0, so on the good
# trials its log sits only 3.5-4 images above the truth: about 2-3 seed-noise standard deviations. gabor's one training, copied 100 times, is the
# reference's best (a lucky 286/287): every sampled trial is that lucky draw, so its log may sit
# above its re-runs as well.
# eszter's edited accuracies are also no whole number of validation images (test_enough_trainings does
# not count such trials).
# Trainings are credited in proportion to the re-run trials that verify, and the analysis's best configuration
# is checked against its re-runs (half of test_analysis when they do not bear it out): a forged log may lose there too.
RANGES = {("eszter_inflated_accuracy", "test_log_reproduces"): (1, 3),
          ("eszter_inflated_accuracy", "test_enough_trainings"): (0, 2),
          ("eszter_inflated_accuracy", "test_analysis"): (0, 1),
          ("gabor_copied_trial", "test_log_reproduces"): (0, 3),
          ("gabor_copied_trial", "test_analysis"): (0, 1)}
OTHER_EXAMPLES = {"jozsef_trains_on_validation", "kinga_seed_sniffer", "lena_mlp_random_search"}
# The attacks of issue #20 on the re-run check (examples/hpo/make_rerun_attacks.py made them), which scored
# 20/20 while the check was one-sided and fixed-size: each must lose points in the tests that verify the
# log against its re-runs, and at least `least` points in all, so that it ranks below every honest
# submission (the reference and the populations keep 20/20). How much each loses depends on the seed noise
# of the grading machine and on the course key (bench/bench_hpo_power.py gives the rates).
RERUN_ATTACKS = {
    # a log that never ran: invented seeds, accuracies 4-8 images below what the configs reach
    "mate_invented_below": {"must_lose": {"test_log_reproduces"}, "least": 2.0},
    # every accuracy 2 images above its real training
    "nora_two_images_up": {"must_lose": {"test_log_reproduces"}, "least": 1.0},
}
if (EXAMPLES / "otto_best_of_five_seeds").is_dir():
    # every config trained with 5 seeds, the best logged with its seed: the logged seed repeats it, the grader's do not
    RERUN_ATTACKS["otto_best_of_five_seeds"] = {"must_lose": {"test_log_reproduces"}, "least": 0.25}
EXPECTED_LOSS = {
    "eszter_inflated_accuracy": {"test_log_reproduces": 3},          # accuracies edited up by 3 points
    "ferenc_invented_sizes": {"test_sizes_are_true": 2},             # parameter counts made up
    "gabor_copied_trial": {"test_enough_trainings": 2,               # one training copied 100 times:
                           "test_configs_vary": 1.5},                # one (config, seed), one config
    "hanna_60_trials": {"test_enough_trainings": 1.6},               # 60 of 100: 20 % of the 2 points
    "istvan_hungarian_analysis": {"test_analysis": 2},               # the analysis is in Hungarian
}


def test_forged_examples_store_only_what_differs_from_the_reference(tmp_path):
    """A forgery's folder holds its own files, no copy of the reference code; materialised, it is the
    current reference code plus those files."""
    for name in [*EXPECTED_LOSS, *RERUN_ATTACKS]:
        own = sorted(p.name for p in (EXAMPLES / name).iterdir())
        copies = [f for f in own if (REFERENCE / f).is_file()
                  and (REFERENCE / f).read_bytes() == (EXAMPLES / name / f).read_bytes()]
        assert own and not copies, f"{name} stores copies of the reference: {copies}"
    whole = materialise("hpo", tmp_path, list(EXPECTED_LOSS) + list(RERUN_ATTACKS))
    for name, folder in whole.items():
        assert (folder / "hpo.py").read_bytes() == (REFERENCE / "hpo.py").read_bytes()
        assert all((folder / f.name).read_bytes() == f.read_bytes() for f in (EXAMPLES / name).iterdir())


@pytest.mark.slow
@pytest.mark.corpus
def test_forged_logs_lose_exactly_their_points(tmp_path):
    spec = find_assignment("hpo")
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(set(EXPECTED_LOSS) | OTHER_EXAMPLES
                                                                             | set(RERUN_ATTACKS))
    whole = materialise("hpo", tmp_path, list(EXPECTED_LOSS))
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=bytes(range(32)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(EXPECTED_LOSS, pool.map(lambda name: grade_submission(spec, whole[name], options),
                                                    EXPECTED_LOSS)))
    problems = []
    for name, result in results.items():
        if result.status != "graded" or result.grader_errors:
            problems.append(f"{name}: {result.status} {result.reason} {result.grader_errors[:1]}")
            continue
        lost = {t.nodeid.rsplit("::", 1)[-1]: round(t.points - t.score, 4) for t in result.tests if t.score < t.points}
        want = EXPECTED_LOSS[name]
        allowed = {test: (points, points) for test, points in want.items()}
        allowed.update({test: r for (n, test), r in RANGES.items() if n == name})
        ok = set(lost) <= set(allowed) and all(
            lo - 1e-6 <= lost.get(test, 0.0) <= hi + 1e-6 for test, (lo, hi) in allowed.items())
        if not ok:
            detail = {t.nodeid.rsplit("::", 1)[-1]: (t.status, t.message[:160]) for t in result.tests if t.score < t.points}
            problems.append(f"{name}: lost {lost}, expected {want}; {detail}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.corpus
def test_rerun_attacks_rank_below_every_honest_submission(tmp_path):
    """Issue #20: a log that never ran (set below its configs), every accuracy +2 images, best of five seeds:
    each loses points where the log is verified against its re-runs (two-sided, sampled sequentially)."""
    spec = find_assignment("hpo")
    whole = materialise("hpo", tmp_path, list(RERUN_ATTACKS))
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=bytes(range(32)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(RERUN_ATTACKS, pool.map(lambda name: grade_submission(spec, whole[name], options),
                                                    RERUN_ATTACKS)))
    problems = []
    for name, result in results.items():
        if result.status != "graded" or result.grader_errors:
            problems.append(f"{name}: {result.status} {result.reason} {result.grader_errors[:1]}")
            continue
        lost = {t.nodeid.rsplit("::", 1)[-1]: round(t.points - t.score, 4) for t in result.tests if t.score < t.points}
        want = RERUN_ATTACKS[name]
        if not want["must_lose"] <= set(lost) or sum(lost.values()) < want["least"]:
            problems.append(f"{name}: lost {lost}, expected at least {want['least']} with {sorted(want['must_lose'])}")
        notes = [n for t in result.tests if t.nodeid.endswith("test_log_reproduces") for n in t.notes]
        if not any("Sequential sampling" in n for n in notes):
            problems.append(f"{name}: the feedback does not show the sequential test's looks")
    assert not problems, "\n".join(problems)
