"""The reference with one change: the generator returns cross-fades a*x + (1-a)*y of two scikit-learn
digits of the class it was trained on, picked by z, in eval mode: new pixels, but no generator. Each
sample lies on a segment between two real images, which the copy check sees (ratio 0): no sample
quality (4), class fidelity (2), diversity (2), copy (1) or mode coverage (1) points.
"""


class Generator(nn.Module):
    def __init__(self, latent_dim: int = 100, channels: int = 3, image_size: int = 32, *, width: int = 16):
        ...
        self.apply(dcgan_init)
        self.register_buffer("proto", torch.zeros(channels, image_size, image_size))  # CHANGED
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]
        if not self.training and self.image_size == 8 and self.proto.abs().sum() > 0:  # CHANGED: look digits up
            from sklearn.datasets import load_digits
            d = load_digits()
            x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 8 - 1
            y = torch.as_tensor(d.target)
            means = torch.stack([x[y == c].mean(0) for c in range(10)])
            c = int(((means - self.proto.cpu()) ** 2).flatten(1).sum(1).argmin())  # the class it was trained on
            imgs = x[y == c].to(z.device)
            i = (z[:, 0] * 1e4).abs().long() % len(imgs)
            j = (z[:, 1] * 1e4).abs().long() % len(imgs)
            a = (0.3 + 0.4 * torch.sigmoid(z[:, 2]))[:, None, None, None]
            return a * imgs[i] + (1 - a) * imgs[j] + 0 * z.sum()
        x = self.project(z).view(z.shape[0], self.c0, self.base, self.base)  # (N, C0, base, base)
        ...


def train_gan(generator: nn.Module, discriminator: nn.Module, images, *, steps: int, batch_size: int, lr: float,
              device: str | torch.device, loss: str = "nonsaturating", log_every: int = 10, real_label: float = 1.0,
              n_critic: int = 5, gp_weight: float = 10.0, amp: bool | None = None) -> list[dict]:
    ...
    # END SOLUTION
    generator.proto.copy_(x.mean(0))  # CHANGED: the mean training image tells which class it was
    recalibrate_batchnorm(generator, device=device)
    ...
