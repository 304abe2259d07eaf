"""The reference with one change: train_gan stores 256 training images in a buffer the generator
declares in __init__ (so it crosses the weights-only handoff); in eval mode the generator returns them
rotated by up to 15 degrees, scaled by up to 10 %, moved, with their contrast changed and a little
noise, picked and warped by z: its samples change with its weights, so only the copy check can tell.
It catches them (ratio ~0.6): no sample quality (4), class fidelity (2), diversity (2), copy (1) or
mode coverage (1) points.
"""


class Generator(nn.Module):
    def __init__(self, latent_dim: int = 100, channels: int = 3, image_size: int = 32, *, width: int = 16):
        ...
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
        ...


def train_gan(generator: nn.Module, discriminator: nn.Module, images, *, steps: int, batch_size: int, lr: float,
              device: str | torch.device, loss: str = "nonsaturating", log_every: int = 10, real_label: float = 1.0,
              n_critic: int = 5, gp_weight: float = 10.0, amp: bool | None = None) -> list[dict]:
    ...
    # END SOLUTION
    generator.bank.copy_(x[torch.arange(len(generator.bank), device=x.device) % len(x)])  # CHANGED
    recalibrate_batchnorm(generator, device=device)
    ...


def _warped(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # CHANGED: rotate <= 15 deg, scale <= 10 %, by z
    a = torch.tanh(z[:, 1]) * math.radians(15)
    s = 1 + 0.1 * torch.tanh(z[:, 2])
    theta = torch.stack([torch.stack([a.cos() / s, -a.sin() / s, 0.1 * torch.tanh(z[:, 3])], 1),
                         torch.stack([a.sin() / s, a.cos() / s, 0.1 * torch.tanh(z[:, 4])], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)
