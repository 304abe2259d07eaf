"""Hidden checks after training on the grader's images of one class: sample quality measured here
(Frechet distance in the grader's classifier's features, class fidelity, diversity), that samples
are new images and not copies of any public image, the training log, the minimax generator loss's
saturation and a short WGAN-GP run. Trained models are evaluated only in pristine workers that
hold their weights and nothing else (grader.authoring.handoff)."""
import numpy as np
import pytest
import torch
from conftest import (budget, fixed_latents, pristine, require_weights_only, sample_weights_only, take_discriminator,
                      take_generator, train)
from gan_data import keyed_split
from gan_checks import scalar
from gan_copies import memorisation_ratio
from gan_metrics import class_fidelity, diversity, features, frechet_distance, mode_coverage

from grader.authoring import expect_array, expect_log, image_rows, line_plot

KEYS = ("step", "d_loss", "g_loss", "d_real", "d_fake")


def _pictures(rows: list, columns: int = 12) -> np.ndarray:
    """Labelled rows of images in [-1, 1] (what the generator and the data sets return)."""
    return image_rows([(label, (np.clip(x, -1, 1) + 1) / 2) for label, x in rows], columns=columns,
                      cell=48 if columns <= 12 else 36)


def _memorisation(trained, gan_data) -> float:
    return gan_data.memorisation(trained.samples)


def _require_new_images(trained, gan_data, thresholds):
    require_weights_only(trained.mismatch)
    trained.dependence.require()  # samples that do not change with the weights earn nothing
    ratio = _memorisation(trained, gan_data)
    assert ratio >= thresholds["memorisation"], (
        f"the samples are (near) copies of real images of the data set (memorisation ratio {ratio:.3g} < "
        f"{thresholds['memorisation']:g}: they lie closer to real images than real images lie to each other); "
        "quality is only credited for new images your generator makes from z")


@pytest.mark.points(4)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1500)
def test_sample_quality(trained, gan_data, thresholds, settings, credit, feedback):
    """Frechet distance of the samples to held-out real images (grader's classifier features)"""
    t = trained.get()
    feedback.note(f"your GAN was {budget(settings, len(gan_data.train))}")
    feedback.image("samples your generator made from the grader's fixed z (eval mode, a pristine worker holding only "
                   "the weights) beside real training images of the class",
                   _pictures([("your samples", t.samples[:12]), ("", t.samples[12:24]),
                              ("real images", gan_data.train[:12])]))
    credit.metrics.update({f"samples' change with {v} weights": c for v, c in t.dependence.change.items()})
    _require_new_images(t, gan_data, thresholds)
    fd = frechet_distance(features(gan_data.classifier, t.samples), gan_data.test_features)
    th = thresholds["frechet"]
    credit.linear(fd, full=th["full"], zero=th["zero"], what="Frechet distance")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_class_fidelity(trained, gan_data, thresholds, settings, credit):
    """share of samples the grader's classifier assigns to the class"""
    t = trained.get()
    _require_new_images(t, gan_data, thresholds)
    th = thresholds["fidelity"]
    credit.linear(class_fidelity(gan_data.classifier, t.samples, settings["class_index"]), full=th["full"],
                  zero=th["zero"], what="class fidelity")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_diversity(trained, gan_data, thresholds, credit):
    """samples are as varied as real images (no mode collapse)"""
    t = trained.get()
    _require_new_images(t, gan_data, thresholds)
    th = thresholds["diversity"]
    credit.linear(diversity(features(gan_data.classifier, t.samples), gan_data.test_features),
                  full=th["full"], zero=th["zero"], what="diversity (sample / real mean pairwise feature distance)")


@pytest.mark.points(1)
def test_samples_are_not_copies(trained, gan_data, thresholds, feedback):
    """samples are new images: as far from the training set as held-out real images are"""
    t = trained.get()
    feedback.note(f"memorisation ratio {_memorisation(t, gan_data):.3g} (1: as new as held-out real images, 0: copies "
                  "of real images, also when moved, rotated, scaled, mirrored or with their contrast changed)")
    _require_new_images(t, gan_data, thresholds)


@pytest.mark.points(1)
def test_discriminator_returns_logits(trained, gan_data, fresh_worker):
    """the trained Discriminator returns logits (not probabilities)"""
    t = trained.get()
    rng = np.random.default_rng(5)
    inputs = np.concatenate([gan_data.test[:64], t.samples[:64],
                             rng.uniform(-1, 1, (16,) + gan_data.train.shape[1:]).astype(np.float32),
                             np.full((4,) + gan_data.train.shape[1:], -1, np.float32),
                             np.full((4,) + gan_data.train.shape[1:], 1, np.float32)])
    with pristine(fresh_worker, t.discriminator_weights()) as (_, [d]):
        out = expect_array(d(torch.from_numpy(inputs)), name="trained Discriminator(x)", shape=(len(inputs),))
    assert out.min() < -0.01 or out.max() > 1.01, (
        f"the trained Discriminator's outputs all lie in [0, 1] (min {out.min():.3g}, max {out.max():.3g}) on real, "
        "generated, noise and constant images: it seems to return probabilities. Return raw logits (no sigmoid); "
        "the losses apply the sigmoid stably.")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_training_log(trained, settings, feedback):
    """the log is finite, ends at the last step, and both players keep learning"""
    t = trained.get()
    log = expect_log(t.log, name="train_gan(...)", keys=KEYS)
    assert len(log) >= 2 and log[-1]["step"] == settings["steps"], \
        f"expected a record every log_every={settings['log_every']} steps up to step {settings['steps']}; " \
        f"got steps {[r['step'] for r in log][:12]}"
    steps = [r["step"] for r in log]
    feedback.image("both players' losses, as your train_gan logged them",
                   line_plot({"discriminator loss": [r["d_loss"] for r in log],
                              "generator loss": [r["g_loss"] for r in log]}, x=steps, xlabel="training step",
                             ylabel="loss"))
    feedback.image("the discriminator's mean output on real images, D(x), and on generated ones, D(G(z)), as logged",
                   line_plot({"D(x), real": [r["d_real"] for r in log], "D(G(z)), generated": [r["d_fake"] for r in log]},
                             x=steps, xlabel="training step", ylabel="mean D output (probability)"))
    late = log[len(log) // 2:]
    d_loss = float(np.mean([r["d_loss"] for r in late]))
    d_fake = float(np.mean([r["d_fake"] for r in late]))
    assert d_loss > 0.1 and d_fake > 0.02, (
        f"in the second half of training the discriminator wins outright (mean d_loss {d_loss:.3g}, mean D(G(z)) "
        f"{d_fake:.3g}): the generator gets no useful signal")


# logits of generated images that the discriminator rejects: D(G(z)) = sigmoid(l) = 0.0025, 0.018, 0.12
REJECTED_LOGITS = (-6.0, -4.0, -2.0)
SLOPE_STEP = 1e-2      # central difference; float32 losses of size <= 6 give slopes to ~1e-4
# the minimax slope is sigmoid(l), the non-saturating one 1 - sigmoid(l): their ratio is 0.0025-0.14 at the
# logits above; 0.25 leaves room for float32 and flags a minimax loss that does not flatten as D wins
SATURATION_RATIO = 0.25


def _slope(loss_fn, logit: float, name: str) -> float:
    """d loss / d logit at a batch of 8 equal logits (a mean-reduced loss: the slope of one sample's term)."""
    at = lambda v: scalar(loss_fn(torch.full((8,), v)), f"{name} at logits of {v:g}")  # noqa: E731
    return (at(logit + SLOPE_STEP) - at(logit - SLOPE_STEP)) / (2 * SLOPE_STEP)


@pytest.mark.points(2)
@pytest.mark.timeout(900)
def test_minimax_loss_saturates(student, worker, images_handle, gan_data, settings, device, seed, feedback):
    """train_gan trains with the generator loss it is asked for, and where the discriminator rejects the fakes the
    minimax loss is flat (its slope vanishes) while the non-saturating one is not"""
    logs = {}
    for loss in ("minimax", "nonsaturating"):
        _, _, log = train(student, worker, images_handle, gan_data.train.shape[1:], settings, device, seed,
                          loss=loss, steps=settings["compare_steps"], real_label=1.0, log_every=5)
        logs[loss] = expect_log(log, name=f"train_gan(..., loss={loss!r})", keys=KEYS)
    feedback.image(f"the generator's loss over the first {settings['compare_steps']} steps of two trainings, as "
                   "logged: minimax log(1 - D(G(z))) and non-saturating -log D(G(z)); the minimax one flattens "
                   "towards 0 once D rejects the fakes (how soon depends on how fast your discriminator learns)",
                   line_plot({k: [r["g_loss"] for r in v] for k, v in logs.items()},
                             x=[r["step"] for r in logs["minimax"]], xlabel="training step", ylabel="generator loss"))
    mm, ns = ([r["g_loss"] for r in logs[k]] for k in ("minimax", "nonsaturating"))
    assert max(mm) <= 1e-6, (f"train_gan(..., loss='minimax') logged a generator loss of {max(mm):.3g}; the minimax "
                             "loss mean log(1 - D(G(z))) is <= 0: does train_gan use the loss it is asked for?")
    assert min(ns) >= -1e-6, (f"train_gan(..., loss='nonsaturating') logged a generator loss of {min(ns):.3g}; the "
                              "non-saturating loss mean -log D(G(z)) is >= 0: does train_gan use the loss it is asked "
                              "for?")
    # saturation is a property of the loss, measured on its slope: whether a short run shows it depends on how
    # fast a discriminator learns, which honest designs (e.g. weights from N(0, 0.02)) do at different speeds
    slopes = []
    for logit in REJECTED_LOGITS:
        s_mm = _slope(student.generator_loss_minimax, logit, "generator_loss_minimax")
        s_ns = _slope(student.generator_loss_nonsaturating, logit, "generator_loss_nonsaturating")
        slopes.append(f"logit {logit:g}: minimax {s_mm:.3g}, non-saturating {s_ns:.3g}")
        assert s_ns < 0 and abs(s_mm) <= SATURATION_RATIO * abs(s_ns), (
            f"at a fake image's logit of {logit:g} (D(G(z)) = {1 / (1 + np.exp(-logit)):.3g}, the discriminator "
            f"rejects it) generator_loss_minimax changes by {s_mm:.3g} per unit of logit and "
            f"generator_loss_nonsaturating by {s_ns:.3g}: the minimax loss log(1 - D(G(z))) should be nearly flat "
            "there (slope -D(G(z))) and the non-saturating -log D(G(z)) steep (slope -(1 - D(G(z))))")
    feedback.note("slopes of the generator losses where D rejects the fakes: " + "; ".join(slopes))


@pytest.mark.points(2)
@pytest.mark.timeout(900)
def test_wgan_gp_critic(student, worker, images_handle, gan_data, settings, thresholds, device, seed, handoff,
                        fresh_worker, feedback):
    """a short WGAN-GP run: finite log, the critic separates real from fake, gradient norm close to 1"""
    shape = gan_data.train.shape[1:]
    G, D, log = train(student, worker, images_handle, shape, settings, device, seed,
                      loss="wgan-gp", steps=settings["wgan_steps"], lr=settings["wgan_lr"], real_label=1.0,
                      norm="layer", log_every=10)
    run = budget(settings, len(gan_data.train), loss="wgan-gp", steps=settings["wgan_steps"], lr=settings["wgan_lr"],
                 real_label=1.0) + " (n_critic and gp_weight left at their defaults, Discriminator(..., norm='layer'))"
    expect_log(log, name="train_gan(..., loss='wgan-gp')", keys=KEYS)
    weights = take_generator(handoff, G, shape, settings), take_discriminator(handoff, D, shape, settings, "layer")
    # judged on held-out real images and on fakes like those the critic trained against (generator in train mode)
    real = gan_data.test[:64]
    with pristine(fresh_worker, *weights) as (session, [g, d]):
        g.train()
        fake = expect_array(g(torch.from_numpy(fixed_latents(len(real), seed + 1))), name="Generator(z) in train mode",
                            shape=real.shape, low=-1.0, high=1.0)
        real_s = expect_array(d(torch.from_numpy(real)), name="critic(real)", shape=(len(real),))
        fake_s = expect_array(d(torch.from_numpy(fake)), name="critic(fake)", shape=(len(fake),))
        gap = float(real_s.mean() - fake_s.mean())
        assert gap >= thresholds["wgan_gap"], (
            f"your critic, {run}, scores held-out real images only {gap:.3g} above generated ones (expected >= "
            f"{thresholds['wgan_gap']:g}; the honest designs we measured, slow starters initialised from "
            "N(0, 0.02) included, pass it in this run). A gap near 0 or below it can mean the critic minimises "
            "mean f(real) - mean f(fake) instead of maximising it, or that its optimiser never steps; a small "
            "positive gap, a critic that learns but slowly: compare with your own run of the same length.")
        session.seed(seed)
        pen = session.module.gradient_penalty(d, torch.from_numpy(real), torch.from_numpy(fake))
        pen = float(expect_array(pen, name="gradient_penalty(trained critic, real, fake)").reshape(-1)[0])
    feedback.note(f"critic ({run}): mean score of real minus generated images {gap:.3g}, gradient penalty {pen:.3g}")
    assert pen <= thresholds["wgan_penalty"], (
        f"your critic's gradient penalty after the grader's run is {pen:.3g} (mean (||grad||-1)^2 on interpolates; "
        f"expected <= "
        f"{thresholds['wgan_penalty']:g}): the penalty does not keep the critic's gradient norm near 1. "
        "Is it added to the critic's loss with weight gp_weight, and backpropagated (create_graph=True)?")


@pytest.mark.points(1)
@pytest.mark.modes("embedded")
@pytest.mark.timeout(900)
def test_unconditional_mode_coverage(student, worker, gan_data, public_data, settings, thresholds, device, seed,
                                     course_key, handoff, fresh_worker, credit, feedback):
    """trained on all ten digits, the samples cover (almost) every digit"""
    classes = sorted(int(c) for c in np.unique(public_data["labels"]))
    split = keyed_split(public_data, classes, course_key.rng("gan", "all-classes-split"))
    shape = split.train.shape[1:]
    images = worker.keep(torch.from_numpy(split.train), "all training digits")
    G, _, _ = train(student, worker, images, shape, settings, device, seed, real_label=1.0)
    samples, mismatch, dependence = sample_weights_only(student, worker, handoff, fresh_worker, G, shape, settings,
                                                        seed, course_key.rng("gan", "weights dependence", "all digits"))
    require_weights_only(mismatch)
    dependence.require()
    feedback.image("samples of your GAN trained on all ten digits (made from the grader's fixed z), beside real digits",
                   _pictures([("your samples", samples[:12]), ("", samples[12:24]), ("", samples[24:36]),
                              ("real images", split.train[:12])]))
    ratio = memorisation_ratio(samples, split.public, split.test, split.test_sources)
    assert ratio >= thresholds["memorisation"], (
        f"the samples are (near) copies of real digits (memorisation ratio {ratio:.3g} < "
        f"{thresholds['memorisation']:g}); coverage is only credited for new images")
    th = thresholds["coverage"]
    credit.linear(mode_coverage(gan_data.classifier, samples), full=th["full"], zero=th["zero"],
                  what="digits generated (each for at least 2 % of the samples)")
