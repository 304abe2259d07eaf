"""Example submission (honest_upsample): an honest solution written independently of the reference:
nearest-neighbour upsampling + 3x3 convolutions instead of transposed convolutions, a discriminator
with dropout, BCEWithLogitsLoss objects, its own training loop and no BatchNorm recalibration trick
(it samples with running statistics). Expected: full or near-full marks."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def _plan(image_size):
    # how many times to double 4 (or 7) to reach image_size: 8 -> (4, 1), 28 -> (7, 2), 32 -> (4, 3)
    n = 0
    while image_size % 2 == 0 and image_size > 7:
        image_size //= 2
        n += 1
    return image_size, n


class Generator(nn.Module):
    def __init__(self, latent_dim=100, channels=3, image_size=32, *, width=16):
        super().__init__()
        self.latent_dim = latent_dim
        self.start, n = _plan(image_size)
        self.ch = width * 2 ** n
        self.fc = nn.Linear(latent_dim, self.ch * self.start * self.start, bias=False)
        self.bn0 = nn.BatchNorm2d(self.ch)
        blocks = []
        c = self.ch
        for _ in range(n):
            blocks.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                        nn.Conv2d(c, c // 2, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(c // 2), nn.ReLU()))
            c //= 2
        self.blocks = nn.ModuleList(blocks)
        self.to_img = nn.Conv2d(c, channels, 3, padding=1)

    def forward(self, z):
        h = self.fc(z).reshape(-1, self.ch, self.start, self.start)
        h = F.relu(self.bn0(h))
        for block in self.blocks:
            h = block(h)
        return torch.tanh(self.to_img(h))


class Discriminator(nn.Module):
    def __init__(self, channels=3, image_size=32, *, width=16, norm="batch"):
        super().__init__()
        assert norm in ("batch", "layer", "none"), norm
        start, n = _plan(image_size)
        layers = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(n):
            layers.append(nn.Conv2d(c, c * 2, 4, stride=2, padding=1))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c * 2))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, c * 2))
            layers.append(nn.LeakyReLU(0.2))
            c *= 2
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(c * start * start, 1)

    def forward(self, x):
        h = self.body(x).flatten(1)
        return self.out(self.drop(h)).view(-1)


bce = nn.BCEWithLogitsLoss()


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    real_target = torch.ones_like(real_logits) * real_label
    fake_target = torch.zeros_like(fake_logits)
    return bce(real_logits, real_target) + bce(fake_logits, fake_target)


def generator_loss_minimax(fake_logits):
    # log(1 - sigmoid(l)) = -softplus(l)
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits):
    return bce(fake_logits, torch.ones_like(fake_logits))


def critic_loss(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(critic, real, fake):
    n = real.size(0)
    alpha = torch.rand(n, 1, 1, 1, device=real.device)
    mixed = alpha * real.detach() + (1 - alpha) * fake.detach()
    mixed.requires_grad_(True)
    out = critic(mixed)
    grads = torch.autograd.grad(outputs=out, inputs=mixed, grad_outputs=torch.ones_like(out), create_graph=True)[0]
    norms = grads.reshape(n, -1).norm(dim=1)
    return ((norms - 1) ** 2).mean()


def train_gan(generator, discriminator, images, *, steps, batch_size, lr, device, loss="nonsaturating",
              log_every=10, real_label=1.0, n_critic=5, gp_weight=10.0, amp=None):
    data = torch.as_tensor(images, dtype=torch.float32).to(device)
    G, D = generator.to(device), discriminator.to(device)
    G.train()
    D.train()
    if loss == "wgan-gp":
        opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.0, 0.9))
        opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.0, 0.9))
    else:
        opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    bs = min(batch_size, len(data))
    history = []

    def real_batch():
        idx = torch.randint(0, len(data), (bs,), device=device)
        return data[idx]

    for step in range(1, steps + 1):
        d_updates = n_critic if loss == "wgan-gp" else 1
        for _ in range(d_updates):
            real = real_batch()
            z = torch.randn(bs, G.latent_dim, device=device)
            fake = G(z).detach()
            r_out, f_out = D(real), D(fake)
            if loss == "wgan-gp":
                d_loss = critic_loss(r_out, f_out) + gp_weight * gradient_penalty(D, real, fake)
            else:
                d_loss = discriminator_loss(r_out, f_out, real_label)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()

        z = torch.randn(bs, G.latent_dim, device=device)
        f_out_g = D(G(z))
        if loss == "wgan-gp":
            g_loss = -f_out_g.mean()
        elif loss == "minimax":
            g_loss = generator_loss_minimax(f_out_g)
        else:
            g_loss = generator_loss_nonsaturating(f_out_g)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

        if step % log_every == 0 or step == steps:
            if loss == "wgan-gp":
                dr, df = r_out.mean().item(), f_out.mean().item()
            else:
                dr, df = torch.sigmoid(r_out).mean().item(), torch.sigmoid(f_out).mean().item()
            history.append({"step": step, "d_loss": d_loss.item(), "g_loss": g_loss.item(), "d_real": dr, "d_fake": df})
    G.eval()
    D.eval()
    return history


@torch.no_grad()
def sample(generator, z):
    generator.eval()
    z = torch.as_tensor(z, dtype=torch.float32).to(next(generator.parameters()).device)
    return generator(z).cpu()


if __name__ == "__main__":
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images[load_digits().target == 3], dtype=torch.float32)[:, None] / 8 - 1
    G, D = Generator(100, 1, 8, width=16), Discriminator(1, 8, width=16)
    for row in train_gan(G, D, x, steps=300, batch_size=64, lr=5e-4, device="cpu", real_label=0.9, log_every=50):
        print(row)
    print(sample(G, torch.randn(4, 100)).shape)
