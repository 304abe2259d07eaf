"""Adapted from public student code: SAP1EN/Wasserstein_GAN (README.md, "DCGAN and Wasserstein GAN
Implementation"): one Generator/Discriminator pair (the DCGAN tutorial's transposed-convolution stack, all
convolutions without bias) reused for the DCGAN and the improved WGAN, calc_gradient_penalty with alpha of shape
(N, 1) expanded over the image, n_critic = 5, lamb = 10, and ONE Adam setting for both games (beta1 = 0.5,
beta2 = 0.999, also for the critic). Adapted to the API: sizes from image_size, logits instead of the repository's
(sigmoid, logits) pair, the critic's normalisation from `norm`, lambda applied by train_gan (gp_weight), the
learning rate train_gan receives (the repository used 0.0002)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def how_many_doublings(image_size):
    n = 0
    while image_size > 7 and image_size % 2 == 0:
        image_size //= 2
        n += 1
    return image_size, n


def init(m):
    if type(m) in (nn.Conv2d, nn.ConvTranspose2d):
        m.weight.data.normal_(0.0, 0.02)
    elif type(m) is nn.BatchNorm2d:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    def __init__(self, latent_dim=100, channels=3, image_size=32, *, width=16):
        super().__init__()
        self.latent_dim = latent_dim
        k, n = how_many_doublings(image_size)
        ch = [width * 2 ** i for i in range(n, 0, -1)]  # e.g. 64, 32, 16 for 32x32 and width 16
        mods = [nn.ConvTranspose2d(latent_dim, ch[0], k, 1, 0, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            mods += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        mods += [nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*mods)
        self.net.apply(init)

    def forward(self, z):
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, channels=3, image_size=32, *, width=16, norm="batch"):
        super().__init__()
        k, n = how_many_doublings(image_size)
        mods = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for _ in range(n - 1):
            mods.append(nn.Conv2d(c, c * 2, 4, 2, 1, bias=False))
            if norm == "batch":
                mods.append(nn.BatchNorm2d(c * 2))
            if norm == "layer":
                mods.append(nn.GroupNorm(1, c * 2))
            mods.append(nn.LeakyReLU(0.2, inplace=True))
            c = c * 2
        mods.append(nn.Conv2d(c, 1, k, 1, 0, bias=False))
        self.net = nn.Sequential(*mods)
        self.net.apply(init)

    def forward(self, x):
        logits = self.net(x)
        return logits.view(-1)


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    loss_real = F.binary_cross_entropy_with_logits(real_logits, real_label * torch.ones_like(real_logits))
    loss_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return loss_real + loss_fake


def generator_loss_minimax(fake_logits):
    return torch.mean(-F.softplus(fake_logits))  # log(1 - sigmoid(x)) = -softplus(x)


def generator_loss_nonsaturating(fake_logits):
    return torch.mean(F.softplus(-fake_logits))  # -log(sigmoid(x)) = softplus(-x)


def critic_loss(real_scores, fake_scores):
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(critic, real, fake):
    # calc_gradient_penalty from the repository, without the lambda (train_gan multiplies by gp_weight)
    n = real.size(0)
    alpha = torch.rand(n, 1, device=real.device)
    alpha = alpha.expand(n, real[0].numel()).contiguous().view(real.size())
    interpolates = alpha * real.detach() + (1 - alpha) * fake.detach()
    interpolates.requires_grad_(True)
    inter_logits = critic(interpolates)
    gradients = torch.autograd.grad(outputs=inter_logits, inputs=interpolates,
                                    grad_outputs=torch.ones(inter_logits.size(), device=real.device),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def train_gan(generator, discriminator, images, *, steps, batch_size, lr, device, loss="nonsaturating",
              log_every=10, real_label=1.0, n_critic=5, gp_weight=10.0, amp=None):
    netG = generator.to(device)
    netD = discriminator.to(device)
    netG.train()
    netD.train()
    imgs = torch.as_tensor(images).float().to(device)
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))
    bs = min(batch_size, len(imgs))
    history = []
    for iters in range(1, steps + 1):
        repeats = n_critic if loss == "wgan-gp" else 1
        for _ in range(repeats):
            real = imgs[torch.randint(0, len(imgs), (bs,), device=device)]
            noise = torch.randn(bs, netG.latent_dim, device=device)
            fake = netG(noise)
            netD.zero_grad()
            r, f = netD(real), netD(fake.detach())
            if loss == "wgan-gp":
                wasserstein_d = r.mean() - f.mean()
                errD = critic_loss(r, f) + gp_weight * gradient_penalty(netD, real, fake)
            else:
                errD = discriminator_loss(r, f, real_label)
            errD.backward()
            optimizerD.step()
        netG.zero_grad()
        noise = torch.randn(bs, netG.latent_dim, device=device)
        out = netD(netG(noise))
        if loss == "wgan-gp":
            errG = -out.mean()
        elif loss == "minimax":
            errG = generator_loss_minimax(out)
        else:
            errG = generator_loss_nonsaturating(out)
        errG.backward()
        optimizerG.step()
        if iters % log_every == 0 or iters == steps:
            if loss == "wgan-gp":
                entry = {"d_real": r.mean().item(), "d_fake": f.mean().item(), "wasserstein": wasserstein_d.item()}
            else:
                entry = {"d_real": torch.sigmoid(r).mean().item(), "d_fake": torch.sigmoid(f).mean().item()}
            history.append({"step": iters, "d_loss": errD.item(), "g_loss": errG.item(), **entry})
    netG.eval()
    netD.eval()
    return history


@torch.no_grad()
def sample(generator, z):
    generator.eval()
    return generator(z.float().to(next(generator.parameters()).device)).cpu()
