"""The ae_bottleneck grader ranks every cheat and broken submission below every honest one.

Each example in examples/ae_bottleneck/ is graded once (embedded mode, public and hidden tests, a
fixed course key). The cheats never train a network; before the grader took the weights right
after training, evaluated in pristine workers, added noise to the codes and derived the hidden
images from the course key, several of them scored 20/20.

    python cli.py grade ae_bottleneck examples/ae_bottleneck --out graded/     # the same, by hand
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core.assignments import find_assignment
from grader.grading.runner import RunOptions, grade_submission

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "ae_bottleneck"
KEY = bytes(range(32))  # any key will do; fixed so that a failure can be reproduced

HONEST = {
    "anna_good.ipynb",              # the reference as a notebook, a 200-epoch run at the top level
    "kata_colab_batchnorm.ipynb",   # Colab style: BatchNorm + LeakyReLU, deeper, AdamW, DataLoader
}
QUALITY = {"test_reconstruction_loss[32]", "test_reconstruction_loss[16]", "test_reconstruction_loss[8]"}
NOTHING = QUALITY | {"test_smaller_bottleneck_loses_more", "test_bottleneck_is_real", "test_training_log"}
# cheat -> (the defence that stops it, the tests it must score nothing on)
CHEATS = {
    "bence_bypass.ipynb": ("trains honestly, but decode returns the input encode kept in a global: decoded in "
                           "another process", {"test_bottleneck_is_real"}),
    "erik_buffer_memory.py": ("a buffer remembers forward's big batch: weights taken before any test image", NOTHING),
    "ferenc_workspace_file.py": ("encode leaves the images in a file: every worker on a pristine copy", NOTHING),
    "gizi_sklearn_lookup.py": ("decode returns the nearest public digit: test images distorted with the key", NOTHING),
    "hugo_low_bits.py": ("the image bit-packed into the codes' low bits: noise on the codes", NOTHING),
    "ivan_train_index.py": ("a noise-proof index into the training set memorised in a buffer: new, distorted test "
                            "images", QUALITY | {"test_smaller_bottleneck_loses_more", "test_training_log"}),
    "julia_global_cache.py": ("forward returns the input from a global: decoded in another process", NOTHING),
    "lena_fixed_pca.py": ("decode ignores its weights (a public mean image plus a fixed PCA matrix): decoded again "
                          "with the weights perturbed and shuffled", QUALITY | {"test_smaller_bottleneck_loses_more"}),
}
BROKEN = {
    "csaba_no_sigmoid.ipynb": "no sigmoid: outputs outside [0, 1]",
    "dora_syntax_error.py": "does not parse",
}


@pytest.fixture(scope="module")
def graded():
    spec = find_assignment("ae_bottleneck")
    options = RunOptions(mode="embedded", include_hidden=True, threads=1, course_key=KEY)
    names = sorted(HONEST | set(CHEATS) | set(BROKEN))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(lambda n: grade_submission(spec, EXAMPLES / n, options), names)))


def _scores(result) -> dict[str, float]:
    return {t.nodeid.rsplit("::", 1)[-1]: t.score for t in result.tests}


def _explain(result) -> str:
    return "; ".join(f"{t.nodeid.rsplit('::', 1)[-1]} {t.score:g}/{t.points:g}: {t.message[:120]}"
                     for t in result.tests if t.score < t.points)


def test_every_example_is_classified():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_file()) == sorted(HONEST | set(CHEATS) | set(BROKEN))


@pytest.mark.slow
def test_honest_submissions_keep_full_marks(graded):
    for name in sorted(HONEST):
        r = graded[name]
        assert r.status == "graded" and not r.grader_errors, f"{name}: {r.status} {r.reason}"
        assert r.score >= r.total_points - 1e-6, f"{name}: {r.score}/{r.total_points}: {_explain(r)}"


@pytest.mark.slow
def test_cheats_earn_nothing_where_they_cheat(graded):
    for name, (defence, tests) in sorted(CHEATS.items()):
        r = graded[name]
        assert r.status == "graded" and not r.grader_errors, f"{name}: {r.status} {r.reason}"
        scores = _scores(r)
        assert tests <= set(scores), f"{name}: no such tests {sorted(tests - set(scores))}"
        earned = {t: scores[t] for t in sorted(tests) if scores[t] > 0}
        assert not earned, f"{name} ({defence}) still earns {earned}: {_explain(r)}"


@pytest.mark.slow
def test_every_cheat_and_broken_submission_scores_below_every_honest_one(graded):
    worst_honest = min(graded[n].score for n in HONEST)
    above = {n: graded[n].score for n in list(CHEATS) + list(BROKEN) if graded[n].score >= worst_honest}
    assert not above, f"these score at least the worst honest submission's {worst_honest}: {above}"
