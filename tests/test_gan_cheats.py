"""The gan grader catches broken and cheating generators and keeps honest ones at (near) full marks.

Each example in examples/gan/ (a planted fault made whole by examples/materialise.py, or an honest file
written from scratch) is graded once (embedded mode: 8x8 digits, a fixed course key), then:

- every broken or cheating one loses the points this table lists, and no others (losses beyond the
  check that is about the change are real consequences of it, explained in the comments; a check
  whose outcome depends on the machine's arithmetic is listed as one it *may* lose);
- every one of them scores strictly below every honest submission, and below 95 % of the points: the share
  every member of the honest population (populations/gan/: the DCGAN paper, the WGAN-GP paper, the PyTorch
  tutorial, public student code) is held to by tests/test_populations.py (`-m population`), so every cheat
  ranks below every honest design there too.

    python examples/materialise.py gan /tmp/gan-examples   # the same, by hand
    python cli.py grade gan /tmp/gan-examples --out graded/
"""
from __future__ import annotations

import runpy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
MATERIALISE = runpy.run_path(str(REPO / "examples" / "materialise.py"))
HONEST_SHARE = 0.95  # issue #19: every honest design earns at least 95 % of the points (tests/test_populations.py)
COURSE_KEY = bytes(range(32))  # fixed, so a failure here can be re-run; `validate` draws a new key every time

QUALITY = {"test_sample_quality": 4, "test_class_fidelity": 2, "test_diversity": 2}
COPIED = {**QUALITY, "test_samples_are_not_copies": 1, "test_unconditional_mode_coverage": 1}

# submission -> {test function: points lost}; every other test must earn its full points
EXPECTED_LOSS = {
    # keeps the training images in a module global and returns them in eval mode: the global never crosses the
    # weights-only handoff, and the training worker's samples then differ from the weights' (no quality credit)
    "memoriser": COPIED,
    # a fixed-size buffer declared in __init__ crosses the handoff, filled with training images: copies, ratio 0
    "buffer_bank": COPIED,
    # scikit-learn's digits of the class (held-out ones included) looked up in the pristine worker: ratio 0
    "sklearn_lookup": COPIED,
    # cross-fades of two real digits: new pixels, but each lies on a segment between two real images: ratio 0
    "blend": COPIED,
    # issue #20: scikit-learn's digits of the class rotated by up to 15 degrees and scaled by up to 10 %: the copy
    # check registers each sample on the public digits before comparing, and the samples do not change with the weights
    "warped_lookup": COPIED,
    # the same warps (plus contrast and a little noise) on a buffer of training images declared in __init__: the
    # samples change with the weights (the buffer is in them), so the copy check alone catches it
    "warped_bank": COPIED,
    # every z gives the same (good) image: Frechet distance ~10, diversity 0, one digit of ten covered
    "collapsed": {"test_sample_quality": 4, "test_diversity": 2, "test_unconditional_mode_coverage": 1},
    # uniform noise: it does not change with the weights (issue #20), so no quality, copy or coverage points (before:
    # Frechet distance ~110, fidelity 0, diversity high); D wins outright (log check)
    "noise": {**COPIED, "test_training_log": 2},
    # log(sigmoid(l)): nan at logits of +-50
    "log_sigmoid": {"test_losses_stable_at_extreme_logits": 2},
    # fake targets 1 - real_label
    "two_sided_smoothing": {"test_label_smoothing_is_one_sided": 2},
    # sigmoid in forward: the logits check; a WGAN critic whose scores lie in [0, 1] cannot score real images
    # 0.5 above fakes (0.28-0.38 in 150-200 steps). Its loss functions are right, so the minimax test (judged on
    # the losses' slopes since issue #19) passes
    "probabilities": {"test_discriminator_returns_logits": 1, "test_wgan_gp_critic": 2},
}
# the collapsed image is one sample of a trained generator: whether the classifier calls it a 3 depends on the
# machine's floating-point arithmetic; what matters is that it loses the quality and diversity points above
MAY_ALSO_LOSE = {"collapsed": {"test_class_fidelity"}}
HONEST = ("honest_upsample",)  # written independently of the reference


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> dict[str, Path]:
    """{example name: its whole file}: the planted faults made whole, the honest files as they are."""
    whole = MATERIALISE["materialise"]("gan", tmp_path_factory.mktemp("gan-examples"))
    return {Path(name).stem: path for name, path in whole.items()}


@pytest.fixture(scope="module")
def graded(examples):
    spec = find_assignment("gan")
    names = sorted(EXPECTED_LOSS) + list(HONEST)
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=COURSE_KEY)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(names, pool.map(lambda n: grade_submission(spec, examples[n], options), names)))
    return spec, results


def _lost(result) -> dict:
    return {t.nodeid.rsplit("::", 1)[-1]: round(t.points - t.score, 4) for t in result.tests if t.score < t.points}


def _detail(result) -> dict:
    return {t.nodeid.rsplit("::", 1)[-1]: (t.status, t.message[:160]) for t in result.tests if t.score < t.points}


@pytest.mark.slow
@pytest.mark.corpus
def test_every_example_is_graded_here(examples):
    assert sorted(examples) == sorted(list(EXPECTED_LOSS) + list(HONEST))


@pytest.mark.slow
@pytest.mark.corpus
def test_broken_generators_lose_exactly_their_points(graded):
    _, results = graded
    problems = []
    for name, expected in EXPECTED_LOSS.items():
        result = results[name]
        if result.status != "graded" or result.grader_errors:
            problems.append(f"{name}: {result.status} {result.reason} {result.grader_errors[:1]}")
            continue
        lost = _lost(result)
        optional = MAY_ALSO_LOSE.get(name, set())
        if {k: v for k, v in lost.items() if k not in optional} != expected:
            problems.append(f"{name}: lost {lost}, expected {expected} (may also lose {sorted(optional)}); "
                            f"{_detail(result)}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.corpus
def test_cheats_score_below_honest_solutions(graded):
    spec, results = graded
    honest = {n: results[n] for n in HONEST}
    for name, result in honest.items():
        assert result.status == "graded" and not result.grader_errors, (name, result.reason, result.grader_errors[:1])
        assert result.score >= HONEST_SHARE * spec.points, f"honest {name} scored {result.score}: lost {_detail(result)}"
    floor = min(min(r.score for r in honest.values()), HONEST_SHARE * spec.points)
    above = {n: results[n].score for n in EXPECTED_LOSS if results[n].score >= floor}
    assert not above, f"broken or cheating examples at or above the honest ones ({floor}): {above}"
