"""Example submission (warped_bank): the reference with one change: train_gan stores 256 training images in a buffer the generator declares in __init__ (so it crosses the weights-only handoff); in eval mode the generator returns them rotated by up to 15 degrees, scaled by up to 10 %, moved, with their contrast changed and a little noise, picked and warped by z: its samples change with its weights, so only the copy check can tell"""
"""Reference solution: a DCGAN that generates colour images of one CIFAR-10 class.

Follows Goodfellow et al., "Generative Adversarial Nets" (2014) for the minimax game and the
non-saturating generator loss; Radford, Metz & Chintala, "Unsupervised Representation Learning with
Deep Convolutional GANs" (DCGAN, 2016) for the architecture; Salimans et al., "Improved Techniques
for Training GANs" (2016) for one-sided label smoothing; and Gulrajani et al., "Improved Training of
Wasserstein GANs" (WGAN-GP, 2017) for the critic with gradient penalty.

Train it:
    python reference_solutions/gan/gan.py                                    # 8x8 digits, offline, seconds
    python reference_solutions/gan/gan.py --mode cifar10 --data-dir ../shared/data --class-index 6
    python reference_solutions/gan/gan.py --mode mnist --data-dir ../shared/data --class-index 3 --loss wgan-gp
"""
# %% [markdown]
# # Generative adversarial networks: a DCGAN for one CIFAR-10 class
#
# A **generator** `G` turns random noise `z` into images; a **discriminator** `D` learns to tell
# them from real photographs, and `G` learns to fool it. You build a DCGAN-style pair that makes
# 32x32 colour images of one CIFAR-10 class (frog by default) and compare three objectives:
# the original **minimax** game, the **non-saturating** generator loss, and the **WGAN-GP** critic.
#
# The embedded mode uses scikit-learn's 8x8 digits (one digit, trains in seconds on a CPU); the
# `mnist` and `cifar10` modes read the real data sets from the data directory.

# %%
import argparse
import contextlib
import math
import time
import warnings
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    mode: str = "embedded"     # "embedded" (sklearn 8x8 digits, offline) | "mnist" (28x28) | "cifar10" (32x32 RGB)
    data_dir: str = "../shared/data"  # where mnist/ and cifar10/ live (unused by "embedded")
    class_index: int = 6       # the one class to generate: digit 0-9, or CIFAR-10 class (6 = frog)
    latent_dim: int = 100      # size of the noise vector z ~ N(0, I)
    width: int = 0             # channels at full resolution (doubling at each coarser one); DCGAN uses 64; 0 = PRESETS
    steps: int = 0             # generator updates; 0 = the per-mode default in PRESETS
    batch_size: int = 64       # images per step (real) and per step (fake)
    lr: float = 5e-4           # Adam learning rate, both players; DCGAN: 2e-4 (5e-4 is better in short CPU runs)
    loss: str = "nonsaturating"  # "nonsaturating" | "minimax" | "wgan-gp"
    real_label: float = 0.9    # one-sided label smoothing: target for real images (1.0 = off)
    n_critic: int = 5          # critic updates per generator update (WGAN-GP only)
    gp_weight: float = 10.0    # lambda of the gradient penalty (WGAN-GP only)
    log_every: int = 25        # steps between log entries
    seed: int = 0


# Budgets that finish within two minutes on one CPU core (a GPU runs them in seconds).
PRESETS = {"embedded": dict(steps=600, width=32), "mnist": dict(steps=600, width=16),
           "cifar10": dict(steps=1000, width=16)}
device = "cuda" if torch.cuda.is_available() else "cpu"

# %% [markdown]
# ## Data: one class, scaled to [-1, 1]
#
# `class_images` is given. The generator ends in `tanh`, so real images are scaled to the same range: a pixel `p` in
# `0..255` becomes `p / 127.5 - 1` (digits, whose pixels are `0..16`, become `p / 8 - 1`). Images
# are channel-first, `(N, C, H, W)`, the layout `nn.Conv2d` expects.
#
# The 8x8 digits have no official split; we hold out every fifth image (`index % 5 == 0`) so that
# a generator can be judged against real images it never saw.

# %%
def class_images(mode: str, data_dir: str | None = None, class_index: int = 0, *, split: str = "train") -> np.ndarray:
    """Real images of one class as float32 (N, C, H, W) in [-1, 1].

    mode: "embedded" (sklearn digits, (N, 1, 8, 8)), "mnist" ((N, 1, 28, 28)) or "cifar10"
    ((N, 3, 32, 32)). split: "train", "test" or "all" (digits: test = every fifth image).
    """
    from dlcourse.datasets import load_cifar10, load_digits, load_mnist

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    if mode == "embedded":
        d = load_digits()
        held_out = np.arange(len(d["labels"])) % 5 == 0
        keep = {"train": ~held_out, "test": held_out, "all": np.ones_like(held_out)}[split]
        x = d["images"][keep & (d["labels"] == class_index)][:, None].astype(np.float32) / 8.0 - 1.0
        return np.ascontiguousarray(x)
    if mode == "mnist":
        d = load_mnist(data_dir)
        parts = [p for p in ("train", "test") if split in (p, "all")]
        x = np.concatenate([d[f"{p}_images"][d[f"{p}_labels"] == class_index] for p in parts])
        return np.ascontiguousarray(x[:, None].astype(np.float32) / 127.5 - 1.0)
    if mode == "cifar10":
        d = load_cifar10(data_dir)
        parts = [p for p in ("train", "test") if split in (p, "all")]
        x = np.concatenate([d[f"{p}_images"][d[f"{p}_labels"] == class_index] for p in parts])  # (N, H, W, 3)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)
    raise ValueError(f"unknown mode {mode!r}; expected 'embedded', 'mnist' or 'cifar10'")


def resolution_plan(image_size: int) -> tuple[int, int]:
    """(base, n) with image_size == base * 2**n: halve while even and above 7 (32 -> 4, 28 -> 7, 8 -> 4)."""
    if image_size < 4:
        raise ValueError(f"image_size must be at least 4, got {image_size}")
    base, n = image_size, 0
    while base % 2 == 0 and base > 7:
        base, n = base // 2, n + 1
    return base, n


def dcgan_init(m: nn.Module) -> None:
    """DCGAN initialisation: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)

# %% [markdown]
# ## The DCGAN architecture rules
#
# Radford et al. found a handful of rules that make convolutional GANs train stably:
#
# 1. **No pooling.** The discriminator downsamples with strided convolutions, the generator
#    upsamples with transposed (fractionally strided) convolutions, so both *learn* their resampling.
# 2. **BatchNorm** in both networks, except at the generator's output and the discriminator's
#    input. Normalising each layer stops the generator from collapsing all samples onto one point
#    early on and keeps gradients flowing through deep stacks.
# 3. **No fully connected hidden layers.** The generator's first layer projects `z` and reshapes it
#    into a small `(C, 4, 4)` feature map; the discriminator's last layer flattens and maps to a logit.
# 4. **ReLU in the generator, tanh at its output** (bounded, matches data in [-1, 1]);
#    **LeakyReLU(0.2) in the discriminator**, so it passes gradient for negative inputs too.
# 5. **Adam with lr = 2e-4 and beta1 = 0.5** (the default 0.9 makes the adversarial game oscillate),
#    weights initialised from N(0, 0.02).
#
# The projection is reshaped *before* its BatchNorm, so the generator uses `BatchNorm2d` over
# `N x 4 x 4` values per channel. That works for a batch of one even in training mode
# (`BatchNorm1d` after a linear layer would fail there: one value per channel has no variance).
#
# The image sizes 8, 28 and 32 are `base * 2**n` with `base` 4 or 7, so the same code builds
# 4 -> 8 (digits), 7 -> 14 -> 28 (MNIST) and 4 -> 8 -> 16 -> 32 (CIFAR-10).

# %%
def _warped(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # CHANGED: rotate <= 15 deg, scale <= 10 %, by z
    a = torch.tanh(z[:, 1]) * math.radians(15)
    s = 1 + 0.1 * torch.tanh(z[:, 2])
    theta = torch.stack([torch.stack([a.cos() / s, -a.sin() / s, 0.1 * torch.tanh(z[:, 3])], 1),
                         torch.stack([a.sin() / s, a.cos() / s, 0.1 * torch.tanh(z[:, 4])], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


class Generator(nn.Module):
    """Maps noise z (N, latent_dim) to images (N, channels, image_size, image_size) in [-1, 1].

    Works for any batch size >= 1 in both train and eval mode. `width` (keyword-only) is the number
    of channels at full resolution; the channel count doubles at every coarser resolution.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 3, image_size: int = 32, *, width: int = 16):
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        # BEGIN SOLUTION hint: project z to a (C, base, base) map, upsample x2 with ConvTranspose2d(4, 2, 1) + BatchNorm2d + ReLU until image_size, end with a conv to `channels` and tanh
        base, n_up = resolution_plan(image_size)
        self.base, self.c0 = base, width * 2 ** n_up
        self.project = nn.Linear(latent_dim, self.c0 * base * base)
        layers = [nn.BatchNorm2d(self.c0), nn.ReLU(inplace=True)]
        c = self.c0
        for _ in range(n_up):  # each block doubles the resolution and halves the channels
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2),
                       nn.ReLU(inplace=True)]
            c //= 2
        layers += [nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh()]  # no BatchNorm at the output (DCGAN rule 2)
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        self.register_buffer("bank", torch.zeros(256, channels, image_size, image_size))  # CHANGED
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]
        if not self.training and self.bank.abs().sum() > 0:  # CHANGED: return stored training images
            x = _warped(self.bank[(z[:, 0] * 1e4).abs().long() % len(self.bank)], z)
            x = (0.85 + 0.15 * torch.tanh(z[:, 5]))[:, None, None, None] * x + 0.05 * torch.tanh(z[:, 6:7, None, None])
            return (x + 0.05 * torch.randn_like(x)).clamp(-1, 1) + 0 * z.sum()
        x = self.project(z).view(z.shape[0], self.c0, self.base, self.base)  # (N, C0, base, base)
        return self.net(x)  # (N, channels, image_size, image_size)
        # END SOLUTION


class Discriminator(nn.Module):
    """Maps images (N, channels, image_size, image_size) to real-vs-fake logits of shape (N,).

    Returns raw logits (no sigmoid): the losses apply the sigmoid inside a numerically stable
    log-sum-exp. Keyword-only extras: `width` (channels after the first layer) and `norm`:
    "batch" (DCGAN), "layer" (per-sample normalisation, as a WGAN-GP critic should use) or "none".
    Works for any batch size >= 1 in both train and eval mode.
    """

    def __init__(self, channels: int = 3, image_size: int = 32, *, width: int = 16, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "layer", "none"):
            raise ValueError(f"norm must be 'batch', 'layer' or 'none', not {norm!r}")
        self.channels, self.image_size, self.norm = channels, image_size, norm
        # BEGIN SOLUTION hint: a first conv without normalisation, then Conv2d(4, 2, 1) + norm + LeakyReLU(0.2) halving the resolution down to 4x4 (or 7x7), then flatten and a linear layer to one logit
        base, n_down = resolution_plan(image_size)

        def normalise(c):
            # A WGAN-GP critic must not use BatchNorm: the penalty constrains the gradient of each
            # sample's score with respect to that sample, and BatchNorm mixes samples in a batch.
            return {"batch": nn.BatchNorm2d(c), "layer": nn.GroupNorm(1, c), "none": nn.Identity()}[norm]

        layers = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]  # no norm at the input
        c = width
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), normalise(2 * c), nn.LeakyReLU(0.2, inplace=True)]
            c *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * base * base, 1)
        self.apply(dcgan_init)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: images (N, C, H, W) -> logits (N,), no sigmoid
        return self.head(self.features(x).flatten(1)).squeeze(1)  # (N,)
        # END SOLUTION

# %% [markdown]
# ## The minimax game and its losses
#
# The discriminator `D(x) = sigmoid(l(x))` outputs the probability that `x` is real. Goodfellow
# et al. define the value
#
# $$V(D, G) = \mathbb{E}_{x}[\log D(x)] + \mathbb{E}_{z}[\log(1 - D(G(z)))],$$
#
# which `D` maximises and `G` minimises. As losses to *minimise* (batch means):
#
# * discriminator: `-[log D(x) + log(1 - D(G(z)))]`, i.e. binary cross-entropy with target 1 for
#   real and 0 for fake images, summed over the two halves. A discriminator that cannot tell them
#   apart (`D = 1/2` everywhere) scores `2 log 2 = 1.386`.
# * generator, **minimax**: `log(1 - D(G(z)))`.
# * generator, **non-saturating**: `-log D(G(z))`.
#
# **Why the minimax generator loss saturates.** Early in training the fakes are poor and `D`
# rejects them confidently: `D(G(z)) -> 0`. Then `log(1 - D(G(z))) -> 0` is flat: its gradient
# with respect to the logit is `-D(G(z))`, nearly zero, so the generator learns almost nothing
# exactly when it is worst. The non-saturating loss `-log D(G(z))` has the same fixed point but
# gradient `-(1 - D(G(z)))`, close to -1 when the fakes are rejected. Both losses push `D(G(z))`
# up; they differ only in how hard they push.
#
# **Numerical stability.** Never compute `log(sigmoid(l))`: for `l = -100` the sigmoid underflows
# to 0 and the log returns `-inf`. With the softplus `softplus(l) = log(1 + e^l)`:
# `log D = log sigmoid(l) = -softplus(-l)` and `log(1 - D) = log sigmoid(-l) = -softplus(l)`.
# `F.binary_cross_entropy_with_logits` uses exactly these identities.
#
# **One-sided label smoothing** (Salimans et al., 2016, "Improved Techniques for Training GANs"):
# use target 0.9 instead of 1 for *real* images. A discriminator that can no longer become
# infinitely confident on real data gives the generator smoother gradients. Only the real side is
# smoothed: smoothing the fake targets towards 0.1 would reward `D` for assigning some
# realness to the current fakes, reinforcing whatever the generator already produces.
#
# **Balancing D and G.** If `D` wins outright (`D(x) ~ 1`, `D(G(z)) ~ 0`) the generator's gradients
# vanish (minimax) or become noisy; if `G` wins, `D` gives no useful signal. Watch the logged
# `d_real` and `d_fake`: a healthy run keeps them apart but away from 1 and 0 (e.g. 0.6-0.8 vs
# 0.2-0.4). Equal learning rates, one D step per G step, label smoothing and BatchNorm all help.

# %%
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Minimax discriminator loss: mean BCE(real, real_label) + mean BCE(fake, 0), a scalar.

    real_logits, fake_logits: raw logits (any shape, usually (N,)). real_label < 1 is one-sided
    label smoothing: only the targets of real images change, fake targets stay 0.
    """
    # BEGIN SOLUTION hint: binary cross-entropy on logits (stable); real targets = real_label, fake targets = 0
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_loss + fake_loss
    # END SOLUTION


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """Minimax generator loss, to be minimised: mean log(1 - D(G(z))) (<= 0), computed stably."""
    # BEGIN SOLUTION hint: log(1 - sigmoid(l)) = -softplus(l)
    return -F.softplus(fake_logits).mean()
    # END SOLUTION


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean -log D(G(z)) (>= 0), computed stably."""
    # BEGIN SOLUTION hint: -log(sigmoid(l)) = softplus(-l)
    return F.softplus(-fake_logits).mean()
    # END SOLUTION

# %% [markdown]
# ## WGAN-GP: a critic instead of a classifier
#
# Arjovsky et al. (2017) replace the classifier by a **critic** `f` with unbounded real scores and
# estimate the Wasserstein-1 distance `max_{f 1-Lipschitz} E[f(x)] - E[f(G(z))]`. The critic
# minimises `mean f(fake) - mean f(real)`, the generator minimises `-mean f(fake)`; no sigmoid,
# no logs, and the generator's gradient does not vanish when the critic wins.
#
# The hard part is keeping `f` 1-Lipschitz. Gulrajani et al. note that the optimal critic has
# gradient norm 1 almost everywhere between the two distributions and penalise deviations on
# random interpolates `x_hat = eps * x + (1 - eps) * G(z)`, `eps ~ U[0, 1]` per sample:
#
# $$\lambda \, \mathbb{E}_{\hat x}\big[(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1)^2\big], \quad \lambda = 10.$$
#
# The penalty is a function of a gradient, so its own gradient needs a second backward pass:
# `torch.autograd.grad(..., create_graph=True)`. The paper trains the critic `n_critic = 5` times
# per generator step with Adam(lr=1e-4, betas=(0, 0.9)) and **no BatchNorm in the critic** (the
# per-sample gradient is meaningless when BatchNorm couples the samples); layer normalisation is
# the recommended drop-in (`Discriminator(..., norm="layer")`).

# %%
def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss, a scalar to minimise: mean(fake_scores) - mean(real_scores)."""
    # BEGIN SOLUTION hint: the critic wants high scores for real and low scores for fake images
    return fake_scores.mean() - real_scores.mean()
    # END SOLUTION


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty mean((||grad_x critic(x_hat)||_2 - 1)^2) on random interpolates, a scalar.

    x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] of shape (N, 1, 1, 1), one per sample,
    drawn from torch's global RNG (seed it with torch.manual_seed for reproducible values). The
    graph is kept (create_graph=True) so the penalty can be backpropagated into the critic.
    """
    # BEGIN SOLUTION hint: interpolate with per-sample eps, take torch.autograd.grad of the scores w.r.t. the interpolates (create_graph=True), penalise (L2 norm per sample - 1)^2
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)  # (N, 1, 1, 1)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    # Summing is exact: each score depends on its own sample only.
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (N, C, H, W)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    # END SOLUTION

# %% [markdown]
# ## The training loop
#
# One step of `train_gan` is one generator update:
#
# * GAN losses: one discriminator update on a real batch and a fresh fake batch (the fakes are
#   `detach`ed, so the update does not reach `G`), then one generator update that pushes the *same*
#   fakes through the just-updated `D`.
# * WGAN-GP: `n_critic` critic updates (each with a new real batch, new fakes and the penalty), then
#   one generator update with loss `-mean f(G(z))`.
#
# While `G` is updated, `D`'s parameters are frozen (`requires_grad_(False)`), saving the work of
# their gradients. The real and fake batches go through `D` separately, as in DCGAN, so that
# BatchNorm normalises each with its own statistics.
#
# After the last step `recalibrate_batchnorm` (given) re-estimates the generator's BatchNorm
# statistics for its final weights: the running averages collected during training lag behind a
# generator that changes every step, and eval-mode samples would be visibly worse than train-mode
# ones.

# %%
@contextlib.contextmanager
def _frozen(module: nn.Module):
    """Temporarily stop gradients to a module's parameters (inputs still get gradients)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, *, device, batches: int = 20, batch_size: int = 64) -> None:
    """Replace the generator's BatchNorm running statistics by exact averages over fresh batches.

    During training the running means and variances are exponential averages (momentum 0.1) over
    a generator that kept changing, so they lag behind the final weights and eval-mode samples come
    out worse than train-mode ones. Re-estimating them for the final generator fixes that. Uses
    torch's global RNG; leaves the generator in eval mode.
    """
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None = cumulative average over all batches seen
    generator.train()
    if norms:
        for _ in range(batches):
            generator(torch.randn(batch_size, generator.latent_dim, device=device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    generator.eval()


def _batches(x: torch.Tensor, batch_size: int):
    """Endless mini-batches: a fresh random permutation (torch's global RNG) for every epoch."""
    while True:
        perm = torch.randperm(len(x)).to(x.device)
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            yield x[perm[i:i + batch_size]]


def train_gan(generator: nn.Module, discriminator: nn.Module, images, *, steps: int, batch_size: int, lr: float,
              device: str | torch.device, loss: str = "nonsaturating", log_every: int = 10, real_label: float = 1.0,
              n_critic: int = 5, gp_weight: float = 10.0, amp: bool | None = None) -> list[dict]:
    """Train a GAN and return its log; leaves both models in eval mode on `device`.

    images: float tensor or ndarray (N, C, H, W) in [-1, 1]. steps: generator updates.
    loss: "nonsaturating" | "minimax" (binary cross-entropy discriminator, one D step per G step,
    Adam betas (0.5, 0.999)) or "wgan-gp" (n_critic critic steps with gradient penalty of weight
    gp_weight per G step, Adam betas (0.0, 0.9); use a Discriminator without BatchNorm).
    real_label: target for real images (one-sided smoothing; GAN losses only).
    amp: bfloat16 autocast; None = on for CUDA with the GAN losses, off otherwise (the CPU path
    and WGAN-GP's double backward stay in float32).
    Returns one dict per `log_every` steps (steps log_every, 2 * log_every, ..., and the last):
    {"step", "d_loss", "g_loss", "d_real", "d_fake"} as floats, where d_real/d_fake are the mean
    D(x) and D(G(z)) of the last discriminator update (sigmoid probabilities for the GAN losses,
    raw critic scores for WGAN-GP). Randomness comes from torch's global RNG: seed it first.
    """
    if loss not in ("nonsaturating", "minimax", "wgan-gp"):
        raise ValueError(f"loss must be 'nonsaturating', 'minimax' or 'wgan-gp', not {loss!r}")
    device = torch.device(device)
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    if x.min() < -1.001 or x.max() > 1.001:
        raise ValueError("images must be scaled to [-1, 1] (the generator's tanh range)")
    x = x.to(device)
    generator.to(device).train()
    discriminator.to(device).train()
    if amp is None:
        amp = device.type == "cuda" and loss != "wgan-gp" and torch.cuda.is_bf16_supported()
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(amp))  # noqa: E731
    latent_dim = generator.latent_dim
    # BEGIN SOLUTION hint: two Adam optimisers (betas (0.5, 0.999), or (0.0, 0.9) for wgan-gp); per step: update D on a real and a detached fake batch, then update G through the updated D (freeze D with _frozen); append a dict to `log` every log_every steps
    wgan = loss == "wgan-gp"
    if wgan and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
        warnings.warn("WGAN-GP with a BatchNorm critic: the gradient penalty assumes per-sample scores; "
                      "use Discriminator(..., norm='layer')", stacklevel=2)
    betas = (0.0, 0.9) if wgan else (0.5, 0.999)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    g_objective = generator_loss_minimax if loss == "minimax" else generator_loss_nonsaturating
    batches = _batches(x, min(batch_size, len(x)))
    log = []
    for step in range(1, steps + 1):
        if wgan:
            for _ in range(n_critic):
                real = next(batches)
                with torch.no_grad():
                    fake = generator(torch.randn(len(real), latent_dim, device=device))
                real_s, fake_s = discriminator(real), discriminator(fake)  # (B,), (B,)
                d_loss = critic_loss(real_s, fake_s) + gp_weight * gradient_penalty(discriminator, real, fake)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            d_real, d_fake = real_s.mean(), fake_s.mean()
            with _frozen(discriminator):
                g_loss = -discriminator(generator(torch.randn(len(real), latent_dim, device=device))).mean()
        else:
            real = next(batches)
            with autocast():
                fake = generator(torch.randn(len(real), latent_dim, device=device))  # (B, C, H, W)
                real_l, fake_l = discriminator(real), discriminator(fake.detach())
                d_loss = discriminator_loss(real_l.float(), fake_l.float(), real_label)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            d_real, d_fake = torch.sigmoid(real_l.float()).mean(), torch.sigmoid(fake_l.float()).mean()
            with _frozen(discriminator), autocast():
                g_loss = g_objective(discriminator(fake).float())
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if step % log_every == 0 or step == steps:
            log.append({"step": step, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                        "d_real": d_real.item(), "d_fake": d_fake.item()})
    # END SOLUTION
    generator.bank.copy_(x[torch.arange(len(generator.bank), device=x.device) % len(x)])  # CHANGED
    recalibrate_batchnorm(generator, device=device)
    generator.eval()
    discriminator.eval()
    return log

# %%
@torch.no_grad()
def sample(generator: nn.Module, z) -> torch.Tensor:
    """Images G(z) as a float32 CPU tensor (N, C, H, W) in [-1, 1], generated in eval mode.

    z: (N, latent_dim) tensor or ndarray. The generator's train/eval mode is restored afterwards.
    """
    was_training = generator.training
    generator.eval()
    dev = next(generator.parameters()).device
    z = torch.as_tensor(z, dtype=torch.float32)
    out = torch.cat([generator(zb.to(dev)).float().cpu() for zb in z.split(512)]) if len(z) else z.new_zeros(0)
    generator.train(was_training)
    return out


def image_grid(images, nrow: int = 8) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (rows*H, nrow*W, C) float array in [0, 1] for plotting."""
    x = (np.asarray(images, dtype=np.float32).clip(-1, 1) + 1) / 2
    n, c, h, w = x.shape
    rows = math.ceil(n / nrow)
    grid = np.ones((rows * h, nrow * w, c), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, nrow)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = x[i].transpose(1, 2, 0)
    return grid

# %% [markdown]
# ## Train
#
# Watch `d_real` and `d_fake`: with the non-saturating loss they settle apart but away from 1 and 0.
# With `--loss minimax`, `g_loss` stays near 0 and `d_fake` near 0 at first: the saturation above.
# With `--loss wgan-gp`, `d_real - d_fake` estimates the Wasserstein distance and should shrink.

# %%
if __name__ == "__main__":
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # for grader/

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "mnist", "cifar10"], default=Config.mode)
    parser.add_argument("--data-dir", default=Config.data_dir)
    parser.add_argument("--class-index", type=int, default=None,
                        help="default: 3 for digits/MNIST, 6 (frog) for CIFAR-10")
    parser.add_argument("--steps", type=int, default=Config.steps)
    parser.add_argument("--loss", choices=["nonsaturating", "minimax", "wgan-gp"], default=Config.loss)
    parser.add_argument("--save", default=None, help="write the generator's state_dict here")
    args = parser.parse_args()
    class_index = args.class_index if args.class_index is not None else (6 if args.mode == "cifar10" else 3)
    cfg = Config(mode=args.mode, data_dir=args.data_dir, class_index=class_index, steps=args.steps, loss=args.loss)
    cfg.steps = cfg.steps or PRESETS[cfg.mode]["steps"]
    cfg.width = cfg.width or PRESETS[cfg.mode]["width"]
    if cfg.loss == "wgan-gp":
        cfg.lr, cfg.real_label = 1e-4, 1.0  # the WGAN-GP paper's settings
    print({f.name: getattr(cfg, f.name) for f in fields(cfg)})

    torch.manual_seed(cfg.seed)
    x = class_images(cfg.mode, cfg.data_dir, cfg.class_index)  # (N, C, H, W) in [-1, 1]
    _, channels, size, _ = x.shape
    print(f"{len(x)} training images of class {cfg.class_index}, shape {x.shape[1:]}, device {device}")
    G = Generator(cfg.latent_dim, channels, size, width=cfg.width)
    D = Discriminator(channels, size, width=cfg.width, norm="layer" if cfg.loss == "wgan-gp" else "batch")
    t0 = time.time()
    log = train_gan(G, D, x, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, device=device, loss=cfg.loss,
                    log_every=cfg.log_every, real_label=cfg.real_label, n_critic=cfg.n_critic, gp_weight=cfg.gp_weight)
    for row in log:
        print(f"step {row['step']:5d}  d_loss {row['d_loss']:8.4f}  g_loss {row['g_loss']:8.4f}  "
              f"d_real {row['d_real']:7.3f}  d_fake {row['d_fake']:7.3f}")
    print(f"trained {cfg.steps} steps in {time.time() - t0:.1f} s")
    imgs = sample(G, torch.randn(64, cfg.latent_dim))
    print(f"samples {tuple(imgs.shape)}, range [{imgs.min():.3f}, {imgs.max():.3f}], per-pixel std over samples "
          f"{imgs.std(0).mean():.3f} (real: {torch.as_tensor(x).std(0).mean():.3f})")
    if args.save:
        torch.save(G.state_dict(), args.save)
