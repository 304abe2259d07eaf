"""The gan grader's copy check sees real images through the warps a lookup hides them in (issue #20).

Tested on arrays, with the grader's own data (embedded mode: 8x8 threes, a fixed course key) and the samples of
the reference solution trained in this process at the graded budget: real images of the class rotated by up to
15 degrees and scaled by up to 10 % (the attack that scored 30/30, Frechet distance 2.0-2.5, full marks at 2.6),
mirrored, with their contrast changed, and those warps together with a little noise, all score as copies, while
the reference's samples, the most real-looking of every honest design measured, do not.

Measured with this detector on course key `bytes(range(32))`, 500 samples each, in-process (the numbers behind
assignments/gan/assignment.yaml's memorisation threshold): the reference 1.01, other honest designs 1.25-1.31;
rotated and scaled copies 0.13; rotated, contrast-changed copies with noise sd 0.1 0.66. Not caught (documented
there, not asserted here): noise sd 0.2 (0.83; it costs 0.3-0.8 of the 4 Frechet points) and smooth elastic bends
of 0.6 px (1.47).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
GAN_TESTS = REPO / "assignments" / "gan" / "tests"
COURSE_KEY = bytes(range(32))
SAMPLES = 300


@pytest.fixture(scope="module")
def gan():
    """The gan tests' own modules (they import each other by plain name, as pytest's rootdir-less conftest does)."""
    sys.path.insert(0, str(GAN_TESTS))
    try:
        import gan_copies
        import gan_data
        yield gan_copies, gan_data
    finally:
        sys.path.remove(str(GAN_TESTS))


@pytest.fixture(scope="module")
def split(gan):
    from grader.authoring import CourseKey

    _, gan_data = gan
    return gan_data.keyed_split(gan_data.public_sets("digits"), 3,
                                CourseKey(COURSE_KEY).rng("gan", "embedded", "class-split", 3))


def _ratio(gan, split, samples) -> float:
    gan_copies, _ = gan
    return gan_copies.memorisation_ratio(samples, split.public, split.test, split.test_sources)


def _copies(split, rng) -> np.ndarray:
    return split.public[rng.integers(0, len(split.public), SAMPLES)]


COPY_THRESHOLD = 0.8  # assignment.yaml, embedded mode: thresholds.memorisation


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["rotated and scaled", "mirrored", "contrast", "rotated, contrast and noise"])
def test_warped_real_images_are_copies(gan, split, attack):
    rng = np.random.default_rng(1)
    x = _copies(split, rng)
    if attack == "rotated and scaled":
        x = gan[1].warped(x, rng, degrees=15, scale=0.10, shift_px=1.0)
    elif attack == "mirrored":
        x = np.ascontiguousarray(x[..., ::-1])
    elif attack == "contrast":
        x = rng.uniform(0.8, 1.2, (len(x), 1, 1, 1)) * x + rng.uniform(-0.2, 0.2, (len(x), 1, 1, 1))
    else:
        x = rng.uniform(0.8, 1.2, (len(x), 1, 1, 1)) * gan[1].warped(x, rng, degrees=10, scale=0.05, shift_px=0.5) \
            + rng.uniform(-0.2, 0.2, (len(x), 1, 1, 1)) + rng.normal(0, 0.1, x.shape)
    ratio = _ratio(gan, split, np.clip(x, -1, 1).astype(np.float32))
    assert ratio < COPY_THRESHOLD, f"{attack} real images: memorisation ratio {ratio:.3g}, not flagged"


@pytest.mark.slow
def test_the_references_samples_are_new_images(gan, split):
    """The reference at the graded budget: the honest design whose samples lie closest to real threes."""
    from grader.core.spec import load_spec

    settings = load_spec(REPO / "assignments" / "gan").mode("embedded").settings
    loaded = importlib.util.spec_from_file_location("gan_reference", REPO / "reference_solutions" / "gan" / "gan.py")
    reference = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(reference)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    G, D = reference.Generator(100, 1, 8, width=settings["width"]), reference.Discriminator(1, 8, width=settings["width"])
    reference.train_gan(G, D, torch.from_numpy(split.train), steps=settings["steps"], batch_size=settings["batch_size"],
                        lr=settings["lr"], device="cpu", real_label=settings["real_label"])
    z = np.random.default_rng(12345).standard_normal((SAMPLES, 100)).astype(np.float32)
    ratio = _ratio(gan, split, reference.sample(G, torch.from_numpy(z)).numpy())
    assert ratio >= COPY_THRESHOLD + 0.1, f"the reference's samples: memorisation ratio {ratio:.3g}"


def test_the_prepared_scale_is_the_held_out_images_of_the_graded_split(gan, split):
    """`grade` computes the held-out images' copy distances once per command (conftest's @prepared
    held_out_copies): they must be the distances of the very split the hidden tests grade with, so a prepared
    run's memorisation ratios are the ones a run that prepared nothing computes."""
    from grader.authoring import CourseKey, load_spec
    from grader.authoring.prepared import REGISTRY

    gan_copies, _ = gan
    loaded = importlib.util.spec_from_file_location("gan_conftest", GAN_TESTS / "conftest.py")
    conftest = importlib.util.module_from_spec(loaded)
    sys.path.insert(0, str(GAN_TESTS))
    sys.modules["gan_conftest"] = conftest  # its dataclasses look their module up
    try:
        loaded.loader.exec_module(conftest)
    finally:
        sys.path.remove(str(GAN_TESTS))
        del sys.modules["gan_conftest"]
    settings = load_spec(REPO / "assignments" / "gan").mode("embedded").settings
    prepared = REGISTRY["held_out_copies"]("embedded", settings, None, CourseKey(COURSE_KEY))
    rng = np.random.default_rng(2)  # far from copies: the ratio then rests on the scale
    samples = np.clip(split.public[rng.integers(0, len(split.public), 64)] + rng.normal(0, 0.5, (64,) + split.public.shape[1:]),
                      -1, 1).astype(np.float32)
    in_place = gan_copies.memorisation_ratio(samples, split.public, split.test, split.test_sources)
    assert gan_copies.memorisation_ratio(samples, split.public, split.test, split.test_sources,
                                         held_out=prepared) == pytest.approx(in_place, rel=1e-6)
