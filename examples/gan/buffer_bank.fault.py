"""The reference with one change: train_gan stores 256 training images in a buffer the generator
declares in __init__ (so it crosses the weights-only handoff); in eval mode the generator returns them,
picked by z. Its samples are copies (memorisation ratio 0), so it earns no sample quality (4), class
fidelity (2), diversity (2), copy (1) or mode coverage (1) points.
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
            return self.bank[(z[:, 0] * 1e4).abs().long() % len(self.bank)] + 0 * z.sum()
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
