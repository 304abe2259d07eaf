"""The PyTorch DCGAN tutorial's design (Nathan Inkawhich, pytorch.org/tutorials/beginner/dcgan_faces_tutorial):
nn.Sequential generator of ConvTranspose2d(4, 2, 1, bias=False) + BatchNorm2d + ReLU(True) from a 1x1 z up to
the image, ending in ConvTranspose2d and Tanh; discriminator of Conv2d(4, 2, 1, bias=False) + BatchNorm2d +
LeakyReLU(0.2, inplace=True) without BatchNorm on the first layer, ending in a Conv2d to one value; the
tutorial's weights_init (conv N(0, 0.02), BatchNorm N(1, 0.02)); its training loop (D on a real batch, then on a
fake batch, errD = errD_real + errD_fake; then G on the same fake batch, labels all real) with Adam beta1 = 0.5.
Adapted to the API: sizes from image_size, logits (the tutorial's Sigmoid + BCELoss become BCEWithLogitsLoss),
the learning rate train_gan receives, the WGAN-GP part written from Gulrajani et al. 2017."""
import torch
import torch.nn as nn

criterion = nn.BCEWithLogitsLoss()


def weights_init(m):
    # custom weights initialization called on netG and netD (as in the tutorial)
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def start_and_doublings(image_size):
    n = 0
    while image_size % 2 == 0 and image_size > 7:
        image_size = image_size // 2
        n += 1
    return image_size, n


class Generator(nn.Module):
    def __init__(self, latent_dim=100, channels=3, image_size=32, *, width=16):
        super().__init__()
        self.latent_dim = latent_dim
        nz, ngf, nc = latent_dim, width, channels
        start, n = start_and_doublings(image_size)
        mult = 2 ** n
        layers = [nn.ConvTranspose2d(nz, ngf * mult, start, 1, 0, bias=False), nn.BatchNorm2d(ngf * mult),
                  nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf * mult, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, input):
        return self.main(input.view(input.size(0), -1, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, channels=3, image_size=32, *, width=16, norm="batch"):
        super().__init__()
        ndf, nc = width, channels
        start, n = start_and_doublings(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for _ in range(n - 1):
            layers.append(nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(ndf * mult * 2))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, ndf * mult * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            mult *= 2
        layers.append(nn.Conv2d(ndf * mult, 1, start, 1, 0, bias=False))  # no Sigmoid: we return logits
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, input):
        return self.main(input).view(-1)


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    errD_real = criterion(real_logits, torch.full_like(real_logits, real_label))
    errD_fake = criterion(fake_logits, torch.zeros_like(fake_logits))
    return errD_real + errD_fake


def generator_loss_minimax(fake_logits):
    return -criterion(fake_logits, torch.zeros_like(fake_logits))


def generator_loss_nonsaturating(fake_logits):
    return criterion(fake_logits, torch.ones_like(fake_logits))


def critic_loss(real_scores, fake_scores):
    return torch.mean(fake_scores) - torch.mean(real_scores)


def gradient_penalty(critic, real, fake):
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = critic(interpolates)
    gradients = torch.autograd.grad(outputs=out, inputs=interpolates, grad_outputs=torch.ones_like(out),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def train_gan(generator, discriminator, images, *, steps, batch_size, lr, device, loss="nonsaturating",
              log_every=10, real_label=1.0, n_critic=5, gp_weight=10.0, amp=None):
    netG, netD = generator.to(device), discriminator.to(device)
    netG.train()
    netD.train()
    data = torch.as_tensor(images, dtype=torch.float32).to(device)
    beta1 = 0.0 if loss == "wgan-gp" else 0.5
    beta2 = 0.9 if loss == "wgan-gp" else 0.999
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(beta1, beta2))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(beta1, beta2))
    b_size = min(batch_size, data.size(0))
    G_losses, D_losses, log = [], [], []
    for i in range(1, steps + 1):
        ############################
        # (1) Update D network
        ###########################
        for _ in range(n_critic if loss == "wgan-gp" else 1):
            real_cpu = data[torch.randperm(data.size(0), device=device)[:b_size]]
            netD.zero_grad()
            noise = torch.randn(b_size, netG.latent_dim, device=device)
            fake = netG(noise)
            output_real = netD(real_cpu)
            output_fake = netD(fake.detach())
            if loss == "wgan-gp":
                errD = critic_loss(output_real, output_fake) + gp_weight * gradient_penalty(netD, real_cpu,
                                                                                            fake.detach())
            else:
                errD = discriminator_loss(output_real, output_fake, real_label)
            errD.backward()
            optimizerD.step()
        ############################
        # (2) Update G network
        ###########################
        netG.zero_grad()
        output = netD(fake)  # the same fake batch, through the updated D (as in the tutorial)
        if loss == "wgan-gp":
            errG = -output.mean()
        elif loss == "minimax":
            errG = generator_loss_minimax(output)
        else:
            errG = generator_loss_nonsaturating(output)
        errG.backward()
        optimizerG.step()
        G_losses.append(errG.item())
        D_losses.append(errD.item())
        if i % log_every == 0 or i == steps:
            if loss == "wgan-gp":
                D_x, D_G_z = output_real.mean().item(), output_fake.mean().item()
            else:
                D_x, D_G_z = torch.sigmoid(output_real).mean().item(), torch.sigmoid(output_fake).mean().item()
            log.append({"step": i, "d_loss": errD.item(), "g_loss": errG.item(), "d_real": D_x, "d_fake": D_G_z})
    netG.eval()
    netD.eval()
    return log


def sample(generator, z):
    with torch.no_grad():
        generator.eval()
        return generator(torch.as_tensor(z).float().to(next(generator.parameters()).device)).cpu()
