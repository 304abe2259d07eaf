"""Hidden checks of the losses: numerical stability at extreme logits, one-sided label smoothing,
and the gradient penalty on critics whose gradients are known here."""
import numpy as np
import pytest
import torch
from gan_checks import close, critic, d_loss, g_loss_minimax, g_loss_nonsaturating, scalar

EXTREME = np.array([-50.0, 50.0, -30.0, 30.0, 0.0, -50.0, 50.0, 12.0], dtype=np.float32)


@pytest.mark.points(2)
def test_losses_stable_at_extreme_logits(student):
    """the losses are finite and exact for logits of +-50 (computed via softplus, not log(sigmoid))"""
    real, fake = EXTREME, EXTREME[::-1][:6].copy()
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    for name, got, want in [
        ("discriminator_loss(real, fake)", student.discriminator_loss(r, f), d_loss(real, fake)),
        ("generator_loss_minimax(fake)", student.generator_loss_minimax(f), g_loss_minimax(fake)),
        ("generator_loss_nonsaturating(fake)", student.generator_loss_nonsaturating(f), g_loss_nonsaturating(fake)),
        ("critic_loss(real, fake)", student.critic_loss(r, f), critic(real, fake)),
    ]:
        close(scalar(got, name + " at logits of +-50"), want, name + " at logits of +-50", rtol=1e-4, atol=1e-3)


@pytest.mark.points(2)
def test_label_smoothing_is_one_sided(student):
    """real_label smooths the targets of real images only; fake targets stay 0"""
    rng = np.random.default_rng(2)
    real, fake = rng.normal(1, 2, 9).astype(np.float32), rng.normal(-1, 2, 6).astype(np.float32)
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    for label in (0.9, 0.8):
        got = scalar(student.discriminator_loss(r, f, real_label=label), f"discriminator_loss(..., real_label={label})")
        both = d_loss(real, fake, label) - softplus_mean(fake) + bce_mean(fake, 1 - label)
        if abs(got - both) < 1e-4 and abs(got - d_loss(real, fake, label)) > 1e-3:
            raise AssertionError(f"discriminator_loss(..., real_label={label}) smooths the fake targets too "
                                 f"(fake target {1 - label:g}); one-sided smoothing keeps fake targets at 0")
        close(got, d_loss(real, fake, label), f"discriminator_loss(real, fake, real_label={label})")


def softplus_mean(x):
    from gan_checks import softplus
    return float(softplus(x).mean())


def bce_mean(logits, target):
    from gan_checks import softplus
    return float((target * softplus(-logits) + (1 - target) * softplus(logits)).mean())


def remote_torch(student):
    if not student.has("torch"):
        raise AssertionError("your module has no global name `torch`: write `import torch` (the grader builds "
                             "test critics with it)")
    return student.fetch("torch")


def build_critic(student, state: dict, in_dim: int, hidden: int | None):
    """A critic in the worker, built from torch.nn parts (not the student's code), with these weights."""
    nn = remote_torch(student).fetch("nn")
    if hidden is None:
        net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, 1), nn.Flatten(0))
    else:
        net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Flatten(0))
    net.load_state_dict(state)
    return net


@pytest.mark.points(2)
def test_gradient_penalty_on_known_critics(student, worker):
    """gradient_penalty equals mean((||grad critic(x_hat)||_2 - 1)^2) on critics with known gradients"""
    gen = torch.Generator().manual_seed(3)
    shape, d = (6, 1, 8, 8), 64
    real = torch.rand(shape, generator=gen) * 2 - 1
    fake = torch.rand(shape, generator=gen) * 2 - 1
    # 1. A linear critic: the gradient is w everywhere, so the penalty is (||w|| - 1)^2 whatever eps is.
    w = torch.randn(1, d, generator=gen)
    w = w / w.norm() * 1.7
    lin = build_critic(student, {"1.weight": w, "1.bias": torch.zeros(1)}, d, None)
    got = scalar(student.gradient_penalty(lin, real, fake), "gradient_penalty(linear critic, real, fake)")
    close(got, 0.7 ** 2, "gradient_penalty for a linear critic with ||w|| = 1.7", rtol=1e-3, atol=1e-4)
    # 2. A tanh network with real == fake: every interpolate is that image, so the penalty is known exactly
    #    and checks that the norm is taken per sample, then (norm - 1)^2 averaged.
    state = {"1.weight": torch.randn(16, d, generator=gen) * 0.5, "1.bias": torch.randn(16, generator=gen) * 0.1,
             "3.weight": torch.randn(1, 16, generator=gen), "3.bias": torch.zeros(1)}
    x = real.clone().requires_grad_(True)
    h = torch.tanh(x.flatten(1) @ state["1.weight"].T + state["1.bias"])
    scores = (h @ state["3.weight"].T + state["3.bias"]).flatten()
    (grad,) = torch.autograd.grad(scores.sum(), x)
    want = float(((grad.flatten(1).norm(dim=1) - 1) ** 2).mean())
    mlp = build_critic(student, state, d, 16)
    got = scalar(student.gradient_penalty(mlp, real, real.clone()), "gradient_penalty(tanh critic, x, x)")
    close(got, want, "gradient_penalty for a tanh critic at real == fake (per-sample gradient norms)",
          rtol=1e-3, atol=1e-4)
