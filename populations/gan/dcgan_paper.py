"""DCGAN as the paper describes it: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks" (ICLR 2016), section 3 (architecture guidelines) and section 4
(training details): the generator projects z with one matrix multiply, reshapes it and upsamples with
fractionally-strided (transposed) 5x5 convolutions, BatchNorm and ReLU, tanh at the output; the discriminator
downsamples with strided convolutions, LeakyReLU(0.2), BatchNorm except at its input, and one linear output;
all weights from N(0, 0.02); Adam with beta1 = 0.5. The learning rate is the one train_gan receives (the paper's
2e-4 is what its own runs used). WGAN-GP (Gulrajani et al. 2017, Algorithm 1) on the same networks."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def levels(image_size):
    """image_size = start * 2**n with start 4 or 7 (8 -> 4, 1; 28 -> 7, 2; 32 -> 4, 3)."""
    n = 0
    while image_size % 2 == 0 and image_size > 7:
        image_size //= 2
        n += 1
    return image_size, n


def init_weights(m):
    # section 4: "All weights were initialized from a zero-centered Normal distribution with standard deviation 0.02"
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, latent_dim=100, channels=3, image_size=32, *, width=16):
        super().__init__()
        self.latent_dim = latent_dim
        self.start, n = levels(image_size)
        self.c0 = width * 2 ** n
        self.project = nn.Linear(latent_dim, self.c0 * self.start * self.start, bias=False)
        self.bn0 = nn.BatchNorm2d(self.c0)
        ups = []
        c = self.c0
        for i in range(n):
            last = i == n - 1
            out = channels if last else c // 2
            ups.append(nn.ConvTranspose2d(c, out, 5, stride=2, padding=2, output_padding=1, bias=last))
            if not last:  # no BatchNorm at the generator's output layer
                ups += [nn.BatchNorm2d(out), nn.ReLU()]
            c = out
        self.ups = nn.Sequential(*ups)
        self.apply(init_weights)

    def forward(self, z):
        h = self.project(z).view(-1, self.c0, self.start, self.start)
        return torch.tanh(self.ups(F.relu(self.bn0(h))))


class Discriminator(nn.Module):
    def __init__(self, channels=3, image_size=32, *, width=16, norm="batch"):
        super().__init__()
        if norm not in ("batch", "layer", "none"):
            raise ValueError(f"unknown norm {norm}")
        start, n = levels(image_size)
        layers = []
        c_in, c = channels, width
        for i in range(n):
            layers.append(nn.Conv2d(c_in, c, 5, stride=2, padding=2, bias=i == 0 or norm == "none"))
            if i > 0 and norm == "batch":  # not at the input layer (section 3)
                layers.append(nn.BatchNorm2d(c))
            elif i > 0 and norm == "layer":
                layers.append(nn.GroupNorm(1, c))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c = c, c * 2
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * start * start, 1)
        self.apply(init_weights)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1)).squeeze(1)


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss_minimax(fake_logits):
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss_nonsaturating(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def critic_loss(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(critic, real, fake):
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    scores = critic(x_hat)
    grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def train_gan(generator, discriminator, images, *, steps, batch_size, lr, device, loss="nonsaturating",
              log_every=10, real_label=1.0, n_critic=5, gp_weight=10.0, amp=None):
    x = torch.as_tensor(images, dtype=torch.float32).to(device)
    G, D = generator.to(device).train(), discriminator.to(device).train()
    betas = (0.0, 0.9) if loss == "wgan-gp" else (0.5, 0.999)  # WGAN-GP: Gulrajani et al. Algorithm 1
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    b = min(batch_size, len(x))
    log = []
    for step in range(1, steps + 1):
        for _ in range(n_critic if loss == "wgan-gp" else 1):
            real = x[torch.randint(len(x), (b,), device=device)]
            fake = G(torch.randn(b, G.latent_dim, device=device)).detach()
            out_real, out_fake = D(real), D(fake)
            if loss == "wgan-gp":
                d_loss = critic_loss(out_real, out_fake) + gp_weight * gradient_penalty(D, real, fake)
            else:
                d_loss = discriminator_loss(out_real, out_fake, real_label)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        out = D(G(torch.randn(b, G.latent_dim, device=device)))
        if loss == "wgan-gp":
            g_loss = -out.mean()
        elif loss == "minimax":
            g_loss = generator_loss_minimax(out)
        else:
            g_loss = generator_loss_nonsaturating(out)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if step % log_every == 0 or step == steps:
            to_p = (lambda t: t) if loss == "wgan-gp" else torch.sigmoid
            log.append({"step": step, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                        "d_real": to_p(out_real).mean().item(), "d_fake": to_p(out_fake).mean().item()})
    G.eval()
    D.eval()
    return log


@torch.no_grad()
def sample(generator, z):
    generator.eval()
    z = torch.as_tensor(z, dtype=torch.float32).to(next(generator.parameters()).device)
    return generator(z).cpu()
