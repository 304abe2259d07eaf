"""Public checks: shapes and ranges of both networks, the losses on ordinary logits, the training
log's format. Run them with `dlgrade check gan your_notebook.ipynb`."""
import numpy as np
import pytest
import torch
from gan_checks import close, critic, d_loss, g_loss_minimax, g_loss_nonsaturating, scalar

from grader.authoring import expect_array, expect_log



@pytest.mark.points(0.5)
@pytest.mark.parametrize("channels,size", [(1, 8), (1, 28), (3, 32)])  # digits, MNIST, CIFAR-10
def test_generator_shapes(student, channels, size):
    """Generator maps z (N, latent_dim) to (N, channels, size, size) in [-1, 1], train and eval mode, batch of one"""
    for latent, width in ((100, 16), (16, 8)):
        G = student.Generator(latent, channels, size, width=width)
        for train_mode in (True, False):
            G.train(train_mode)
            for n in (1, 5):
                z = torch.randn(n, latent) * (1 if n == 1 else 10)   # extreme z: the output must stay in range
                expect_array(G(z), name=f"Generator({latent}, {channels}, {size}, width={width}) "
                             f"in {'train' if train_mode else 'eval'} mode, batch {n}",
                             shape=(n, channels, size, size), low=-1.0, high=1.0)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("channels,size", [(1, 8), (1, 28), (3, 32)])  # digits, MNIST, CIFAR-10
def test_discriminator_shapes(student, channels, size):
    """Discriminator maps (N, channels, size, size) to logits (N,), train and eval mode, batch of one, every norm"""
    for norm in ("batch", "layer", "none"):
        D = student.Discriminator(channels, size, width=8, norm=norm)
        for train_mode in (True, False):
            D.train(train_mode)
            for n in (1, 5):
                x = torch.rand(n, channels, size, size) * 2 - 1
                expect_array(D(x), name=f"Discriminator({channels}, {size}, norm={norm!r}) "
                             f"in {'train' if train_mode else 'eval'} mode, batch {n}", shape=(n,))


@pytest.mark.points(2)
def test_losses_on_ordinary_logits(student):
    """the four losses equal the formulas (batch means) on ordinary logits"""
    rng = np.random.default_rng(1)
    real, fake = rng.normal(0, 3, 7).astype(np.float32), rng.normal(-1, 3, 5).astype(np.float32)
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    close(scalar(student.discriminator_loss(r, f), "discriminator_loss(real, fake)"), d_loss(real, fake),
          "discriminator_loss(real, fake)")
    close(scalar(student.generator_loss_minimax(f), "generator_loss_minimax(fake)"), g_loss_minimax(fake),
          "generator_loss_minimax(fake)")
    close(scalar(student.generator_loss_nonsaturating(f), "generator_loss_nonsaturating(fake)"),
          g_loss_nonsaturating(fake), "generator_loss_nonsaturating(fake)")
    close(scalar(student.critic_loss(r, f), "critic_loss(real, fake)"), critic(real, fake), "critic_loss(real, fake)")


@pytest.mark.points(2)
@pytest.mark.timeout(120)
def test_training_log_format(student, worker, device):
    """train_gan returns one record every log_every steps with finite step/d_loss/g_loss/d_real/d_fake"""
    worker.seed(0)
    images = torch.rand(40, 1, 8, 8) * 2 - 1
    G, D = student.Generator(100, 1, 8, width=8), student.Discriminator(1, 8, width=8)
    log = student.train_gan(G, D, images, steps=6, batch_size=16, lr=1e-3, device=device, log_every=2)
    expect_log(log, name="train_gan(..., steps=6, log_every=2)", keys=("step", "d_loss", "g_loss", "d_real", "d_fake"),
               length=3)
    assert [r["step"] for r in log] == [2, 4, 6], f"steps should be logged as 2, 4, 6; got {[r['step'] for r in log]}"
    for r in log:
        assert 0 <= r["d_real"] <= 1 and 0 <= r["d_fake"] <= 1, \
            f"d_real and d_fake are D's mean probabilities, in [0, 1]; got {r}"
