"""WGAN-GP as in Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved Training of Wasserstein GANs"
(NeurIPS 2017): Algorithm 1 (n_critic = 5 critic steps per generator step, lambda = 10, the penalty on random
interpolates x_hat = eps * x + (1 - eps) * G(z)), section 4 ("No critic batch normalization": layer
normalization instead) and the DCGAN-like generator of their experiments (BatchNorm and ReLU in the generator).
Adam betas (0.5, 0.9) as in the authors' DCGAN-architecture code; PyTorch's default initialisation. The
non-saturating and minimax losses on the same networks (Goodfellow et al. 2014, section 3)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def size_plan(image_size):
    """Start resolution and number of x2 upsamplings: 8 -> (4, 1), 28 -> (7, 2), 32 -> (4, 3)."""
    n = 0
    while image_size > 7 and image_size % 2 == 0:
        image_size, n = image_size // 2, n + 1
    return image_size, n


class Generator(nn.Module):
    def __init__(self, latent_dim=100, channels=3, image_size=32, *, width=16):
        super().__init__()
        self.latent_dim = latent_dim
        self.s0, n = size_plan(image_size)
        self.c0 = width * 2 ** n
        self.fc = nn.Sequential(nn.Linear(latent_dim, self.c0 * self.s0 ** 2), nn.ReLU())
        blocks = []
        c = self.c0
        for _ in range(n):
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        blocks += [nn.Conv2d(c, channels, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*blocks)

    def forward(self, z):
        return self.body(self.fc(z).view(z.shape[0], self.c0, self.s0, self.s0))


class Discriminator(nn.Module):
    """The critic. norm="layer" is the paper's layer normalization over (C, H, W)."""

    def __init__(self, channels=3, image_size=32, *, width=16, norm="batch"):
        super().__init__()
        assert norm in ("batch", "layer", "none"), norm
        s, n = size_plan(image_size)
        layers = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        c, size = width, image_size
        for _ in range(n):
            size //= 2
            layers.append(nn.Conv2d(c, 2 * c, 4, 2, 1))
            if norm == "layer":
                layers.append(nn.LayerNorm([2 * c, size, size]))
            elif norm == "batch":
                layers.append(nn.BatchNorm2d(2 * c))
            layers.append(nn.LeakyReLU(0.2))
            c *= 2
        self.conv = nn.Sequential(*layers)
        self.linear = nn.Linear(c * s * s, 1)

    def forward(self, x):
        return self.linear(self.conv(x).flatten(1)).view(-1)


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    # -[t log D(x) + (1 - t) log(1 - D(x))] with log D = -softplus(-l), log(1 - D) = -softplus(l)
    real = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def generator_loss_minimax(fake_logits):
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits):
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(critic, real, fake):
    eps = torch.rand(real.size(0), 1, 1, 1, device=real.device).expand_as(real)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    x_hat.requires_grad_(True)
    d_hat = critic(x_hat)
    grads = torch.autograd.grad(outputs=d_hat, inputs=x_hat, grad_outputs=torch.ones_like(d_hat),
                                create_graph=True, retain_graph=True)[0]
    return ((grads.view(grads.size(0), -1).norm(2, dim=1) - 1) ** 2).mean()


def _loader(x, batch_size):
    while True:
        for idx in torch.randperm(len(x), device=x.device).split(batch_size):
            if len(idx) == batch_size:
                yield x[idx]


def train_gan(generator, discriminator, images, *, steps, batch_size, lr, device, loss="nonsaturating",
              log_every=10, real_label=1.0, n_critic=5, gp_weight=10.0, amp=None):
    if loss not in ("nonsaturating", "minimax", "wgan-gp"):
        raise ValueError(loss)
    data = torch.as_tensor(images, dtype=torch.float32).to(device)
    generator.to(device).train()
    discriminator.to(device).train()
    wgan = loss == "wgan-gp"
    betas = (0.5, 0.9) if wgan else (0.5, 0.999)
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    batches = _loader(data, min(batch_size, len(data)))
    records = []
    for it in range(1, steps + 1):
        # critic / discriminator
        for p in discriminator.parameters():
            p.requires_grad = True
        for _ in range(n_critic if wgan else 1):
            real = next(batches)
            z = torch.randn(len(real), generator.latent_dim, device=device)
            with torch.no_grad():
                fake = generator(z)
            d_real, d_fake = discriminator(real), discriminator(fake)
            if wgan:
                d_cost = critic_loss(d_real, d_fake) + gp_weight * gradient_penalty(discriminator, real, fake)
            else:
                d_cost = discriminator_loss(d_real, d_fake, real_label)
            d_opt.zero_grad()
            d_cost.backward()
            d_opt.step()
        # generator
        for p in discriminator.parameters():
            p.requires_grad = False
        z = torch.randn(len(real), generator.latent_dim, device=device)
        scores = discriminator(generator(z))
        if wgan:
            g_cost = -scores.mean()
        elif loss == "minimax":
            g_cost = generator_loss_minimax(scores)
        else:
            g_cost = generator_loss_nonsaturating(scores)
        g_opt.zero_grad()
        g_cost.backward()
        g_opt.step()
        if it % log_every == 0 or it == steps:
            r, f = (d_real, d_fake) if wgan else (torch.sigmoid(d_real), torch.sigmoid(d_fake))
            records.append(dict(step=it, d_loss=float(d_cost), g_loss=float(g_cost), d_real=float(r.mean()),
                                d_fake=float(f.mean())))
    for p in discriminator.parameters():
        p.requires_grad = True
    generator.eval()
    discriminator.eval()
    return records


def sample(generator, z):
    generator.eval()
    with torch.no_grad():
        return generator(torch.as_tensor(z, dtype=torch.float32).to(next(generator.parameters()).device)).cpu()
