"""The gan grader catches broken and cheating generators: each example in examples/gan/ is the
reference solution with one change, and must lose exactly the points this table lists (embedded
mode: 8x8 digits). Losses beyond the check that is about the change are real consequences of it,
explained in the comments.

    python cli.py grade gan examples/gan --out graded/     # the same, by hand
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.assignments import find_assignment
from grader.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "gan"

QUALITY = {"test_sample_quality": 4, "test_class_fidelity": 2, "test_diversity": 2}

# submission -> {test function: points lost}; every other test must earn its full points
EXPECTED_LOSS = {
    # returns training images (kept by train_gan) in eval mode: memorisation ratio 0, no quality or coverage credit
    "memoriser": {**QUALITY, "test_samples_are_not_copies": 1, "test_unconditional_mode_coverage": 1},
    # every z gives the same (good) image: Frechet distance ~25, diversity 0, one digit of ten covered;
    # the image is a 3 (fidelity kept)
    "collapsed": {"test_sample_quality": 4, "test_diversity": 2, "test_unconditional_mode_coverage": 1},
    # uniform noise: Frechet distance ~110, fidelity 0 (diversity is high), 2 digits "covered";
    # D wins outright (log check)
    "noise": {"test_sample_quality": 4, "test_class_fidelity": 2, "test_training_log": 2,
              "test_unconditional_mode_coverage": 1},
    # log(sigmoid(l)): nan at logits of +-50
    "log_sigmoid": {"test_losses_stable_at_extreme_logits": 2},
    # fake targets 1 - real_label
    "two_sided_smoothing": {"test_label_smoothing_is_one_sided": 2},
    # sigmoid in forward: the logits check; the losses then see "logits" in [0, 1], so the minimax loss cannot
    # saturate and a WGAN critic cannot score real images 0.5 above fakes
    "probabilities": {"test_discriminator_returns_logits": 1, "test_minimax_loss_saturates": 2,
                      "test_wgan_gp_critic": 2},
}


@pytest.mark.slow
def test_broken_generators_lose_exactly_their_points():
    spec = find_assignment("gan")
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED_LOSS)
    options = RunOptions(mode="embedded", include_hidden=True, threads=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(EXPECTED_LOSS, pool.map(lambda name: grade_submission(spec, EXAMPLES / f"{name}.py", options),
                                                    EXPECTED_LOSS)))
    problems = []
    for name, result in results.items():
        if result.status != "graded" or result.grader_errors:
            problems.append(f"{name}: {result.status} {result.reason} {result.grader_errors[:1]}")
            continue
        lost = {t.nodeid.rsplit("::", 1)[-1]: round(t.points - t.score, 4) for t in result.tests if t.score < t.points}
        if lost != EXPECTED_LOSS[name]:
            detail = {t.nodeid.rsplit("::", 1)[-1]: (t.status, t.message[:160]) for t in result.tests if t.score < t.points}
            problems.append(f"{name}: lost {lost}, expected {EXPECTED_LOSS[name]}; {detail}")
        expected_score = spec.points - sum(EXPECTED_LOSS[name].values())
        if abs(result.score - expected_score) > 1e-6:
            problems.append(f"{name}: score {result.score}, expected {expected_score}")
    assert not problems, "\n".join(problems)
